"""dagron's four-node example (seed 002) with plain callables and no resources."""

from __future__ import annotations

import pytest

import dagforge as dagron


@pytest.mark.parametrize("backend", ["inline", "threads"])
def test_four_node_example(backend):
    dag = (
        dagron.DAG.builder()
        .add_node("preprocess")
        .add_node("train_model_a")
        .add_node("train_model_b")
        .add_node("evaluate")
        .add_edge("preprocess", "train_model_a")
        .add_edge("preprocess", "train_model_b")
        .add_edge("train_model_a", "evaluate")
        .add_edge("train_model_b", "evaluate")
        .build()
    )
    assert dag.roots() == ["preprocess"] and dag.leaves() == ["evaluate"]
    result = dagron.Executor(dag, backend=backend, max_workers=2).execute(
        {
            "preprocess": lambda: "data ready",
            "train_model_a": lambda: "model A trained",
            "train_model_b": lambda: "model B trained",
            "evaluate": lambda: "evaluation complete",
        }
    )
    assert result.succeeded == 4
    assert (result.failed, result.skipped, result.cancelled) == (0, 0, 0)
    assert result.outputs == {"evaluate": "evaluation complete"}
    assert result.execution_order[0] == "preprocess" and result.execution_order[-1] == "evaluate"
    r = result.results
    assert r["train_model_a"].value == "model A trained"
    assert r["train_model_b"].value == "model B trained"
    for train in ("train_model_a", "train_model_b"):
        assert r["preprocess"].end <= r[train].start and r[train].end <= r["evaluate"].start
    result.raise_for_failures()
