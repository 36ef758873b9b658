"""The profile format is a contract: dagprofiler 0.1.0's own reader and schema accept
what dagforge writes, and dagforge reads what dagprofiler writes."""

from __future__ import annotations

import json

import pytest

from dagforge import DAG, Config, Profile, Task
from dagforge.profiling.profile import compare_dict

np = pytest.importorskip("numpy")
dp = pytest.importorskip("dagprofiler", reason="dagprofiler is a test extra")
from dagprofiler.schema import PROFILE_SCHEMA  # noqa: E402

jsonschema = pytest.importorskip("jsonschema")


class Collect(Task):
    outputs = ["data", "labels"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        return {"data": np.random.randn(cfg.N, 10), "labels": np.random.randint(0, 3, cfg.N)}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 10


class Process(Task):
    inputs = ["data"]
    outputs = ["features"]
    config_deps = ["N"]

    def compute(self, data, cfg=None):
        return {"features": data**2}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 100


class Classify(Task):
    inputs = ["features", "labels"]
    outputs = ["predictions"]

    def compute(self, features, labels, cfg=None):
        return {"predictions": labels}


def _dag(n: int = 1000) -> DAG:
    return DAG(
        tasks={"collect": Collect(), "process": Process(), "classify": Classify()},
        edges=[("collect", "process"), ("collect", "classify"), ("process", "classify")],
        config=Config(N=n),
    )


def _validate(data: dict) -> None:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(PROFILE_SCHEMA, format_checker=checker).validate(data)


def test_dagprofiler_reader_and_schema_accept_a_dagforge_profile(tmp_path):
    path = tmp_path / "profile.json"
    ours = _dag().run(seed=42)
    ours.save(path)
    data = json.loads(path.read_text())
    _validate(data)
    assert data["metadata"]["dagprofiler_version"] == "0.1.0"
    theirs = dp.Profile.load(path)
    assert theirs.metrics.node_weights == {"collect": 10000, "process": 100000, "classify": 0}
    assert theirs.metrics.edge_weights == ours.metrics.edge_weights
    assert theirs.metrics.edge_weights["collect->process"] == 1000 * 10 * 8 * 8
    assert [m.task for m in theirs.metrics.task_metrics] == ["collect", "process", "classify"]
    assert theirs.metrics.task_metrics[0].bytes_out == ours.task_metrics("collect").bytes_out
    assert theirs.config.N == 1000 and theirs.seed == 42
    assert theirs.dag_structure == ours.dag_structure
    # dagforge's extras survive its own round trip
    back = Profile.load(path)
    assert back.task_metrics("process").status == "succeeded"
    assert back == ours


def test_aggregated_profiles_also_satisfy_the_schema(tmp_path):
    path = tmp_path / "agg.json"
    agg = _dag(200).profile(runs=3, seed=1)
    agg.save(path)
    _validate(json.loads(path.read_text()))
    theirs = dp.Profile.load(path)
    assert len(theirs.metrics.task_metrics) == 3
    assert Profile.load(path).task_metrics("collect").stats is not None


def test_non_integral_weights_are_integers_for_dagprofiler_exact_for_dagforge(tmp_path):
    p = Profile(nodes=["a", "b"], edges=[("a", "b")], node_weights={"a": 2.5, "b": 4})
    path = p.save(tmp_path / "w.json")
    data = json.loads(path.read_text())
    _validate(data)
    assert data["node_weights"] == {"a": 2, "b": 4}
    assert Profile.load(path).node_weights == {"a": 2.5, "b": 4}


def test_dagforge_reads_a_file_dagprofiler_wrote(tmp_path):
    class DCollect(dp.Task):
        inputs = []
        outputs = ["data"]

        def compute(self, cfg=None):
            return {"data": np.arange(cfg.N, dtype="float64")}

        @staticmethod
        def estimate_instructions(cfg):
            return cfg.N

    class DDouble(dp.Task):
        inputs = ["data"]
        outputs = ["out"]

        def compute(self, data, cfg=None):
            return {"out": data * 2}

    theirs = dp.DAG(
        tasks={"c": DCollect(), "d": DDouble()}, edges=[("c", "d")], config=dp.Config(N=50)
    ).run(seed=3)
    path = tmp_path / "theirs.json"
    theirs.save(path)
    ours = Profile.load(path)
    assert ours.nodes == ["c", "d"] and ours.edges == [("c", "d")]
    assert ours.edge_weights == theirs.metrics.edge_weights
    assert ours.node_weights == {"c": 50, "d": 0}
    assert ours.config.N == 50


def test_compare_dict_matches_dagprofilers_compare(tmp_path):
    a, b = _dag(1000).run(seed=1), _dag(2000).run(seed=1)
    a.save(tmp_path / "a.json")
    b.save(tmp_path / "b.json")
    expected = dp.Profile.load(tmp_path / "a.json").compare(dp.Profile.load(tmp_path / "b.json"))
    got = compare_dict(Profile.load(tmp_path / "a.json"), Profile.load(tmp_path / "b.json"))
    assert got["config_diff"] == expected["config_diff"] == {"N": {"self": 1000, "other": 2000}}
    assert got["node_weight_diff"] == expected["node_weight_diff"]
    assert got["edge_weight_diff"] == expected["edge_weight_diff"]
    assert got["node_weight_diff"]["process"]["diff"] == -100000
    assert got["time_diff_ms"] == pytest.approx(expected["time_diff_ms"])


def test_metrics_have_dagprofilers_list_shape():
    profile = _dag(100).run()
    m = profile.metrics
    assert [t.task for t in m.task_metrics] == ["collect", "process", "classify"]
    assert {(e.source, e.target) for e in m.edge_metrics} == set(profile.edges)
    edge = next(e for e in m.edge_metrics if e.target == "process")
    assert edge.size_bits == 8 * edge.size_bytes == profile.edge_weights["collect->process"]
    assert set(m.to_dict()) == {
        "task_metrics",
        "edge_metrics",
        "node_weights",
        "edge_weights",
        "total_time_ms",
    }
    assert profile.config.to_dict() == {"N": 100}


def test_dagprofilers_class_named_entries_map_to_nodes_by_execution_order(tmp_path):
    path = tmp_path / "p.json"
    _dag(10).run(seed=0).save(path)
    data = json.loads(path.read_text())
    del data["dagforge"]
    for entry, cls in zip(
        data["execution_metrics"], ["Collect", "Process", "Classify"], strict=True
    ):
        entry["task"] = cls  # what dagprofiler writes for bare Task() instances
    path.write_text(json.dumps(data))
    loaded = Profile.load(path)
    assert list(loaded.execution_metrics) == ["collect", "process", "classify"]
    assert loaded.task_metrics("collect").bytes_out == data["execution_metrics"][0]["bytes_out"]
