"""The engine's admission against a ResourcePool: rejection, fairness, release, properties."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagforge import (
    DAG,
    AsyncResourceAwareExecutor,
    ExecutionCallbacks,
    Executor,
    ResourceAwareExecutor,
    ResourceError,
    ResourcePool,
    ResourceRequirements,
)


def test_requirement_beyond_total_capacity_is_rejected_before_anything_runs():
    dag = DAG.builder().add_node("small").add_node("huge").build()
    ran = []
    pool = ResourcePool(capacities={"gpu": 2})
    with pytest.raises(ResourceError) as err:
        ResourceAwareExecutor(dag, pool, {"huge": ResourceRequirements.gpu(3)}).execute(
            {"small": lambda: ran.append("small"), "huge": lambda: ran.append("huge")}
        )
    message = str(err.value)
    assert "huge" in message and "gpu" in message and "3" in message and "2" in message
    assert ran == []


def test_unknown_resource_is_rejected_naming_it():
    dag = DAG.builder().add_node("a").build()
    pool = ResourcePool(capacities={"cpu": 4})
    with pytest.raises(ResourceError, match="tpu"):
        ResourceAwareExecutor(dag, pool, {"a": {"tpu": 1}}).execute({"a": lambda: 1})


def test_resources_as_node_option_are_honoured():
    dag = DAG()
    active = []
    peak = [0]
    lock = threading.Lock()

    def work():
        with lock:
            active.append(1)
            peak[0] = max(peak[0], len(active))
        time.sleep(0.02)
        with lock:
            active.pop()

    for k in range(6):
        dag.add_node(f"n{k}", work, resources={"gpu": 1})
    pool = ResourcePool(capacities={"gpu": 2})
    result = Executor(dag, backend="threads", max_workers=6, resource_pool=pool).execute()
    assert result.succeeded == 6
    assert peak[0] <= 2
    assert pool.allocated == {"gpu": 0}


@pytest.mark.parametrize("limit", [0, 3, 8])
def test_large_request_is_not_starved_by_small_ones(limit):
    """The big node is ready while four small ones hold the pool; at most
    ``overtake_limit`` later small ones may start before it, though each would fit."""
    dag = DAG()
    small = 40
    for k in range(small):
        dag.add_node(f"s{k}", lambda: time.sleep(0.005), resources={"cpu": 1})
        if k == 3:
            dag.add_node("big", lambda: time.sleep(0.005), resources={"cpu": 4})
    pool = ResourcePool(capacities={"cpu": 4})
    result = Executor(
        dag,
        backend="threads",
        max_workers=4,
        resource_pool=pool,
        priority="fifo",
        overtake_limit=limit,
    ).execute()
    assert result.succeeded == small + 1
    order = result.execution_order
    # Without reservation "big" would only start once every small node was done.
    assert order.index("big") <= 4 + limit
    assert order.index("big") < small - 10
    big = result.results["big"]
    for k in range(small):
        other = result.results[f"s{k}"]
        assert other.end <= big.start or other.start >= big.end, "big must run alone"


def test_resources_released_on_failure_and_callbacks_fire():
    events = []
    cb = ExecutionCallbacks(
        on_resource_acquired=lambda n, r: events.append(("acq", n, r.resources["gpu"])),
        on_resource_released=lambda n, r: events.append(("rel", n, r.resources["gpu"])),
    )
    dag = DAG.builder().add_node("ok").add_node("bad").build()

    def bad():
        raise RuntimeError("boom")

    pool = ResourcePool(capacities={"gpu": 1})
    result = ResourceAwareExecutor(
        dag,
        pool,
        {"ok": ResourceRequirements.gpu(1), "bad": ResourceRequirements.gpu(1)},
        callbacks=cb,
        fail_fast=False,
    ).execute({"ok": lambda: 1, "bad": bad})
    assert result.failed == 1 and result.succeeded == 1
    assert pool.allocated == {"gpu": 0}
    assert sorted(e[0] for e in events) == ["acq", "acq", "rel", "rel"]


def test_resources_released_on_timeout():
    dag = DAG()
    dag.add_node("slow", lambda: time.sleep(1.0), timeout=0.1, resources={"gpu": 1})
    dag.add_node("after", lambda: 1, resources={"gpu": 1})
    pool = ResourcePool(capacities={"gpu": 1})
    result = Executor(
        dag, backend="threads", max_workers=2, resource_pool=pool, fail_fast=False
    ).execute()
    assert result.results["slow"].status == "timed_out"
    assert result.results["after"].status == "succeeded"
    assert pool.allocated == {"gpu": 0}


def test_async_resource_aware_executor_runs_coroutines_on_one_engine():
    import asyncio

    dag = (
        DAG.builder()
        .add_node("a")
        .add_node("b")
        .add_node("c")
        .add_edge("a", "c")
        .add_edge("b", "c")
        .build()
    )
    pool = ResourcePool(capacities={"gpu": 1})

    async def job(x):
        await asyncio.sleep(0.01)
        return x

    async def main():
        ex = AsyncResourceAwareExecutor(dag, pool, {k: ResourceRequirements.gpu(1) for k in "abc"})
        return await ex.execute({"a": lambda: job(1), "b": lambda: job(2), "c": lambda: job(3)})

    result = asyncio.run(main())
    assert result.succeeded == 3
    a, b = result.results["a"], result.results["b"]
    assert a.end <= b.start or b.end <= a.start  # one gpu: never together
    assert pool.timeline.peak_utilization()["gpu"] == 1.0


@st.composite
def _workloads(draw):
    n = draw(st.integers(1, 12))
    caps = {"cpu": draw(st.integers(1, 4)), "gpu": draw(st.integers(1, 2))}
    edges = []
    for v in range(n):
        for u in range(v):
            if draw(st.booleans()) and draw(st.booleans()):
                edges.append((u, v))
    reqs = []
    for _ in range(n):
        reqs.append({k: draw(st.integers(0, c)) for k, c in caps.items()})
    return n, caps, edges, reqs


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_workloads(), st.sampled_from(["threads", "inline"]))
def test_property_capacity_dependencies_and_exactly_once(workload, backend):
    n, caps, edges, reqs = workload
    dag = DAG()
    calls = [0] * n
    lock = threading.Lock()

    def make(k):
        def fn(*_):
            with lock:
                calls[k] += 1
            return k

        return fn

    for k in range(n):
        dag.add_node(f"n{k}", make(k), resources={r: a for r, a in reqs[k].items() if a})
    for u, v in edges:
        dag.add_edge(f"n{u}", f"n{v}")
    pool = ResourcePool(capacities=caps)
    result = Executor(dag, backend=backend, max_workers=3, resource_pool=pool).execute()
    assert result.succeeded == n
    assert calls == [1] * n
    for snap in pool.timeline.snapshots:
        for r, cap in caps.items():
            assert -1e-9 <= snap.allocated.get(r, 0) <= cap + 1e-9
    for u, v in edges:
        assert result.results[f"n{u}"].end <= result.results[f"n{v}"].start
