"""The dagron resource examples of seeds/002_*, run with only the import line changed.

The seed's ``# {...}`` comments are JSON-style; each printed line is parsed back with
``ast.literal_eval`` and compared with the documented value.

The executor examples (``ResourceAwareExecutor``) belong to the engine's seed tests; the
timeline example there starts from ``executor.execute(tasks)``, so here the same
pool is driven by hand through an acquire/release sequence a run of that DAG could make.
"""

from __future__ import annotations

import ast
import re

import dagforge.resources as dagron


def _printed(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_resource_pool_example(capsys):
    pool = dagron.ResourcePool(capacities={"gpu": 4, "cpu": 16, "memory_mb": 32000})

    print(pool.capacities)  # {"gpu": 4, "cpu": 16, "memory_mb": 32000}
    print(pool.available)  # {"gpu": 4, "cpu": 16, "memory_mb": 32000}

    req = dagron.ResourceRequirements(resources={"gpu": 2})
    pool.acquire(req)
    print(pool.available)  # {"gpu": 2, "cpu": 16, "memory_mb": 32000}
    print(pool.allocated)  # {"gpu": 2, "cpu": 0, "memory_mb": 0}

    pool.release(req)
    print(pool.available)  # {"gpu": 4, "cpu": 16, "memory_mb": 32000}

    documented = [
        {"gpu": 4, "cpu": 16, "memory_mb": 32000},
        {"gpu": 4, "cpu": 16, "memory_mb": 32000},
        {"gpu": 2, "cpu": 16, "memory_mb": 32000},
        {"gpu": 2, "cpu": 0, "memory_mb": 0},
        {"gpu": 4, "cpu": 16, "memory_mb": 32000},
    ]
    lines = _printed(capsys)
    assert [ast.literal_eval(line) for line in lines] == documented
    # Integers stay integers, so the printed text is the documented text.
    assert lines[3] == "{'gpu': 2, 'cpu': 0, 'memory_mb': 0}"


def test_resource_requirements_example(capsys):
    # Explicit construction
    req = dagron.ResourceRequirements(resources={"gpu": 2, "cpu": 4, "memory_mb": 8000})

    # Convenience constructors
    gpu_req = dagron.ResourceRequirements.gpu(1)
    cpu_req = dagron.ResourceRequirements.cpu(4)
    mem_req = dagron.ResourceRequirements.memory(4096)

    # Check fit
    print(req.fits({"gpu": 4, "cpu": 16, "memory_mb": 32000}))  # True
    print(req.fits({"gpu": 1, "cpu": 16, "memory_mb": 32000}))  # False (needs 2 GPUs)

    assert _printed(capsys) == ["True", "False"]
    assert gpu_req.resources == {"gpu": 1}
    assert cpu_req.resources == {"cpu": 4}
    assert mem_req.resources == {"memory_mb": 4096}


def test_executor_requirements_are_valid_for_the_executor_pool():
    # The requirements and pool of the ResourceAwareExecutor example.
    pool = dagron.ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})

    requirements = {
        "preprocess": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 2000}),
        "train_model_a": dagron.ResourceRequirements(
            resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}
        ),
        "train_model_b": dagron.ResourceRequirements(
            resources={"gpu": 1, "cpu": 4, "memory_mb": 8000}
        ),
        "evaluate": dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 4000}),
    }
    assert all(pool.can_satisfy(req) for req in requirements.values())
    # Both training nodes fit side by side, exactly filling the pool.
    assert pool.try_acquire(requirements["train_model_a"], node_name="train_model_a")
    assert pool.try_acquire(requirements["train_model_b"], node_name="train_model_b")
    assert pool.available == {"gpu": 0, "cpu": 0, "memory_mb": 0}
    assert not pool.try_acquire(requirements["evaluate"], node_name="evaluate")


def test_resource_timeline_example(capsys):
    pool = dagron.ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})
    prep = dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 2000})
    train = dagron.ResourceRequirements(resources={"gpu": 1, "cpu": 3, "memory_mb": 4000})
    evaluate = dagron.ResourceRequirements(resources={"cpu": 2, "memory_mb": 4000})
    # What a run of preprocess -> (train_model_a, train_model_b) -> evaluate does.
    pool.acquire(prep, node_name="preprocess")
    pool.release(prep, node_name="preprocess")
    pool.acquire(train, node_name="train_model_a")
    pool.acquire(train, node_name="train_model_b")
    pool.release(train, node_name="train_model_a")
    pool.release(train, node_name="train_model_b")
    pool.acquire(evaluate, node_name="evaluate")
    pool.release(evaluate, node_name="evaluate")

    timeline = pool.timeline
    print(f"Snapshots: {len(timeline.snapshots)}")
    print(f"Peak utilization: {timeline.peak_utilization()}")
    # {"gpu": 1.0, "cpu": 0.75, "memory_mb": 0.5}

    for snap in timeline.snapshots:
        print(
            f"  t={snap.timestamp:.3f} {snap.event} {snap.node_name}: "
            f"gpu={snap.allocated.get('gpu', 0)}"
        )

    lines = _printed(capsys)
    assert lines[0] == "Snapshots: 8"
    assert lines[1].startswith("Peak utilization: ")
    peak = ast.literal_eval(lines[1].removeprefix("Peak utilization: "))
    assert peak == {"gpu": 1.0, "cpu": 0.75, "memory_mb": 0.5}
    rows = [re.fullmatch(r"  t=\d+\.\d{3} (\w+) (\w+): gpu=(\d+)", line) for line in lines[2:]]
    assert all(rows), lines[2:]
    assert [(m[1], m[2], int(m[3])) for m in rows] == [
        ("acquire", "preprocess", 0),
        ("release", "preprocess", 0),
        ("acquire", "train_model_a", 1),
        ("acquire", "train_model_b", 2),
        ("release", "train_model_a", 1),
        ("release", "train_model_b", 0),
        ("acquire", "evaluate", 0),
        ("release", "evaluate", 0),
    ]


def test_resource_snapshot_documented_fields():
    pool = dagron.ResourcePool(capacities={"gpu": 4, "cpu": 16, "memory_mb": 32000})
    pool.acquire(dagron.ResourceRequirements.gpu(2), node_name="train")
    (snap,) = pool.timeline.snapshots
    assert isinstance(snap, dagron.ResourceSnapshot)
    assert isinstance(snap.timestamp, float)
    assert snap.allocated == {"gpu": 2, "cpu": 0, "memory_mb": 0}
    assert snap.available == {"gpu": 2, "cpu": 16, "memory_mb": 32000}
    assert snap.node_name == "train"
    assert snap.event == "acquire"
