"""The functional authoring API: a pipeline body traced once into a DAG, run on the engine."""

from __future__ import annotations

import threading

import pytest

from dagforge import ExecutionError, NodeTimeoutError, ResourcePool
from dagforge.functional import node, pipeline

# --- module-level nodes (the processes backend imports them by name) -----------------


@node
def load(n):
    return list(range(n))


@node(priority=5, retries=0)
def total(xs, scale):
    return sum(xs) * scale


@node(unpack_to=2)
def split(xs):
    return xs[: len(xs) // 2], xs[len(xs) // 2 :]


@node
def combine(parts, weights):
    return {k: sum(v) * weights[k] for k, v in parts.items()}


@pipeline
def flow(n, scale=10):
    return total(load(n), scale=scale)


@pipeline
def halves(n):
    left, right = split(load(n))
    return combine({"l": left, "r": right}, weights={"l": 1, "r": 100})


def test_trace_makes_edges_from_results_and_configuration_from_plain_values():
    assert flow.dag.nodes == ["n", "scale", "load", "total"]
    assert set(flow.dag.edges) == {("n", "load"), ("load", "total"), ("scale", "total")}
    assert flow.configuration == {"load": {}, "total": {}}
    assert flow.inputs == {"n": "n", "scale": "scale"}
    assert flow.dag.options("total").priority == 5
    assert flow(4) == 60 and flow(4, scale=2) == 12 and flow(n=3) == 30


def test_plain_values_become_configuration_and_nested_results_become_edges():
    assert halves(6) == {"l": 0 + 1 + 2, "r": (3 + 4 + 5) * 100}
    assert halves.configuration["combine"] == {"weights": {"l": 1, "r": 100}}
    assert halves.dag.predecessors("combine") == ["split"]
    assert halves.dag.config["combine"] == {"weights": {"l": 1, "r": 100}}


def test_body_is_traced_once_and_nodes_are_plain_functions_outside():
    calls = []

    @pipeline
    def p(x):
        calls.append(1)
        return total(load(x), scale=1)

    assert [p(3), p(4), p(5)] == [3, 6, 10]
    assert len(calls) == 1
    assert total([1, 2], 3) == 9 and load(2) == [0, 1]


def test_repeated_calls_get_one_node_each():
    @pipeline
    def p(x):
        a = total(load(x), scale=1)
        b = total(load(x), scale=2)
        return a, b

    assert p(3) == (3, 6)
    assert p.dag.nodes == ["x", "load", "total", "load#2", "total#2"]
    assert p.return_nodes == ["total", "total#2"]


def test_branching_on_a_traced_result_is_a_clear_error():
    @pipeline
    def p(x):
        if load(x):
            return 1
        return 2

    with pytest.raises(TypeError, match="'load'"):
        p.dag  # noqa: B018

    @pipeline
    def q(x):
        a, _b = load(x)
        return a

    with pytest.raises(TypeError, match="unpack_to"):
        q.dag  # noqa: B018


def test_a_pipeline_inside_a_pipeline_inlines_its_nodes():
    @pipeline
    def outer(m):
        return total([flow(m), flow(m, 1)], scale=1)

    assert outer(3) == 30 + 3
    assert outer.dag.nodes == ["m", "load", "total", "load#2", "total#2", "total#3"]


def test_a_failing_node_raises_execution_error_caused_by_the_node_error():
    @node
    def boom(x):
        raise ZeroDivisionError(f"bad {x}")

    @pipeline
    def p(x):
        return total([boom(x)], scale=1)

    with pytest.raises(ExecutionError) as err:
        p(1)
    assert isinstance(err.value.__cause__, ZeroDivisionError)
    run = p.execute(2)
    assert not run.ok and run.result["total"].status == "skipped"
    assert isinstance(run.result.failures["boom"], ZeroDivisionError)


@pytest.mark.parametrize("backend", ["inline", "threads", "processes"])
def test_runs_on_every_backend(backend):
    assert flow.with_options(backend=backend, max_workers=2)(5, scale=3) == 30
    assert halves.with_options(backend=backend, max_workers=2)(4) == {"l": 1, "r": 500}


def test_priority_orders_ready_nodes():
    order = []

    @node(priority=1)
    def low(x):
        order.append("low")
        return x

    @node(priority=9)
    def high(x):
        order.append("high")
        return x

    @pipeline(max_concurrency=1)
    def p(x):
        return low(x), high(x)

    assert p(1) == (1, 1)
    assert order == ["high", "low"]


def test_exclusive_nodes_run_alone_on_threads():
    lock = threading.Lock()
    running = [0]
    peak = [0]
    overlap_seen = []

    def body(x):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        barrier_wait()
        with lock:
            running[0] -= 1
        return x

    # Two plain nodes meet at a barrier (so they do overlap); the exclusive one never does.
    barrier = threading.Barrier(2, timeout=5)

    def barrier_wait():
        if threading.current_thread().name != "exclusive":
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                overlap_seen.append("broken")

    @node
    def a(x):
        return body(x)

    @node
    def b(x):
        return body(x)

    @node(exclusive=True)
    def solo(x):
        with lock:
            alone = running[0] == 0
        return alone

    @pipeline(backend="threads", max_workers=3)
    def p(x):
        return a(x), b(x), solo(x)

    assert p(7) == (7, 7, True)
    assert peak[0] == 2 and not overlap_seen


def test_retries_and_timeout_are_honoured():
    attempts = []

    @node(retries=2)
    def flaky(x):
        attempts.append(x)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return x * 2

    @pipeline
    def p(x):
        return flaky(x)

    assert p(4) == 8 and attempts == [4, 4, 4]

    release = threading.Event()

    @node(timeout=0.2)
    def slow(x):
        release.wait(5)
        return x

    @pipeline(backend="threads", max_workers=2)
    def q(x):
        return slow(x)

    try:
        run = q.execute(1)
    finally:
        release.set()
    assert isinstance(run.result.failures["slow"], NodeTimeoutError)


def test_resources_are_admitted_against_the_pool():
    lock = threading.Lock()
    holding = [0]
    peak = [0]

    def hold(x):
        with lock:
            holding[0] += 1
            peak[0] = max(peak[0], holding[0])
        with lock:
            holding[0] -= 1
        return x

    @node(resources={"gpu": 1})
    def g1(x):
        return hold(x)

    @node(resources={"gpu": 1})
    def g2(x):
        return hold(x)

    @pipeline(backend="threads", max_workers=2, resource_pool=ResourcePool({"gpu": 1}))
    def p(x):
        return g1(x), g2(x)

    assert p(3) == (3, 3)
    assert peak[0] == 1
    assert p.dag.options("g1").resources == {"gpu": 1}


def test_profile_carries_the_configuration():
    prof = halves.profile(6, seed=1)
    assert prof.configuration["combine"] == {"weights": {"l": 1, "r": 100}}
    assert set(prof.nodes) == {"n", "load", "split", "combine"}


def test_bad_options_and_bad_calls_name_the_culprit():
    with pytest.raises(ValueError, match="retries"):
        node(retries=-1)(lambda x: x)
    with pytest.raises(TypeError, match="flow"):
        flow(1, 2, 3)


def test_async_nodes_on_the_asyncio_backend():
    import asyncio

    @node
    async def fetch(x):
        await asyncio.sleep(0)
        return x + 1

    @pipeline(backend="asyncio")
    def p(x):
        return total([fetch(x), fetch(10)], scale=2)

    assert p(1) == (2 + 11) * 2


def test_runs_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    from dagforge.execution.backends.dask_backend import DaskBackend

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        p = halves.with_options(backend=DaskBackend(client))
        assert p(6) == {"l": 3, "r": 1200}
        run = p.execute(2)
        assert run.result.backend == "dask" and run.value == {"l": 0, "r": 100}
