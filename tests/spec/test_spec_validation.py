"""Spec validation: every bad input is a SpecError naming its JSON path; fuzzed too."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagforge.errors import SpecError
from dagforge.spec import SpecWarning, WorkflowSpec, load_spec, spec_json_schema

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"
GLASS = json.loads((SPECS / "filling-a-glass-of-water.json").read_text())
SENTIMENT = json.loads((SPECS / "text-sentiment-analysis.json").read_text())


def node(node_id, primitive="serial", **props):
    base = {
        "label": node_id,
        "primitive": primitive,
        "condition": {},
        "next": "",
        "branch_1": "",
        "branch_2": "",
        "arguments": {},
        "outputs_from": [],
    }
    base.update(props)
    return {"node_id": node_id, "properties": base}


def spec(*nodes):
    return {"name": "t", "dag": list(nodes)}


def test_both_seed_specs_are_valid_verbatim():
    glass = load_spec(GLASS)
    assert glass.start == "check_if_full"
    assert glass.node("check_if_full").properties.condition.target == "1000"
    sentiment = load_spec(SPECS / "text-sentiment-analysis.json")
    assert [n.node_id for n in sentiment.dag] == [
        "fetch_sentences",
        "calculate_sentiment",
        "create_sentiment_report",
    ]


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        (spec(node("a", next="ghost")), "dag[0].properties.next", "unknown node_id 'ghost'"),
        (
            spec(
                node(
                    "a",
                    "condition",
                    condition={"source": "x", "operator": "equals", "target": 1},
                    branch_1="a",
                    branch_2="zz",
                )
            ),
            "dag[0].properties.branch_2",
            "unknown node_id 'zz'",
        ),
        (
            spec(
                node(
                    "a",
                    "condition",
                    condition={"source": "x", "operator": "equals", "target": 1},
                    branch_1="a",
                )
            ),
            "dag[0].properties.branch_2",
            "both branches",
        ),
        (
            spec(node("a", "condition", branch_1="a", branch_2="a")),
            "dag[0].properties.condition",
            "source, operator, target",
        ),
        (
            spec(
                node(
                    "a",
                    "condition",
                    condition={"source": "x", "operator": "between", "target": 1},
                    branch_1="a",
                    branch_2="a",
                )
            ),
            "dag[0].properties.condition.operator",
            "equals",
        ),
        (
            spec(node("a", "parallel", next="b"), node("b")),
            "dag[0].properties.next",
            "list of node_ids",
        ),
        (spec(node("a", next=["b"]), node("b")), "dag[0].properties.next", "not a list"),
        (spec(node("a"), node("a")), "dag[1].node_id", "duplicate node_id 'a'"),
        (
            spec(node("a", next="b"), node("b", outputs_from=["c"]), node("c")),
            "dag[1].properties.outputs_from[0]",
            "'c' can never run before 'b'",
        ),
        (
            spec(node("a", outputs_from=["nope"])),
            "dag[0].properties.outputs_from[0]",
            "unknown node_id 'nope'",
        ),
        ({"name": "t", "dag": []}, "dag", "at least one node"),
        ({"name": "t"}, "dag", "Field required"),
        (
            {"name": "t", "dag": [{"node_id": "a", "properties": {"primitive": "loop"}}]},
            "dag[0].properties.primitive",
            "serial",
        ),
        ({"name": "t", "dag": [node("a")], "extra": 1}, "extra", "not permitted"),
    ],
)
def test_bad_specs_name_the_json_path(document, path, fragment):
    with pytest.raises(SpecError) as err:
        load_spec(document)
    paths = [p for p, _ in err.value.errors]
    assert path in paths, err.value.errors
    message = dict(err.value.errors)[path]
    assert fragment in message or fragment in str(err.value)
    assert path in str(err.value)


def test_unreachable_nodes_are_a_warning_not_an_error():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_spec(spec(node("a"), node("island")))
    assert any(issubclass(w.category, SpecWarning) and "'island'" in str(w.message) for w in caught)


def test_json_text_paths_and_files_are_accepted_and_bad_json_is_named(tmp_path):
    assert load_spec(json.dumps(GLASS)).name == "filling-a-glass-of-water"
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec("{not json")
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(tmp_path / "missing.json")
    with pytest.raises(SpecError, match="JSON object"):
        load_spec(42)


def test_schema_describes_the_document():
    schema = spec_json_schema()
    assert set(schema["required"]) >= {"name", "dag"}
    assert "WorkflowSpec" in json.dumps(schema) or schema["title"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_random_json_documents(document):
    _only_spec_errors(document)


KEYS = [
    "name",
    "dag",
    "node_id",
    "properties",
    "primitive",
    "next",
    "branch_1",
    "branch_2",
    "condition",
    "source",
    "operator",
    "target",
    "outputs_from",
    "arguments",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([GLASS, SENTIMENT]),
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(KEYS), json_values), min_size=1, max_size=4
    ),
)
def test_fuzz_mutated_seed_specs(base, mutations):
    document = copy.deepcopy(base)
    for index, key, value in mutations:
        entries = document.get("dag") if isinstance(document, dict) else None
        target = document
        if isinstance(entries, list) and entries:
            entry = entries[index % len(entries)]
            target = entry.get("properties", entry) if isinstance(entry, dict) else document
        if isinstance(target, dict):
            target[key] = value
    _only_spec_errors(document)


def _only_spec_errors(document):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        try:
            result = load_spec(document)
        except SpecError as exc:
            assert exc.errors and all(isinstance(p, str) for p, _ in exc.errors)
            return
    assert isinstance(result, WorkflowSpec)
