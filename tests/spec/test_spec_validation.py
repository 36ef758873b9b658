"""Spec validation: every bad input is a SpecError naming its JSON path; fuzzed too."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_helpers import node

from dagforge.errors import SpecError
from dagforge.spec import SpecPlanner, SpecWarning, WorkflowSpec, load_spec, spec_json_schema

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"
GLASS = json.loads((SPECS / "filling-a-glass-of-water.json").read_text())
SENTIMENT = json.loads((SPECS / "text-sentiment-analysis.json").read_text())
SCHEMA = spec_json_schema()
SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def spec(*nodes):
    return {"name": "t", "dag": list(nodes)}


COND = {"source": "x", "operator": "equals", "target": 1}


def test_both_seed_specs_are_valid_verbatim():
    glass = load_spec(GLASS)
    assert glass.start == "check_if_full"
    check = glass.node("check_if_full").properties
    assert check.condition.target == "1000" and check.next == ""
    assert glass.node("add_water").properties.condition is None  # {} is "no condition"
    assert glass.max_iterations == 1000 and glass.warnings == []
    sentiment = load_spec(SPECS / "text-sentiment-analysis.json")
    assert sentiment.node_ids == [
        "fetch_sentences",
        "calculate_sentiment",
        "create_sentiment_report",
    ]
    assert sentiment.index("create_sentiment_report") == 2


def test_specs_round_trip_to_dagit_json():
    for document in (GLASS, SENTIMENT):
        dumped = load_spec(document).to_json_dict()
        assert dumped["dag"] == document["dag"]  # {} and "" written back as DAGit does
        assert load_spec(dumped) == load_spec(document)


def test_blank_fields_are_accepted_as_dagit_writes_them():
    doc = spec(
        {
            "node_id": "a",
            "properties": {
                "primitive": "serial",
                "condition": "",
                "arguments": "",
                "outputs_from": "",
            },
        }
    )
    entry = load_spec(doc).dag[0].properties
    assert (entry.condition, entry.arguments, entry.outputs_from, entry.next) == (None, {}, [], "")
    assert SCHEMA_VALIDATOR.is_valid(doc)


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        # unknown next / branch targets
        (spec(node("a", next="ghost")), "dag[0].properties.next", "unknown node_id 'ghost'"),
        (
            spec(node("a", next="b"), node("b", next="aa")),
            "dag[1].properties.next",
            "did you mean 'a'?",
        ),
        (
            spec(node("a", "parallel", next=["a", "zz"])),
            "dag[0].properties.next[1]",
            "unknown node_id 'zz'",
        ),
        (
            spec(node("a", "condition", condition=COND, branch_1="a", branch_2="zz")),
            "dag[0].properties.branch_2",
            "unknown node_id 'zz'",
        ),
        (
            spec(node("a"), node("b"), node("c", "condition", condition=COND, branch_1="x")),
            "dag[2].properties.branch_1",
            "unknown node_id 'x'",
        ),
        # a condition without both branches, without a condition, with an unknown operator
        (
            spec(node("a", "condition", condition=COND, branch_1="a")),
            "dag[0].properties.branch_2",
            "both branches",
        ),
        (
            spec(node("a", "condition", condition=COND, branch_2="a")),
            "dag[0].properties.branch_1",
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
            "unknown operator 'between'; expected one of equals, greater_than",
        ),
        (
            spec(
                node(
                    "a",
                    "condition",
                    condition={"source": "x", "operator": "equals"},
                    branch_1="a",
                    branch_2="a",
                )
            ),
            "dag[0].properties.condition.target",
            "required field is missing",
        ),
        (
            spec(node("a", "condition", condition={**COND, "target": None})),
            "dag[0].properties.condition.target",
            "must be a string, a number or a boolean, got null",
        ),
        (
            spec(node("a", "condition", condition={**COND, "source": ""})),
            "dag[0].properties.condition.source",
            "must not be empty",
        ),
        (
            spec(node("a", "condition", condition=COND, next="a", branch_1="a", branch_2="a")),
            "dag[0].properties.next",
            "continues at branch_1 or branch_2",
        ),
        (spec(node("a", condition=COND)), "dag[0].properties.condition", "only a condition node"),
        (spec(node("a", branch_1="a")), "dag[0].properties.branch_1", "only condition nodes"),
        # parallel with a non-list next; a non-parallel node with a list
        (
            spec(node("a", "parallel", next="b"), node("b")),
            "dag[0].properties.next",
            "a parallel node takes a list of node_ids",
        ),
        (spec(node("a", "parallel", next=[])), "dag[0].properties.next", "at least one"),
        (
            spec(node("a", "parallel", next=["b", "b"]), node("b")),
            "dag[0].properties.next[1]",
            "listed twice",
        ),
        (spec(node("a", next=["b"]), node("b")), "dag[0].properties.next", "not a list"),
        (
            spec(node("a", "condition", condition=COND, next=["a"], branch_1="a", branch_2="a")),
            "dag[0].properties.next",
            "not a list",
        ),
        (spec(node("a", next=5)), "dag[0].properties.next", "must be a node_id string"),
        (spec(node("a", next=["b", 3])), "dag[0].properties.next[1]", "must be a string"),
        # duplicate node_id, bad node_ids
        (spec(node("a"), node("a")), "dag[1].node_id", "duplicate node_id 'a' (first at dag[0])"),
        (spec(node("a#2")), "dag[0].node_id", "must not contain '#'"),
        (spec(node("")), "dag[0].node_id", "non-empty"),
        # outputs_from naming a node that cannot have run before it
        (
            spec(node("a", next="b"), node("b", outputs_from=["c"]), node("c")),
            "dag[1].properties.outputs_from[0]",
            "'c' can never run before 'b'",
        ),
        (
            spec(node("a", next="b"), node("b", outputs_from=["a", "b"])),
            "dag[1].properties.outputs_from[1]",
            "'b' can never run before 'b'",  # itself, outside a loop
        ),
        (
            spec(node("a", next="b"), node("b", outputs_from=["island"]), node("island", next="b")),
            "dag[1].properties.outputs_from[0]",
            "'island' can never run before 'b'",  # it leads to b, but never runs
        ),
        (
            spec(node("a", outputs_from=["nope"])),
            "dag[0].properties.outputs_from[0]",
            "unknown node_id 'nope'",
        ),
        (spec(node("a", outputs_from=[1])), "dag[0].properties.outputs_from[0]", "got number"),
        # the document's shape
        ({"name": "t", "dag": []}, "dag", "at least one node"),
        ({"name": "t"}, "dag", "required field is missing"),
        ({"dag": [node("a")]}, "name", "required field is missing"),
        ({"name": "", "dag": [node("a")]}, "name", "must not be empty"),
        ({"name": 7, "dag": [node("a")]}, "name", "must be a string, got number"),
        ({"name": "t", "dag": {"a": 1}}, "dag", "must be a list, got object"),
        ({"name": "t", "dag": [5]}, "dag[0]", "must be a JSON object, got number"),
        ({"name": "t", "dag": [{"node_id": "a"}]}, "dag[0].properties", "required field"),
        (
            {"name": "t", "dag": [{"node_id": "a", "properties": {"primitive": "loop"}}]},
            "dag[0].properties.primitive",
            "unknown primitive 'loop'; expected 'serial', 'parallel' or 'condition'",
        ),
        (
            {"name": "t", "dag": [{"node_id": "a", "properties": {"next": ""}}]},
            "dag[0].properties.primitive",
            "required field is missing",
        ),
        (
            {"name": "t", "dag": [node("a")], "extra": 1},
            "extra",
            "unknown field 'extra'; allowed fields: name, dag, max_iterations",
        ),
        (
            spec({"node_id": "a", "properties": {"primitive": "serial", "nxt": "b"}}),
            "dag[0].properties.nxt",
            "unknown field 'nxt'",
        ),
        (
            spec({"node_id": "a", "properties": {"primitive": "serial", "my key": 1}}),
            'dag[0].properties["my key"]',
            "unknown field",
        ),
        (spec(node("a", condition=None)), "dag[0].properties.condition", "not null"),
        (spec(node("a", arguments=[1])), "dag[0].properties.arguments", "JSON object"),
        ({"name": "t", "dag": [node("a")], "max_iterations": 0}, "max_iterations", "at least 1"),
        ({"name": "t", "dag": [node("a")], "max_iterations": "5"}, "max_iterations", "integer"),
        ({"name": "t", "dag": [node("a")], "max_iterations": True}, "max_iterations", "integer"),
        ([node("a")], "$", "JSON object"),
    ],
)
def test_bad_specs_name_the_json_path(document, path, fragment):
    with pytest.raises(SpecError) as err:
        load_spec(document)
    paths = [p for p, _ in err.value.errors]
    assert path in paths, err.value.errors
    assert fragment in dict(err.value.errors)[path], err.value.errors
    assert f"{path}: " in str(err.value)


def test_every_error_is_reported_and_the_message_starts_with_the_first():
    document = spec(
        node("a", next="ghost"),
        node("a"),
        node("c", "parallel", next="a"),
    )
    with pytest.raises(SpecError) as err:
        load_spec(document)
    assert [p for p, _ in err.value.errors] == [
        "dag[1].node_id",
        "dag[0].properties.next",
        "dag[2].properties.next",
    ]
    assert err.value.path == "dag[1].node_id"
    assert str(err.value).startswith("dag[1].node_id: duplicate node_id 'a'")
    assert "2 more error(s)" in str(err.value)


def test_unreachable_nodes_are_a_warning_not_an_error():
    with pytest.warns(SpecWarning, match=r"dag\[1\]: node 'island' can never run"):
        loaded = load_spec(spec(node("a"), node("island", next="a")))
    assert loaded.warnings == [
        ("dag[1]", "node 'island' can never run: no control path leads to it from 'a'")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = load_spec(spec(node("a"), node("island")), warn=False)
    assert [p for p, _ in quiet.warnings] == ["dag[1]"]


def test_json_text_bytes_paths_and_files_are_accepted_and_bad_input_is_named(tmp_path):
    assert load_spec(json.dumps(GLASS)).name == "filling-a-glass-of-water"
    assert load_spec(json.dumps(GLASS).encode()).name == "filling-a-glass-of-water"
    file = tmp_path / "glass.json"
    file.write_text(json.dumps(GLASS))
    assert load_spec(str(file)).name == load_spec(file).name
    with pytest.raises(SpecError, match=r"^\$: not valid JSON: .* at line 1 column 2"):
        load_spec("{not json")
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(tmp_path / "missing.json")
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec("bad\x00path")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(b"\xff{")
    with pytest.raises(SpecError, match="JSON object"):
        load_spec(42)
    with pytest.raises(SpecError, match=r"too deeply|not valid JSON"):
        load_spec("[" * 100_000)


def test_a_loaded_spec_is_not_checked_twice():
    loaded = load_spec(GLASS)
    assert load_spec(loaded) is loaded
    unchecked = WorkflowSpec.model_validate(spec(node("a", next="ghost")))  # shape only
    with pytest.raises(SpecError, match="unknown node_id 'ghost'"):
        load_spec(unchecked)
    with pytest.raises(SpecError, match="unknown node_id 'ghost'"):
        SpecPlanner(unchecked)


# -- the published JSON Schema -------------------------------------------------------------


def test_schema_is_valid_draft_2020_12_and_accepts_both_seeds_verbatim():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(SCHEMA["required"]) == {"name", "dag"}
    for document in (GLASS, SENTIMENT):
        SCHEMA_VALIDATOR.validate(document)


@pytest.mark.parametrize(
    "document",
    [
        {"name": "t", "dag": []},
        {"name": "t", "dag": [node("a", primitive="loop")]},
        {"name": "t", "dag": [node("a", condition={"source": "x"})]},
        {"name": "t", "dag": [node("a", next=5)]},
        {"name": "t", "dag": [node("a#2")]},
        {"name": "t", "dag": [node("a")], "max_iterations": 0},
        {"name": "t", "dag": [node("a")], "surprise": True},
    ],
)
def test_schema_rejects_what_the_models_reject(document):
    assert not SCHEMA_VALIDATOR.is_valid(document)
    with pytest.raises(SpecError):
        load_spec(document)


# -- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["", "{}", "[", "serial", "parallel", "condition", "a", "b#2", "equals"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _only_spec_errors(document):
    """load_spec answers with a SpecError or a valid spec, never another exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        try:
            result = load_spec(document)
        except SpecError as exc:
            assert exc.errors and all(isinstance(p, str) and p for p, _ in exc.errors)
            assert all(isinstance(m, str) and m for _, m in exc.errors)
            assert str(exc).startswith(f"{exc.errors[0][0]}: ")
            return None
    assert isinstance(result, WorkflowSpec)
    dumped = result.to_json_dict()
    assert SCHEMA_VALIDATOR.is_valid(dumped)  # what we accept, the schema accepts
    if isinstance(document, dict):
        assert SCHEMA_VALIDATOR.is_valid(document)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        assert load_spec(dumped) == result
    SpecPlanner(result).start()
    return result


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_random_json_documents(document):
    _only_spec_errors(document)
    _only_spec_errors(json.dumps(document))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30) | st.binary(max_size=30))
def test_fuzz_random_text_and_bytes(text):
    _only_spec_errors(text)


KEYS = [
    "name",
    "dag",
    "node_id",
    "properties",
    "label",
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
    "max_iterations",
]
NAMES = ["check_if_full", "add_water", "glass_full", "fetch_sentences", "ghost", ""]

mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 3), st.sampled_from(KEYS), json_values),
    st.tuples(st.just("name"), st.integers(0, 3), st.sampled_from(KEYS), st.sampled_from(NAMES)),
    st.tuples(
        st.just("names"),
        st.integers(0, 3),
        st.sampled_from(["next", "outputs_from"]),
        st.lists(st.sampled_from(NAMES), max_size=3),
    ),
    st.tuples(st.just("delete"), st.integers(0, 3), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("copy"), st.integers(0, 3), st.none(), st.none()),
    st.tuples(st.just("drop"), st.integers(0, 3), st.none(), st.none()),
    st.tuples(st.just("swap"), st.integers(0, 3), st.none(), st.none()),
)


def _mutate(document, kind, index, key, value):
    entries = document.get("dag") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        if isinstance(document, dict) and key is not None:
            document[key] = value
        return
    i = index % len(entries)
    entry = entries[i]
    target = document
    if isinstance(entry, dict):
        props = entry.get("properties")
        target = props if isinstance(props, dict) and key not in ("node_id", "name") else entry
        if key in ("name", "dag", "max_iterations"):
            target = document
    if kind in ("set", "name", "names") and isinstance(target, dict):
        target[key] = value
    elif kind == "delete" and isinstance(target, dict):
        target.pop(key, None)
    elif kind == "copy":
        entries.append(copy.deepcopy(entry))
    elif kind == "drop":
        entries.pop(i)
    elif kind == "swap":
        entries[0], entries[i] = entries[i], entries[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([GLASS, SENTIMENT]), st.lists(mutation, min_size=1, max_size=5))
def test_fuzz_mutated_seed_specs(base, mutations):
    document = copy.deepcopy(base)
    for kind, index, key, value in mutations:
        _mutate(document, kind, index, key, value)
    _only_spec_errors(document)
