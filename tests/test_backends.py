"""The processes and asyncio backends, retries and timeouts on every backend."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from dagforge import DAG, Executor, NodeTimeoutError, WorkerLostError

BACKENDS = ["inline", "threads", "processes", "asyncio"]


def diamond() -> DAG:
    return (
        DAG.builder()
        .add_node("a")
        .add_node("b")
        .add_node("c")
        .add_node("d")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .build()
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_routes_values_the_same(backend):
    offset = 10  # captured by the closures: processes need cloudpickle for this
    tasks = {
        "a": lambda: offset,
        "b": lambda a: a + 1,
        "c": lambda a: a * 2,
        "d": lambda b, c: (b, c),
    }
    result = Executor(diamond(), backend=backend, max_workers=2).execute(tasks)
    assert result.ok
    assert result.outputs == {"d": (11, 20)}
    assert result.backend == backend


def _exit_hard():
    os._exit(3)


def _sigkill_self():
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("killer", [_exit_hard, _sigkill_self])
def test_a_dying_worker_fails_only_its_node(killer):
    dag = DAG()
    dag.add_node("dies", killer)
    for k in range(4):
        dag.add_node(f"ok{k}", lambda k=k: k * k)
    result = Executor(dag, backend="processes", max_workers=2, fail_fast=False).execute()
    dies = result.results["dies"]
    assert dies.status == "failed"
    assert isinstance(dies.error, WorkerLostError)
    assert "dies" in str(dies.error)
    assert result.succeeded == 4
    assert [result.results[f"ok{k}"].value for k in range(4)] == [0, 1, 4, 9]


def test_processes_timeout_kills_the_worker_and_the_run_goes_on():
    dag = DAG()
    dag.add_node("slow", lambda: time.sleep(30), timeout=0.3)
    dag.add_node("fast", lambda: os.getpid())
    result = Executor(dag, backend="processes", max_workers=1, fail_fast=False).execute()
    slow = result.results["slow"]
    assert slow.status == "timed_out"
    assert isinstance(slow.error, NodeTimeoutError) and "killed" in str(slow.error)
    assert result.results["fast"].status == "succeeded"


def test_asyncio_timeout_cancels_the_coroutine():
    cancelled = []

    async def slow():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    dag = DAG()
    dag.add_node("slow", slow, timeout=0.1)
    result = Executor(dag, backend="asyncio", fail_fast=False).execute()
    assert result.results["slow"].status == "timed_out"
    assert cancelled == [True]


def test_asyncio_runs_coroutines_concurrently_on_the_loop_and_honours_max_concurrency():
    live = [0]
    peak = [0]

    async def job():
        live[0] += 1
        peak[0] = max(peak[0], live[0])
        await asyncio.sleep(0.01)
        live[0] -= 1
        return 1

    dag = DAG()
    for k in range(12):
        dag.add_node(f"n{k}", job)
    result = Executor(dag, backend="asyncio", max_concurrency=3).execute()
    assert result.succeeded == 12
    assert peak[0] == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_retries_until_success_and_every_attempt_is_recorded(backend, tmp_path):
    marker = tmp_path / "attempts"

    def flaky():
        n = len(marker.read_text()) if marker.exists() else 0
        marker.write_text("x" * (n + 1))
        if n < 2:
            raise ConnectionError(f"attempt {n + 1} failed")
        return "ok"

    dag = DAG()
    dag.add_node("flaky", flaky, retries=3, retry_delay=0.01, retry_on=(ConnectionError,))
    result = Executor(dag, backend=backend).execute()
    node = result.results["flaky"]
    assert node.status == "succeeded" and node.value == "ok"
    assert [a.status for a in node.attempts] == ["failed", "failed", "succeeded"]
    assert all(isinstance(a.error, ConnectionError) for a in node.attempts[:2])


def test_retry_on_filters_exception_types():
    calls = []

    def wrong():
        calls.append(1)
        raise ValueError("not retried")

    dag = DAG()
    dag.add_node("w", wrong, retries=5, retry_on=(ConnectionError,))
    result = Executor(dag).execute()
    assert result.results["w"].status == "failed"
    assert len(calls) == 1


def test_threads_timeout_marks_timed_out_and_moves_on():
    dag = DAG()
    dag.add_node("stuck", lambda: time.sleep(2), timeout=0.1)
    dag.add_node("next", lambda: "done")
    result = Executor(dag, backend="threads", max_workers=1, fail_fast=False).execute()
    assert result.results["stuck"].status == "timed_out"
    assert result.results["next"].value == "done"  # a replacement thread took over


def test_threads_callback_errors_end_the_run_instead_of_hanging():
    from dagforge import ExecutionCallbacks

    dag = DAG()
    for k in range(20):
        dag.add_node(f"n{k}", lambda: None)

    def explode(name, value):
        raise LookupError(f"callback failed on {name}")

    ex = Executor(
        dag,
        backend="threads",
        max_workers=2,
        callbacks=ExecutionCallbacks(on_node_complete=explode),
    )
    with pytest.raises(LookupError, match="callback failed"):
        ex.execute()


def test_threads_callbacks_never_overlap_even_when_workers_apply_completions():
    import threading

    from dagforge import ExecutionCallbacks

    inside = [0]
    overlaps = []
    guard = threading.Lock()

    def hook(name, value=None):
        with guard:
            inside[0] += 1
            overlaps.append(inside[0])
        time.sleep(0.0005)
        with guard:
            inside[0] -= 1

    dag = DAG()
    for k in range(40):
        dag.add_node(f"n{k}", lambda: time.sleep(0.001))
    result = Executor(
        dag,
        backend="threads",
        max_workers=4,
        callbacks=ExecutionCallbacks(on_node_start=hook, on_node_complete=hook),
    ).execute()
    assert result.succeeded == 40
    assert max(overlaps) == 1  # one engine at a time, whichever thread it is on
