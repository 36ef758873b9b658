"""Profile: the seed's JSON shape, round trips, the dagprofiler fixture, compare, aggregate."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from dagforge import DAG, Config, ProfileError, Task
from dagforge.execution.executor import Executor
from dagforge.profiling import (
    ABSENT,
    EdgeMetrics,
    Profile,
    ProfileDiff,
    TaskMetrics,
    rank_costs_from_profile,
    run_profile,
)

SEED_TOP_KEYS = [
    "metadata",
    "configuration",
    "dag_structure",
    "node_weights",
    "edge_weights",
    "execution_metrics",
    "total_time_ms",
]
SEED_METRIC_KEYS = [
    "task",
    "compute_time_ms",
    "serialize_time_ms",
    "deserialize_time_ms",
    "bytes_in",
    "bytes_out",
]


def test_seed_quickstart_run_returns_a_profile_with_the_seed_metrics(quickstart, tmp_path):
    profile = quickstart.run(seed=42)  # the seed example, verbatim
    profile.save(tmp_path / "profile.json")
    assert profile.metrics.total_time_ms > 0
    assert profile.metrics.node_weights == {"collect": 100000, "process": 1000000, "classify": 0}
    # The seed shows these two edges at exactly these sizes (float64 arrays of N x 10).
    assert profile.metrics.edge_weights["collect->process"] == 6400000
    assert profile.metrics.edge_weights["process->classify"] == 6400000
    # labels: N int64 values, raw buffer (nbytes) rule.
    assert profile.metrics.edge_weights["collect->classify"] == 8 * 10000 * 8
    assert Profile.load(tmp_path / "profile.json") == profile


def test_golden_shape_carries_every_key_the_seed_shows(quickstart):
    data = run_profile(quickstart, seed=7).to_dict()
    assert list(data)[: len(SEED_TOP_KEYS)] == SEED_TOP_KEYS
    meta = data["metadata"]
    for key in ("timestamp", "dagforge_version", "seed", "hostname", "python", "platform"):
        assert key in meta
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["timestamp"])
    assert meta["seed"] == 7
    assert data["configuration"] == {"N": 10000}
    assert data["dag_structure"] == {
        "nodes": ["collect", "process", "classify"],
        "edges": [
            {"source": "collect", "target": "process"},
            {"source": "collect", "target": "classify"},
            {"source": "process", "target": "classify"},
        ],
        "execution_order": ["collect", "process", "classify"],
    }
    assert list(data["edge_weights"]) == [
        "collect->process",
        "collect->classify",
        "process->classify",
    ]
    metrics = data["execution_metrics"]
    assert [m["task"] for m in metrics] == ["collect", "process", "classify"]
    for m in metrics:
        assert list(m)[: len(SEED_METRIC_KEYS)] == SEED_METRIC_KEYS
        assert list(m) == SEED_METRIC_KEYS  # dagprofiler's reader takes no other key
        extras = data["dagforge"]["execution_metrics"][m["task"]]
        assert extras["status"] == "succeeded" and extras["attempts"] == 1
    assert metrics[0]["bytes_in"] == 0
    assert metrics[0]["bytes_out"] == 10000 * 10 * 8 + 10000 * 8
    assert metrics[2]["bytes_in"] == 10000 * 10 * 8 + 10000 * 8
    json.dumps(data, allow_nan=False)  # plain JSON


def test_edge_weights_are_eight_times_the_bytes_that_crossed(quickstart):
    result = Executor(quickstart, profile=True).execute()
    profile = Profile.from_result(result)
    assert result.edge_bytes
    for (s, t), nbytes in result.edge_bytes.items():
        assert profile.edge_weights[f"{s}->{t}"] == 8 * nbytes
        edge = profile.edge_metrics[(s, t)]
        assert isinstance(edge, EdgeMetrics) and edge.bytes == nbytes and edge.bits == 8 * nbytes


def test_same_seed_routes_identical_data(quickstart):
    a = run_profile(quickstart, seed=3)
    b = run_profile(quickstart, seed=3)
    va = a.result.results["collect"].value["data"]
    vb = b.result.results["collect"].value["data"]
    np.testing.assert_array_equal(va, vb)
    c = run_profile(quickstart, seed=4)
    assert not np.array_equal(va, c.result.results["collect"].value["data"])


def test_round_trip_through_dict_and_file(quickstart, tmp_path):
    p = run_profile(quickstart, seed=1, backend="threads", max_workers=2)
    again = Profile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    path = p.save(tmp_path / "sub" / "p.json")
    assert Profile.load(path).to_dict() == p.to_dict()
    assert os.listdir(tmp_path / "sub") == ["p.json"]  # no temp file left behind


def test_save_is_atomic_when_serialisation_fails(tmp_path, monkeypatch):
    p = Profile(nodes=["a"], metadata={"timestamp": "2025-01-30T17:45:00Z"})
    target = tmp_path / "p.json"
    p.save(target)
    before = target.read_text()

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        Profile(nodes=["b"], metadata={"timestamp": "2025-01-30T17:45:00Z"}).save(target)
    monkeypatch.undo()
    assert target.read_text() == before
    assert os.listdir(tmp_path) == ["p.json"]


def test_dagprofiler_0_1_0_profile_loads(seed_fixture_path):
    p = Profile.load(seed_fixture_path)
    assert p.metadata["dagprofiler_version"] == "0.1.0"
    assert p.seed == 42
    assert p.nodes == ["collect", "process", "classify"]
    assert p.edges == [("collect", "process"), ("collect", "classify"), ("process", "classify")]
    assert p.metrics.node_weights["process"] == 1000000
    assert p.metrics.edge_weights["collect->classify"] == 640080
    assert p.metrics.total_time_ms == pytest.approx(45.2)
    collect = p.execution_metrics["collect"]
    assert collect.compute_time_ms == pytest.approx(5.627)
    assert collect.bytes_out == 600395
    # Nodes the file has no entry for get zeros, so every node has one.
    assert p.execution_metrics["classify"] == TaskMetrics("classify")
    # Re-saving keeps the seed's keys and values.
    data = p.to_dict()
    assert data["metadata"]["dagprofiler_version"] == "0.1.0"
    assert data["edge_weights"] == json.loads(seed_fixture_path.read_text())["edge_weights"]


def test_dict_form_of_execution_metrics_loads(seed_fixture_path):
    data = json.loads(seed_fixture_path.read_text())
    data["execution_metrics"] = {"collect": {"compute_time_ms": 1.5, "bytes_out": 10}}
    p = Profile.from_dict(data)
    assert p.execution_metrics["collect"].compute_time_ms == 1.5
    assert p.execution_metrics["collect"].bytes_out == 10
    assert isinstance(p.to_dict()["execution_metrics"], list)


def test_compare_two_different_profiles():
    a = run_profile(_sized_dag(100, extra=False), seed=1)
    b = run_profile(_sized_dag(400, extra=True), seed=1)
    diff = a.compare(b)
    assert isinstance(diff, ProfileDiff)
    assert diff.config == {"N": (100, 400), "mode": (ABSENT, "fast")}
    assert diff.nodes_added == ["extra"] and diff.nodes_removed == []
    assert diff.edges_added == [("make", "extra")] and diff.edges_removed == []
    w = diff.node_weights["make"]
    assert (w.before, w.after, w.delta, w.percent) == (100, 400, 300, 300.0)
    e = diff.edge_weights["make->use"]
    assert e.before == 8 * 8 * 100 and e.after == 8 * 8 * 400 and e.percent == 300.0
    assert diff.total_time.delta == pytest.approx(b.total_time_ms - a.total_time_ms)
    text = str(diff)
    assert "N: 100 -> 400" in text and "mode: <absent> -> 'fast'" in text
    assert "nodes added ['extra']" in text and "make->use" in text
    assert "+300.0%" in text
    rows = diff.rows()
    assert ("config", "N", "100", "400", "", "") in rows
    same = a.compare(a)
    assert same.same_structure and not same.config and not same.changed_edge_weights


def test_compare_zero_before_has_no_percentage():
    a = Profile(nodes=["x"], node_weights={"x": 0})
    b = Profile(nodes=["x"], node_weights={"x": 5})
    d = a.compare(b).node_weights["x"]
    assert d.delta == 5 and d.percent is None
    assert "new" in str(a.compare(b))


def test_aggregate_median_min_max():
    runs = []
    for i, times in enumerate([(1.0, 10.0), (3.0, 30.0), (2.0, 50.0)]):
        runs.append(
            Profile(
                nodes=["a", "b"],
                edges=[("a", "b")],
                edge_weights={"a->b": 80},
                execution_metrics={
                    "a": TaskMetrics("a", times[0], 0.1 * (i + 1)),
                    "b": TaskMetrics("b", times[1]),
                },
                metadata={"timestamp": "2025-01-30T17:45:00Z", "seed": 1},
                total_time_ms=sum(times),
            )
        )
    agg = Profile.aggregate(runs)
    a = agg.execution_metrics["a"]
    assert a.compute_time_ms == 2.0  # the seed's key holds the median
    assert a.stats["compute_time_ms"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert a.stats["serialize_time_ms"]["max"] == pytest.approx(0.3)
    assert agg.execution_metrics["b"].stats["compute_time_ms"] == {
        "median": 30.0,
        "min": 10.0,
        "max": 50.0,
    }
    assert agg.total_time_ms == 33.0
    assert agg.runs == 3 and agg.aggregate_stats["total_time_ms"]["min"] == 11.0
    back = Profile.from_dict(json.loads(agg.to_json()))
    assert back == agg
    assert back.execution_metrics["a"].stats["serialize_time_ms"]["max"] == pytest.approx(0.3)


def test_aggregate_refuses_different_structures():
    a = Profile(nodes=["a"])
    b = Profile(nodes=["a", "b"])
    with pytest.raises(ProfileError, match="nodes added"):
        Profile.aggregate([a, b])


def test_dag_profile_runs_repeat_and_aggregate(quickstart):
    p = quickstart.profile(runs=3, seed=5)
    m = p.execution_metrics["collect"]
    assert p.runs == 3 and m.runs == 3
    s = m.stats["compute_time_ms"]
    assert s["min"] <= s["median"] == m.compute_time_ms <= s["max"]
    assert p.edge_weights["collect->process"] == 6400000


def test_to_networkx_weights_are_instructions_and_bits(quickstart):
    g = run_profile(quickstart, seed=1).to_networkx()
    assert g.nodes["process"]["weight"] == 1000000
    assert g.edges["collect", "process"]["weight"] == 6400000
    assert g.edges["collect", "process"]["bytes"] == 800000
    assert sorted(g.edges) == sorted(
        [("collect", "process"), ("collect", "classify"), ("process", "classify")]
    )


def test_failed_run_profile_records_status_and_check_raises():
    dag = DAG()
    dag.add_node("ok")
    dag.add_node("bad")
    dag.add_node("after")
    dag.add_edge("ok", "bad")
    dag.add_edge("bad", "after")
    tasks = {"ok": lambda: 1, "bad": lambda x: 1 / 0, "after": lambda x: x}
    from dagforge.errors import ExecutionError

    with pytest.raises(ExecutionError):
        run_profile(dag, tasks=tasks)
    p = run_profile(dag, tasks=tasks, check=False)
    statuses = {n: m.status for n, m in p.execution_metrics.items()}
    assert statuses == {"ok": "succeeded", "bad": "failed", "after": "skipped"}
    assert p.execution_metrics["after"].compute_time_ms == 0
    assert p.edge_weights["bad->after"] == 0
    Profile.from_dict(p.to_dict())  # still a valid profile


def test_estimate_instructions_errors_name_the_node():
    class Bad(Task):
        outputs = ["x"]

        def compute(self, cfg=None):
            return {"x": 1}

        @staticmethod
        def estimate_instructions(cfg):
            return -5

    dag = DAG(tasks={"bad": Bad()}, edges=[])
    with pytest.raises(ProfileError, match=r"node 'bad'.*-5"):
        run_profile(dag)


def test_rank_costs_from_profile_uses_measured_times(tmp_path):
    p = Profile(
        nodes=["a", "b"],
        execution_metrics={"a": TaskMetrics("a", 4.0), "b": TaskMetrics("b", 0.0)},
        metadata={"timestamp": "2025-01-30T17:45:00Z"},
    )
    assert rank_costs_from_profile(p) == {"a": 4.0}
    p.save(tmp_path / "p.json")
    assert rank_costs_from_profile(tmp_path / "p.json") == {"a": 4.0}
    assert rank_costs_from_profile(p.to_dict()) == {"a": 4.0}


# --- helpers -------------------------------------------------------------------------


class Make(Task):
    outputs = ["values"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        return {"values": np.zeros(cfg.N)}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N


class Use(Task):
    inputs = ["values"]
    outputs = ["total"]

    def compute(self, values, cfg=None):
        return {"total": float(values.sum())}


def _sized_dag(n: int, extra: bool) -> DAG:
    tasks = {"make": Make(), "use": Use()}
    edges = [("make", "use")]
    config = {"N": n}
    if extra:
        tasks["extra"] = Use()
        edges.append(("make", "extra"))
        config["mode"] = "fast"
    return DAG(tasks=tasks, edges=edges, config=Config(config))
