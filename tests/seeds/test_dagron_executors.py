"""dagron's ResourceAwareExecutor / AsyncResourceAwareExecutor examples (seed 002).

The code blocks are the seed's, with only the import line changed
(``import dagforge as dagron``); the async example defines the coroutines the seed
leaves to the reader.
"""

from __future__ import annotations

import ast
import asyncio

import dagforge as dagron


def _seed_dag():
    return (
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


def _seed_requirements():
    return {
        "preprocess": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 2000}),
        "train_model_a": dagron.ResourceRequirements(
            resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}
        ),
        "train_model_b": dagron.ResourceRequirements(
            resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}
        ),
        "evaluate": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 4000}),
    }


def test_resource_aware_executor_example(capsys):
    dag = _seed_dag()
    pool = dagron.ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})
    requirements = _seed_requirements()
    executor = dagron.ResourceAwareExecutor(dag, pool, requirements)
    result = executor.execute(
        {
            "preprocess": lambda: "data ready",
            "train_model_a": lambda: "model A trained",
            "train_model_b": lambda: "model B trained",
            "evaluate": lambda: "evaluation complete",
        }
    )
    print(result.succeeded)  # 4

    timeline = pool.timeline
    print(f"Snapshots: {len(timeline.snapshots)}")
    print(f"Peak utilization: {timeline.peak_utilization()}")
    for snap in timeline.snapshots:
        print(
            f" t={snap.timestamp:.3f} {snap.event} {snap.node_name}: "
            f"gpu={snap.allocated.get('gpu', 0)}"
        )

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4"
    assert lines[1] == "Snapshots: 8"  # an acquire and a release per node
    peak = ast.literal_eval(lines[2].split(": ", 1)[1])
    assert peak["gpu"] == 1.0  # both trainers held a gpu at once
    assert 0 < peak["cpu"] <= 1.0 and 0 < peak["memory_mb"] <= 1.0
    events = [line.split()[1] for line in lines[3:]]
    assert events.count("acquire") == 4 and events.count("release") == 4
    assert result.results["evaluate"].value == "evaluation complete"
    assert pool.allocated == {"gpu": 0, "cpu": 0, "memory_mb": 0}


def test_async_resource_aware_executor_example():
    dag = _seed_dag()
    pool = dagron.ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})
    requirements = _seed_requirements()
    running: list[str] = []
    overlap: list[set[str]] = []

    async def work(name: str) -> str:
        running.append(name)
        overlap.append(set(running))
        await asyncio.sleep(0.01)
        running.remove(name)
        return name

    async def preprocess_async():
        return await work("preprocess")

    async def train_async(model):
        return await work(model)

    async def evaluate_async():
        return await work("evaluate")

    async def main():
        executor = dagron.AsyncResourceAwareExecutor(dag, pool, requirements)
        result = await executor.execute(
            {
                "preprocess": lambda: preprocess_async(),
                "train_model_a": lambda: train_async("model_a"),
                "train_model_b": lambda: train_async("model_b"),
                "evaluate": lambda: evaluate_async(),
            }
        )
        print(result.succeeded)
        return result

    result = asyncio.run(main())
    assert result.succeeded == 4
    assert {"model_a", "model_b"} in overlap  # the two trainers ran concurrently
    assert result.outputs == {"evaluate": "evaluate"}
