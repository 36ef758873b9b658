"""The Dask backend on a real LocalCluster: worker processes over TCP on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from loopback import free_port

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from dagforge import (  # noqa: E402
    DAG,
    BackendError,
    Config,
    Executor,
    GraphError,
    ResourceError,
    Task,
    WorkerLostError,
)
from dagforge.execution.backends.dask_backend import DaskBackend  # noqa: E402
from dagforge.execution.dask_run import run_graph  # noqa: E402

pytestmark = pytest.mark.slow


def layered(n_layers=4, width=3) -> DAG:
    d = DAG()
    prev: list[str] = []
    for layer in range(n_layers):
        cur = [f"n{layer}_{k}" for k in range(width)]
        for k, name in enumerate(cur):
            if prev:
                d.add_node(name, lambda *xs, k=k: sum(xs) + k)
                for p in prev[: k + 1]:
                    d.add_edge(p, name)
            else:
                d.add_node(name, lambda k=k: k + 1)
        prev = cur
    return d


def sleeper(seconds, value=None):
    def fn(*_):
        time.sleep(seconds)
        return value

    return fn


def max_overlap(result, names) -> int:
    """How many nodes ran at once at most, from the result's (worker-side) intervals."""
    edges = []
    for n in names:
        r = result.results[n]
        edges += [(r.start, 1), (r.end, -1)]
    running = peak = 0
    for _, step in sorted(edges):  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


# -- results, data placement, profiling ------------------------------------------------------


def test_results_equal_an_inline_run_and_values_stay_on_the_cluster(client):
    d = layered()
    expected = Executor(d).execute().values
    backend = DaskBackend(client)
    result = Executor(d, backend=backend, enable_tracing=True).execute()
    assert result.ok and result.succeeded == len(d)
    futures = result.values
    assert all(isinstance(f, distributed.Future) for f in futures.values())
    assert backend.gather(result) == expected
    assert all(w.startswith("tcp://127.0.0.1:") for w in result.workers)
    who = client.who_has(list(futures.values()))
    assert all(who[f.key] for f in futures.values())  # held by workers
    tracks = set(result.trace.tracks.values())  # one track per worker thread that ran nodes
    assert tracks == set(result.workers) and all("/" in t for t in tracks)


def test_a_second_run_on_the_same_backend_computes_afresh(client):
    backend = DaskBackend(client)
    first = Executor(DAG().add_node("a", lambda: 1), backend=backend).execute()
    second = Executor(DAG().add_node("a", lambda: 2), backend=backend).execute()
    assert first.values["a"].result() == 1  # still held, same node name and attempt
    assert second.values["a"].result() == 2


class Make(Task):
    outputs = ["data", "meta"]

    def compute(self, cfg=None):
        import numpy as np

        return {"data": np.ones((cfg.N, 8)), "meta": {"rows": cfg.N}}


class Scale(Task):
    inputs = ["data"]
    outputs = ["total"]

    def compute(self, data, cfg=None):
        return {"total": float(data.sum())}


class Describe(Task):
    inputs = ["rows"]
    outputs = ["text"]

    def compute(self, rows, cfg=None):
        return {"text": f"{rows['rows']} rows"}


def task_dag(n: int) -> DAG:
    return DAG(
        tasks={"make": Make(), "scale": Scale(), "describe": Describe()},
        edges=[("make", "scale"), ("make", "describe", {"meta": "rows"})],
        config=Config(N=n),
    )


def test_task_dags_route_outputs_on_the_workers_and_profile_there(client):
    n = 100_000  # 6.4 MB of float64 that must never come to this process
    inline = Executor(task_dag(n)).execute()
    result = Executor(task_dag(n), backend=DaskBackend(client), profile=True).execute()
    assert result.ok
    make = result.results["make"]
    assert isinstance(make.value, distributed.Future)
    assert client.who_has([make.value])[make.value.key]  # the big value lives on a worker
    assert result.results["scale"].value.result() == inline.results["scale"].value
    assert result.results["describe"].value.result() == {"text": f"{n} rows"}
    assert make.metrics.output_bytes["data"] == n * 8 * 8  # measured on the worker
    assert result.edge_bytes[("make", "scale")] == n * 64
    assert make.worker.startswith("tcp://127.0.0.1:")


# -- the engine keeps dispatch and admission ----------------------------------------------


def test_priorities_and_max_concurrency_stay_in_the_engine(client):
    d = DAG()
    for name, prio in [("low", 1), ("high", 9), ("mid", 5), ("top", 20)]:
        d.add_node(name, sleeper(0.05), priority=prio)
    result = Executor(d, backend=DaskBackend(client), max_concurrency=1).execute()
    assert result.execution_order == ["top", "high", "mid", "low"]
    starts = sorted(d.nodes, key=lambda n: result.results[n].start)
    assert starts == ["top", "high", "mid", "low"]  # as they really ran on the workers
    assert max_overlap(result, d.nodes) == 1


def test_max_concurrency_caps_nodes_running_across_workers(client):
    d = DAG()
    for k in range(6):
        d.add_node(f"s{k}", sleeper(0.1, k))
    capped = Executor(d, backend=DaskBackend(client), max_concurrency=1).execute()
    assert capped.ok and max_overlap(capped, d.nodes) == 1
    free = Executor(d, backend=DaskBackend(client)).execute()
    assert free.ok and max_overlap(free, d.nodes) <= 2  # 2 worker threads
    assert len({free.results[n].worker for n in d.nodes}) == 2  # Dask used both workers


# -- resources ---------------------------------------------------------------------------------


def current_restrictions():
    worker = distributed.get_worker()
    state = worker.state.tasks[worker.get_current_task()]
    return dict(state.resource_restrictions or {})


def test_node_resources_become_dask_worker_resources(client):
    d = DAG()
    d.add_node("needs_slot", current_restrictions, resources={"slot": 1})
    d.add_node("free", current_restrictions)
    result = Executor(d, backend=DaskBackend(client)).execute()
    assert result.ok
    assert result.results["needs_slot"].value.result() == {"slot": 1}
    assert result.results["free"].value.result() == {}


def test_a_resource_no_worker_declares_fails_the_node_instead_of_hanging(client):
    d = DAG()
    d.add_node("gpu_job", current_restrictions, resources={"gpu": 1})
    d.add_node("after", lambda r: r)
    d.add_edge("gpu_job", "after")
    result = Executor(d, backend=DaskBackend(client)).execute()
    err = result.results["gpu_job"].error
    assert isinstance(err, ResourceError)
    assert "'gpu_job'" in str(err) and "--resources" in str(err) and "gpu=1" in str(err)
    assert result.results["after"].status == "skipped"
    # Kept to the engine (a pool-only resource), the node runs anywhere.
    pool_only = Executor(d, backend=DaskBackend(client, worker_resources=False)).execute()
    assert pool_only.ok and pool_only.results["gpu_job"].value.result() == {}


# -- faults ----------------------------------------------------------------------------------


def test_a_worker_killed_mid_run_does_not_lose_the_run(client, tmp_path):
    client.wait_for_workers(2, timeout=30)
    pids = list(client.run(os.getpid).values())
    flag = tmp_path / "started"

    def slow(k):
        def fn(*_):
            flag.touch()
            time.sleep(0.3)
            return k

        return fn

    d = DAG()
    for k in range(6):
        d.add_node(f"s{k}", slow(k))
    d.add_node("sum", lambda *xs: sum(xs))
    for k in range(6):
        d.add_edge(f"s{k}", "sum")

    def killer():
        deadline = time.monotonic() + 10
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # both workers are inside a node now
        os.kill(pids[0], signal.SIGKILL)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    result = Executor(d, backend=DaskBackend(client)).execute()
    t.join(10)
    assert pids[0] not in client.run(os.getpid).values()  # the kill happened during the run
    assert result.ok, result.failures
    assert result.succeeded == len(d)
    assert result.results["sum"].value.result() == sum(range(6))
    client.wait_for_workers(2, timeout=30)


def test_a_node_that_keeps_killing_its_worker_fails_clearly(client):
    client.wait_for_workers(2, timeout=30)
    d = DAG()
    d.add_node("suicide", lambda: os._exit(3))
    d.add_node("child", lambda x: x)
    d.add_edge("suicide", "child")
    d.add_node("fine", lambda: 1)
    result = Executor(d, backend=DaskBackend(client), fail_fast=False).execute()
    node = result.results["suicide"]
    assert node.status == "failed"
    assert isinstance(node.error, WorkerLostError)
    assert "'suicide'" in str(node.error) and "allowed-failures" in str(node.error)
    assert result.results["child"].status == "skipped"
    assert result.results["fine"].status == "succeeded"
    client.wait_for_workers(2, timeout=30)


def test_unreachable_scheduler_names_the_address():
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    d = DAG().add_node("a", lambda: 1)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(BackendError, match=re.escape(address)):
            Executor(d, backend="dask", address=address).execute()
        with pytest.raises(BackendError, match=re.escape(address)):
            Executor(d, backend=f"dask://127.0.0.1:{port}").execute()


def test_losing_the_scheduler_mid_run_ends_the_run_naming_the_address(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [
            *(sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"),
            *("--port", str(port), "--dashboard-address", ":0"),
        ],
        **quiet,
    )
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "distributed.cli.dask_worker", address),
            *("--nthreads", "1", "--no-dashboard", "--no-nanny"),
        ],
        **quiet,
    )
    flag = tmp_path / "started"

    def long_node():
        flag.touch()
        time.sleep(30)

    def killer():
        deadline = time.monotonic() + 30
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        scheduler.send_signal(signal.SIGKILL)

    try:
        with distributed.Client(address, timeout="20s") as c:
            c.wait_for_workers(1, timeout=20)
        t = threading.Thread(target=killer, daemon=True)
        t.start()
        d = DAG().add_node("long", long_node).add_node("next", lambda x: x)
        d.add_edge("long", "next")
        begun = time.monotonic()
        with pytest.raises(BackendError, match=re.escape(address) + ".*'long'"):
            Executor(d, backend="dask", address=address).execute()
        assert time.monotonic() - begun < 30  # it did not wait for the node to finish
        t.join(5)
    finally:
        for p in (scheduler, worker):
            p.kill()
            p.wait(10)


# -- throughput mode ---------------------------------------------------------------------


def test_throughput_mode_submits_the_whole_graph_and_returns_a_normal_result(client):
    d = layered()
    expected = Executor(d).execute().values
    result = run_graph(d, client=client, gather=True, enable_tracing=True)
    assert result.ok and result.values == expected
    assert result.backend == "dask-graph"
    assert all(w.startswith("tcp://127.0.0.1:") for w in result.workers)
    assert all(r.end >= r.start > 0 for r in result.results.values())
    assert len(result.trace.node_events) == len(d)

    tasks = run_graph(task_dag(1000), client=client, profile=True)
    assert tasks.results["describe"].value.result() == {"text": "1000 rows"}
    assert tasks.edge_bytes[("make", "scale")] == 64000


def test_throughput_mode_reports_failures_and_skips_what_is_below(client):
    bad = DAG()
    bad.add_node("a", lambda: 1)
    bad.add_node("boom", lambda a: 1 / 0)
    bad.add_node("after", lambda b: b)
    bad.add_node("other", lambda a: a + 1)
    bad.add_edge("a", "boom").add_edge("boom", "after").add_edge("a", "other")
    res = run_graph(bad, client=client)
    assert res.status == "failed"
    assert isinstance(res.results["boom"].error, ZeroDivisionError)
    assert res.results["after"].status == "skipped"
    assert "'boom'" in res.results["after"].reason
    assert res.results["other"].value.result() == 2  # independent work still ran


def test_throughput_mode_refuses_what_needs_the_engine(client):
    excl = DAG().add_node("x", lambda: 1, exclusive=True)
    with pytest.raises(GraphError, match=r"'x'.*exclusive"):
        run_graph(excl, client=client)
    retried = DAG().add_node("r", lambda: 1, retries=2)
    with pytest.raises(GraphError, match=r"'r'.*retries"):
        run_graph(retried, client=client)
    cond = DAG().add_node("s", lambda: 1).add_node("t", lambda s: s)
    cond.add_edge("s", "t", when=lambda v: v > 0)
    with pytest.raises(GraphError, match="'s' -> 't'"):
        run_graph(cond, client=client)


def test_conditional_edges_see_values_not_futures(client):
    d = DAG().add_node("s", lambda: 5).add_node("big", lambda s: s).add_node("small", lambda s: s)
    d.add_edge("s", "big", when=lambda v: v > 3).add_edge("s", "small", when=lambda v: v <= 3)
    result = Executor(d, backend=DaskBackend(client)).execute()
    assert result.results["big"].status == "succeeded"
    assert result.results["small"].status == "skipped"
