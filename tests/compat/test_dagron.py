# ruff: noqa: E501  (the seed's code blocks are kept verbatim)
"""dagforge.compat.dagron: seed 002's code blocks with only the import changed, the
documented results asserted (the document, not dagron 0.1.1, is the reference)."""

from __future__ import annotations

import ast
import re

import pytest

EXECUTOR = """
import dagforge.compat.dagron as dagron

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

pool = dagron.ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})

requirements = {
    "preprocess": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 2000}),
    "train_model_a": dagron.ResourceRequirements(resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}),
    "train_model_b": dagron.ResourceRequirements(resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}),
    "evaluate": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 4000}),
}

executor = dagron.ResourceAwareExecutor(dag, pool, requirements)
result = executor.execute({
    "preprocess": lambda: "data ready",
    "train_model_a": lambda: "model A trained",
    "train_model_b": lambda: "model B trained",
    "evaluate": lambda: "evaluation complete",
})

print(result.succeeded) # 4
"""

ASYNC = """
import asyncio
import dagforge.compat.dagron as dagron

async def main():
    executor = dagron.AsyncResourceAwareExecutor(dag, pool, requirements)
    result = await executor.execute({
        "preprocess": lambda: preprocess_async(),
        "train_model_a": lambda: train_async("model_a"),
        "train_model_b": lambda: train_async("model_b"),
        "evaluate": lambda: evaluate_async(),
    })
    print(result.succeeded)

asyncio.run(main())
"""

POOL = """
pool = dagron.ResourcePool(capacities={"gpu": 4, "cpu": 16, "memory_mb": 32000})

print(pool.capacities) # {"gpu": 4, "cpu": 16, "memory_mb": 32000}
print(pool.available) # {"gpu": 4, "cpu": 16, "memory_mb": 32000}

req = dagron.ResourceRequirements(resources={"gpu": 2})
pool.acquire(req)
print(pool.available) # {"gpu": 2, "cpu": 16, "memory_mb": 32000}
print(pool.allocated) # {"gpu": 2, "cpu": 0, "memory_mb": 0}

pool.release(req)
print(pool.available) # {"gpu": 4, "cpu": 16, "memory_mb": 32000}
"""

REQUIREMENTS = """
# Explicit construction
req = dagron.ResourceRequirements(resources={"gpu": 2, "cpu": 4, "memory_mb": 8000})

# Convenience constructors
gpu_req = dagron.ResourceRequirements.gpu(1)
cpu_req = dagron.ResourceRequirements.cpu(4)
mem_req = dagron.ResourceRequirements.memory(4096)

# Check fit
print(req.fits({"gpu": 4, "cpu": 16, "memory_mb": 32000})) # True
print(req.fits({"gpu": 1, "cpu": 16, "memory_mb": 32000})) # False (needs 2 GPUs)
"""

TIMELINE = """
result = executor.execute(tasks)

timeline = pool.timeline
print(f"Snapshots: {len(timeline.snapshots)}")
print(f"Peak utilization: {timeline.peak_utilization()}")
# {"gpu": 1.0, "cpu": 0.75, "memory_mb": 0.5}

for snap in timeline.snapshots:
    print(f" t={snap.timestamp:.3f} {snap.event} {snap.node_name}: gpu={snap.allocated.get('gpu', 0)}")
"""


def _documented(code: str) -> list:
    """The values in the block's ``print(...)  # value`` comments."""
    out = []
    for line in code.splitlines():
        m = re.match(r"\s*print\(.*\)\s*#\s*(.+?)(\s*\(.*\))?$", line)
        if m:
            out.append(ast.literal_eval(m.group(1).replace("true", "True")))
    return out


def _exec(code: str, ns: dict) -> dict:
    exec(compile(code, "seed_002.py", "exec"), ns)
    return ns


def test_resource_aware_executor_example(capsys):
    ns = _exec(EXECUTOR, {})
    assert capsys.readouterr().out.splitlines() == ["4"] == [str(v) for v in _documented(EXECUTOR)]
    assert ns["result"].values["evaluate"] == "evaluation complete"
    assert ns["pool"].available == {"gpu": 2, "cpu": 8, "memory_mb": 16000}


def test_async_executor_example(capsys):
    import asyncio

    calls = []

    async def preprocess_async():
        await asyncio.sleep(0)
        calls.append("preprocess")
        return "data ready"

    async def train_async(name):
        await asyncio.sleep(0)
        calls.append(name)
        return f"{name} trained"

    async def evaluate_async():
        calls.append("evaluate")
        return "evaluation complete"

    ns = _exec(EXECUTOR, {})
    capsys.readouterr()
    ns.update(
        preprocess_async=preprocess_async, train_async=train_async, evaluate_async=evaluate_async
    )
    _exec(ASYNC, ns)
    assert capsys.readouterr().out.splitlines() == ["4"]
    assert calls[0] == "preprocess" and calls[-1] == "evaluate"
    assert sorted(calls[1:3]) == ["model_a", "model_b"]


def test_pool_and_requirements_examples(capsys):
    import dagforge.compat.dagron as dagron

    _exec(POOL, {"dagron": dagron})
    printed = [ast.literal_eval(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == _documented(POOL)
    _exec(REQUIREMENTS, {"dagron": dagron})
    assert capsys.readouterr().out.splitlines() == ["True", "False"]
    req = dagron.ResourceRequirements.cpu(4)
    assert req.resources == {"cpu": 4}  # the document's key (dagron 0.1.1 says cpu_slots)
    assert dagron.ResourceRequirements.memory(4096).resources == {"memory_mb": 4096}


def test_timeline_example_fractions_and_acquire_release_events(capsys):
    ns = _exec(EXECUTOR, {})
    ns["pool"] = pool = __import__("dagforge.compat.dagron", fromlist=["x"]).ResourcePool(
        capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000}
    )
    ns["executor"] = type(ns["executor"])(ns["dag"], pool, ns["requirements"], backend="inline")
    ns["tasks"] = {n: (lambda n=n: n) for n in ns["dag"].nodes}
    capsys.readouterr()
    _exec(TIMELINE, ns)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Snapshots: 8"  # one acquire and one release per node
    peak = ast.literal_eval(lines[1].removeprefix("Peak utilization: "))
    # inline: one node at a time; peaks are fractions of capacity, as documented
    assert peak == {"gpu": 0.5, "cpu": 0.5, "memory_mb": 0.5}
    events = [line.split()[1] for line in lines[2:]]
    assert events == ["acquire", "release"] * 4
    assert lines[2].endswith("preprocess: gpu=0") and lines[4].endswith("gpu=1")


def test_two_trainings_share_the_gpus_on_threads():
    ns = _exec(EXECUTOR, {})
    peak = ns["pool"].timeline.peak_utilization()
    assert 0 < peak["gpu"] <= 1.0 and peak["memory_mb"] <= 1.0


def test_an_impossible_request_is_a_value_error_before_anything_runs():
    import dagforge.compat.dagron as dagron

    ran = []
    dag = dagron.DAG.builder().add_node("huge").build()
    pool = dagron.ResourcePool(capacities={"gpu": 1})
    with pytest.raises(ValueError, match="huge"):
        dagron.ResourceAwareExecutor(
            dag, pool, {"huge": dagron.ResourceRequirements.gpu(3)}
        ).execute({"huge": lambda: ran.append(1)})
    assert ran == []


CHECK = """
import json
import dagron
dag = (dagron.DAG.builder().add_node("preprocess").add_node("train_model_a")
    .add_node("train_model_b").add_node("evaluate")
    .add_edge("preprocess", "train_model_a").add_edge("preprocess", "train_model_b")
    .add_edge("train_model_a", "evaluate").add_edge("train_model_b", "evaluate").build())
capacities = {"gpu": 2, "cpu": 8, "memory_mb": 16000}
pool = dagron.ResourcePool(capacities=capacities)
R = dagron.ResourceRequirements
requirements = {
    "preprocess": R(resources={"cpu": 2, "memory_mb": 2000}),
    "train_model_a": R(resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}),
    "train_model_b": R(resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}),
    "evaluate": R(resources={"cpu": 2, "memory_mb": 4000}),
}
result = dagron.ResourceAwareExecutor(dag, pool, requirements).execute(
    {n: (lambda n=n: n) for n in ["preprocess", "train_model_a", "train_model_b", "evaluate"]}
)
print(json.dumps({
    "succeeded": result.succeeded,
    "events": sorted({s.event for s in pool.timeline.snapshots}),
    "snapshots": len(pool.timeline.snapshots),
    "peak": pool.timeline.peak_utilization(),
    "cpu_key": list(R.cpu(4).resources),
}))
"""


def _dagron_python():
    """A Python with dagron 0.1.1 (it needs 3.12): $DAGRON_PYTHON or bench's venv."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for candidate in (os.environ.get("DAGRON_PYTHON"), str(root / ".bench-venv/bin/python")):
        if candidate and shutil.which(candidate):
            probe = subprocess.run([candidate, "-c", "import dagron"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    return None


def test_behaviour_against_dagron_0_1_1_where_the_docs_agree_and_where_they_differ():
    import json
    import subprocess
    import sys

    python = _dagron_python()
    if python is None:
        pytest.skip("no Python with dagron 0.1.1 (set DAGRON_PYTHON, or make bench)")
    theirs = json.loads(
        subprocess.run([python, "-c", CHECK], capture_output=True, text=True, check=True).stdout
    )
    ours_code = CHECK.replace("import dagron\n", "import dagforge.compat.dagron as dagron\n")
    ours = json.loads(
        subprocess.run(
            [sys.executable, "-c", ours_code], capture_output=True, text=True, check=True
        ).stdout
    )
    assert ours["succeeded"] == theirs["succeeded"] == 4
    assert ours["snapshots"] == theirs["snapshots"] == 8
    # the three documented differences: dagforge follows dagron's documentation
    assert theirs["events"] == ["acquired", "released"] and ours["events"] == ["acquire", "release"]
    assert theirs["cpu_key"] == ["cpu_slots"] and ours["cpu_key"] == ["cpu"]
    capacities = {"gpu": 2, "cpu": 8, "memory_mb": 16000}
    assert theirs["peak"] == {k: ours["peak"][k] * capacities[k] for k in capacities}
    assert all(0 < v <= 1.0 for v in ours["peak"].values())
