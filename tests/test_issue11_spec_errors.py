"""Issue 11: spec validation reports every problem at once, shape and references alike."""

from __future__ import annotations

import pytest

from dagforge.errors import SpecError
from dagforge.spec.validate import load_spec


def spec_with(**condition_props):
    return {
        "name": "w",
        "dag": [
            {
                "node_id": "check",
                "properties": {
                    "label": "check",
                    "primitive": "condition",
                    "condition": {"source": "x", "operator": "bigger_than", "target": 1},
                    "next": "",
                    "branch_1": "yes",
                    "branch_2": "branch_nowhere",
                    **condition_props,
                },
            },
            {
                "node_id": "yes",
                "properties": {
                    "label": "yes",
                    "primitive": "serial",
                    "condition": {},
                    "next": "also_missing",
                    "branch_1": "",
                    "branch_2": "",
                },
            },
        ],
    }


def test_unknown_operator_and_unknown_branch_are_both_reported():
    with pytest.raises(SpecError) as err:
        load_spec(spec_with(), warn=False)
    paths = [p for p, _ in err.value.errors]
    assert "dag[0].properties.condition.operator" in paths
    assert "dag[0].properties.branch_2" in paths
    assert "dag[1].properties.next" in paths
    messages = dict(err.value.errors)
    assert "bigger_than" in messages["dag[0].properties.condition.operator"]
    assert "branch_nowhere" in messages["dag[0].properties.branch_2"]
    text = str(err.value)
    assert "bigger_than" in text and "branch_nowhere" in text and "also_missing" in text


def test_each_path_is_reported_once_and_in_document_order():
    with pytest.raises(SpecError) as err:
        load_spec(spec_with(), warn=False)
    paths = [p for p, _ in err.value.errors]
    assert len(paths) == len(set(paths))
    assert paths.index("dag[0].properties.branch_2") < paths.index("dag[1].properties.next")


@pytest.mark.parametrize("junk", [None, 5, "x", [1, {"properties": 3}], {"dag": [None, 7]}])
def test_reference_checks_never_crash_on_junk(junk):
    with pytest.raises(SpecError):
        load_spec({"name": "w", "dag": junk} if not isinstance(junk, dict) else junk, warn=False)
