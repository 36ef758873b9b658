"""The Dask backend on a real LocalCluster: worker processes over TCP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from dagforge import DAG, BackendError, Config, Executor, Task, WorkerLostError  # noqa: E402
from dagforge.execution.backends.dask_backend import DaskBackend  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            resources={"slot": 1},
        )
        c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


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


def test_results_equal_an_inline_run_and_values_stay_on_the_cluster(client):
    d = layered()
    expected = Executor(d).execute().values
    backend = DaskBackend(client)
    result = Executor(d, backend=backend).execute()
    assert result.ok and result.succeeded == len(d)
    futures = result.values
    assert all(isinstance(f, distributed.Future) for f in futures.values())
    assert backend.gather(result) == expected
    assert all(w.startswith("tcp://127.0.0.1:") for w in result.workers)
    who = client.who_has(list(futures.values()))
    assert all(who[f.key] for f in futures.values())  # held by workers, not the client


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


def test_task_dags_route_outputs_and_profile_on_the_worker(client):
    d = DAG(
        tasks={"make": Make(), "scale": Scale()}, edges=[("make", "scale")], config=Config(N=1000)
    )
    result = Executor(d, backend=DaskBackend(client), profile=True).execute()
    assert result.ok
    assert result.results["scale"].value.result() == {"total": 8000.0}
    make = result.results["make"]
    assert make.metrics.output_bytes["data"] == 1000 * 8 * 8  # numpy nbytes rule
    assert result.edge_bytes[("make", "scale")] == 64000
    assert make.worker.startswith("tcp://127.0.0.1:")


def test_priorities_and_max_concurrency_stay_in_the_engine(client):
    d = DAG()
    for name, prio in [("low", 1), ("high", 9), ("mid", 5)]:
        d.add_node(name, lambda: None, priority=prio)
    result = Executor(d, backend=DaskBackend(client), max_concurrency=1).execute()
    assert result.execution_order == ["high", "mid", "low"]


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


def test_a_worker_killed_mid_run_does_not_lose_the_run(client):
    pids = list(client.run(os.getpid).values())
    started = threading.Event()

    def slow(k):
        def fn(*_):
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
        started.wait(5)
        time.sleep(0.2)
        os.kill(pids[0], signal.SIGKILL)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    started.set()
    result = Executor(d, backend=DaskBackend(client)).execute()
    t.join(5)
    assert result.ok, result.failures
    assert result.results["sum"].value.result() == sum(range(6))
    client.wait_for_workers(2, timeout=30)


def test_a_node_that_keeps_killing_its_worker_fails_clearly(client):
    d = DAG()
    d.add_node("suicide", lambda: os.kill(os.getpid(), signal.SIGKILL))
    d.add_node("fine", lambda: 1)
    result = Executor(d, backend=DaskBackend(client), fail_fast=False).execute()
    node = result.results["suicide"]
    assert node.status == "failed"
    assert isinstance(node.error, WorkerLostError) and "suicide" in str(node.error)
    assert result.results["fine"].status == "succeeded"
    client.wait_for_workers(2, timeout=30)


def test_unreachable_scheduler_names_the_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    d = DAG().add_node("a", lambda: 1)
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}"):
        Executor(d, backend="dask", address=address).execute()


def test_throughput_mode_submits_the_whole_graph(client):
    from dagforge.execution.backends.dask_graph import run_graph

    d = layered()
    expected = Executor(d).execute().values
    result = run_graph(d, client=client, gather=True)
    assert result.ok and result.values == expected

    bad = DAG()
    bad.add_node("a", lambda: 1)
    bad.add_node("boom", lambda a: 1 / 0)
    bad.add_node("after", lambda b: b)
    bad.add_edge("a", "boom").add_edge("boom", "after")
    res = run_graph(bad, client=client)
    assert res.results["boom"].status == "failed"
    assert isinstance(res.results["boom"].error, ZeroDivisionError)
    assert res.results["after"].status == "skipped"

    excl = DAG().add_node("x", lambda: 1, exclusive=True)
    with pytest.raises(Exception, match="need the engine"):
        run_graph(excl, client=client)
