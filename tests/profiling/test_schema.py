"""PROFILE_SCHEMA and validation on load: every error names the JSON path at fault."""

from __future__ import annotations

import copy
import json

import pytest

from dagforge import ProfileError
from dagforge.profiling import PROFILE_SCHEMA, Profile, run_profile, validate_profile


@pytest.fixture
def seed_doc(seed_fixture_path) -> dict:
    return json.loads(seed_fixture_path.read_text())


def _error(doc: dict) -> str:
    with pytest.raises(ProfileError) as info:
        Profile.from_dict(doc)
    return str(info.value)


def test_truncated_file_names_file_and_position(seed_fixture_path, tmp_path):
    text = seed_fixture_path.read_text()
    bad = tmp_path / "cut.json"
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(ProfileError) as info:
        Profile.load(bad)
    msg = str(info.value)
    assert str(bad) in msg and "$: not valid JSON" in msg and "truncated" in msg and "line" in msg


def test_missing_file_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="no such profile file"):
        Profile.load(tmp_path / "nope.json")


def test_edge_naming_unknown_node(seed_doc):
    seed_doc["dag_structure"]["edges"][1]["target"] = "clasify"
    msg = _error(seed_doc)
    assert msg.startswith("$.dag_structure.edges[1].target: edge target 'clasify'")
    assert "'classify'" in msg  # the known nodes are listed


def test_negative_node_weight(seed_doc):
    seed_doc["node_weights"]["process"] = -1
    assert _error(seed_doc) == "$.node_weights.process: must be >= 0, got -1"


def test_negative_edge_weight_path_is_quoted(seed_doc):
    seed_doc["edge_weights"]["collect->process"] = -8
    assert _error(seed_doc).startswith('$.edge_weights["collect->process"]: must be >= 0')


def test_negative_metric(seed_doc):
    seed_doc["execution_metrics"][0]["bytes_out"] = -3
    assert _error(seed_doc).startswith("$.execution_metrics[0].bytes_out: must be >= 0")


def test_edge_weight_for_an_edge_not_in_the_structure(seed_doc):
    seed_doc["edge_weights"]["classify->collect"] = 8
    assert _error(seed_doc).startswith('$.edge_weights["classify->collect"]: edge')


def test_missing_key_and_wrong_type(seed_doc):
    doc = copy.deepcopy(seed_doc)
    del doc["dag_structure"]["execution_order"]
    assert _error(doc) == "$.dag_structure: missing required key 'execution_order'"
    doc = copy.deepcopy(seed_doc)
    doc["total_time_ms"] = "45.2"
    assert _error(doc).startswith("$.total_time_ms: expected a number")
    doc = copy.deepcopy(seed_doc)
    doc["node_weights"]["collect"] = True
    assert _error(doc).startswith("$.node_weights.collect: expected a number")


def test_bad_timestamp_and_unknown_task(seed_doc):
    doc = copy.deepcopy(seed_doc)
    doc["metadata"]["timestamp"] = "yesterday"
    assert _error(doc).startswith("$.metadata.timestamp: 'yesterday' does not match")
    doc = copy.deepcopy(seed_doc)
    doc["execution_metrics"][0]["task"] = "ghost"
    assert _error(doc).startswith("$.execution_metrics[0].task: task 'ghost'")
    doc = copy.deepcopy(seed_doc)
    doc["execution_metrics"] = {"ghost": {"compute_time_ms": 1}}
    assert _error(doc).startswith("$.execution_metrics.ghost: node 'ghost'")


def test_cycle_and_duplicates(seed_doc):
    doc = copy.deepcopy(seed_doc)
    doc["dag_structure"]["edges"].append({"source": "classify", "target": "collect"})
    assert "cycle" in _error(doc)
    doc = copy.deepcopy(seed_doc)
    doc["dag_structure"]["nodes"].append("collect")
    assert _error(doc).startswith("$.dag_structure.nodes[3]: duplicate item 'collect'")
    doc = copy.deepcopy(seed_doc)
    doc["execution_metrics"].append(dict(doc["execution_metrics"][0]))
    assert _error(doc).startswith("$.execution_metrics[1].task: a second entry")


def test_source_file_is_named_in_load_errors(seed_doc, tmp_path):
    seed_doc["node_weights"]["process"] = -1
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(seed_doc))
    with pytest.raises(ProfileError, match=r"edited\.json: \$\.node_weights\.process"):
        Profile.load(path)


def test_schema_agrees_with_jsonschema(quickstart, seed_doc):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(PROFILE_SCHEMA)
    validator = jsonschema.Draft202012Validator(PROFILE_SCHEMA)
    written = run_profile(quickstart, seed=1).to_dict()
    aggregated = quickstart.profile(runs=2, seed=1).to_dict()
    for doc in (seed_doc, written, aggregated):
        validator.validate(doc)
        validate_profile(doc)
    bad = copy.deepcopy(seed_doc)
    bad["node_weights"]["collect"] = -1
    assert not validator.is_valid(bad)
