"""dagprofiler's quickstart (seed 000), with only the import lines changed.

The profile part of the seed is checked in tests/profiling; here: routing and shapes.
"""

from __future__ import annotations

import numpy as np
import pytest

from dagforge import DAG, Config, Executor, Task, task
from dagforge import dag as make_dag  # dagprofiler: from dagprofiler.decorators import dag


class CollectData(Task):
    inputs = []
    outputs = ["data", "labels"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        N = cfg.N
        return {
            "data": np.random.randn(N, 10),
            "labels": np.random.randint(0, 3, N),
        }

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 10


class ProcessData(Task):
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
        return {"predictions": labels}  # Placeholder


def quickstart_dag():
    return DAG(
        tasks={
            "collect": CollectData(),
            "process": ProcessData(),
            "classify": Classify(),
        },
        edges=[
            ("collect", "process"),  # Auto-routes matching outputs->inputs
            ("collect", "classify"),
            ("process", "classify"),
        ],
        config=Config(N=10000),
    )


def test_quickstart_routes_every_output_to_the_right_input():
    np.random.seed(42)
    result = quickstart_dag().execute()
    assert result.ok and result.succeeded == 3
    assert result.backend == "inline"
    collected = result.results["collect"].value
    features = result.results["process"].value["features"]
    predictions = result.results["classify"].value["predictions"]
    assert collected["data"].shape == (10000, 10) and collected["labels"].shape == (10000,)
    np.testing.assert_array_equal(features, collected["data"] ** 2)
    assert predictions is collected["labels"]  # routed, not copied, on one machine
    assert result.execution_order == ["collect", "process", "classify"]


@pytest.mark.parametrize("backend", ["inline", "threads"])
def test_quickstart_on_each_backend(backend):
    result = Executor(quickstart_dag(), backend=backend, max_workers=2).execute()
    assert (result.succeeded, result.failed, result.skipped) == (3, 0, 0)
    r = result.results
    data, labels = r["collect"].outputs["data"], r["collect"].outputs["labels"]
    assert r["process"].outputs["features"].shape == (10000, 10)
    np.testing.assert_array_equal(r["process"].outputs["features"], data**2)
    assert r["classify"].outputs["predictions"] is labels
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert result.outputs.keys() == {"classify"}  # the one leaf
    assert r["collect"].end <= r["process"].start and r["process"].end <= r["classify"].start


def test_quickstart_routes_each_input_from_the_parent_that_outputs_it():
    seen = {}

    class SpyClassify(Classify):
        def compute(self, features, labels, cfg=None):
            seen.update(features=features, labels=labels, cfg=cfg)
            return super().compute(features, labels, cfg=cfg)

    d = quickstart_dag()
    d.set_task("classify", SpyClassify())
    assert d.edges == [("collect", "process"), ("collect", "classify"), ("process", "classify")]
    assert d.predecessors("classify") == ["collect", "process"]
    result = d.execute()
    r = result.results
    assert seen["features"] is r["process"].outputs["features"]  # process -> classify
    assert seen["labels"] is r["collect"].outputs["labels"]  # collect -> classify
    assert seen["cfg"] == Config(N=10000)


def test_quickstart_cost_model_and_structure():
    d = quickstart_dag()
    cfg = d.config
    assert d.task("collect").estimate_instructions(cfg) == 100000
    assert d.task("process").estimate_instructions(cfg) == 1000000
    assert d.task("classify").estimate_instructions(cfg) == 0
    assert d.topological_order() == ["collect", "process", "classify"]
    path, cost = d.critical_path({"collect": 100000, "process": 1000000, "classify": 0})
    assert path == ["collect", "process", "classify"] and cost == 1100000


def test_decorator_example():
    @task(inputs=[], outputs=["data"])
    def source(cfg):
        return {"data": np.random.randn(cfg.N)}

    @task(inputs=["data"], outputs=["result"], estimate_fn=lambda cfg: cfg.N * 10)
    def process(data, cfg):
        return {"result": data * 2}

    my_dag = make_dag(tasks=[source, process], config=Config(N=100))
    assert my_dag.edges == [("source", "process")]  # inferred from "data"
    result = my_dag.execute()
    data = result.results["source"].value["data"]
    assert data.shape == (100,)
    np.testing.assert_array_equal(result.results["process"].value["result"], data * 2)
    assert process.estimate_instructions(my_dag.config) == 1000


def test_config_example():
    cfg = Config(N_UE=10000, N_CELL=7, N_SLICE=5)
    assert cfg.N_UE == 10000  # Attribute access
    assert cfg["N_CELL"] == 7  # Dictionary access
    assert cfg.get("N_SLICE", 5) == 5  # With default
    assert cfg.to_dict() == {"N_UE": 10000, "N_CELL": 7, "N_SLICE": 5}  # Export as dict
    assert cfg.copy(N_UE=20000).N_UE == 20000  # Create modified copy
