"""The engine's injectable clock: a backend on virtual time (as ``simulate()`` uses).

A small virtual-time backend runs each node's callable at once but stamps its event with
virtual start/end times; ``wait(timeout)`` advances its clock to the next completion or
to ``now + timeout``, whichever is first. Every time the engine reads (timers, retry
backoff, timeouts, t0/t1) must then be virtual: the assertions compare exact virtual
times, and nothing here sleeps.
"""

from __future__ import annotations

import heapq

import pytest

from dagforge import DAG, Executor, ResourcePool
from dagforge.execution.backends.base import Backend
from dagforge.execution.engine import Run


class VirtualBackend(Backend):
    """``slots`` workers on a virtual clock; node ``name`` takes ``durations[name]``."""

    name = "virtual"

    def __init__(self, durations: dict[str, float], slots: int = 2) -> None:
        super().__init__()
        self.now = 0.0
        self.durations = durations
        self.slots = slots
        self.worker_names = [f"v{k}" for k in range(slots)]
        self.free = list(range(slots))
        self.pending: list[tuple[float, int, tuple]] = []
        self.seq = 0
        self.abandoned: set[tuple[int, int]] = set()
        self.waits: list[float | None] = []

    def clock(self) -> float:
        return self.now

    @property
    def capacity(self) -> int:
        return self.slots

    def submit(self, job: tuple) -> None:
        idx, attempt, _kind, fn, args, _kwargs, name, _outputs, _ser = job
        wid = self.free.pop()
        start = self.now
        end = start + self.durations.get(name, 1.0)
        try:
            event = (idx, attempt, True, fn(*args), None, None, start, end, wid, None)
        except Exception as exc:
            event = (idx, attempt, False, None, exc, "", start, end, wid, None)
        self.seq += 1
        heapq.heappush(self.pending, (end, self.seq, event))

    def wait(self, timeout: float | None) -> list[tuple]:
        self.waits.append(timeout)
        pending = self.pending
        if not pending or (timeout is not None and pending[0][0] > self.now + timeout):
            assert timeout is not None, "the engine waited forever with nothing in flight"
            self.now += timeout
            return []
        t = self.now = pending[0][0]
        out = []
        while pending and pending[0][0] == t:
            ev = heapq.heappop(pending)[2]
            self.free.append(ev[8])
            out.append(ev)
        return out

    def abandon(self, idx: int, attempt: int) -> None:
        # Drop the job and free its slot at once (as threads spawns a replacement worker).
        self.abandoned.add((idx, attempt))
        for k, (_, _, ev) in enumerate(self.pending):
            if (ev[0], ev[1]) == (idx, attempt):
                self.free.append(ev[8])
                self.pending.pop(k)
                heapq.heapify(self.pending)
                return


def _chain_and_fan() -> DAG:
    dag = DAG()
    for name in ("a", "b", "c", "d"):
        dag.add_node(name, lambda *p: 1)
    dag.add_edge("a", "b")
    dag.add_edge("a", "c")
    dag.add_edge("b", "d")
    dag.add_edge("c", "d")
    return dag


def test_events_are_recorded_at_their_virtual_times():
    backend = VirtualBackend({"a": 2.0, "b": 3.0, "c": 5.0, "d": 1.0})
    result = Run(_chain_and_fan(), None, backend).run()
    assert result.ok
    times = {n: (result[n].start, result[n].end) for n in "abcd"}
    assert times == {"a": (0.0, 2.0), "b": (2.0, 5.0), "c": (2.0, 7.0), "d": (7.0, 8.0)}
    assert result.duration == 8.0


def test_retry_backoff_waits_on_the_virtual_clock():
    calls = []

    def flaky():
        calls.append(len(calls))
        if len(calls) < 3:
            raise ValueError("not yet")
        return "ok"

    dag = DAG()
    dag.add_node("f", flaky, retries=2, retry_delay=10.0, retry_backoff=2.0, retry_jitter=0)
    backend = VirtualBackend({"f": 1.0}, slots=1)
    result = Run(dag, None, backend).run()
    assert result["f"].status == "succeeded"
    # attempt 1: 0-1, waits 10; attempt 2: 11-12, waits 20; attempt 3: 32-33
    assert [(a.start, a.end) for a in result["f"].attempts] == [(0, 1), (11, 12), (32, 33)]
    assert 10.0 in backend.waits and 20.0 in backend.waits  # the engine asked to wait that long


def test_timeout_fires_at_its_virtual_deadline_and_abandons_the_job():
    dag = DAG()
    dag.add_node("slow", lambda: 1, timeout=5.0)
    dag.add_node("after", lambda: 2)
    backend = VirtualBackend({"slow": 100.0, "after": 1.0}, slots=1)
    result = Run(dag, None, backend, fail_fast=False).run()
    assert result["slow"].status == "timed_out"
    assert (result["slow"].start, result["slow"].end) == (0.0, 5.0)
    assert (result["after"].start, result["after"].end) == (5.0, 6.0)
    assert backend.abandoned == {(0, 1)}


def test_resources_and_concurrency_on_virtual_time():
    dag = DAG()
    for k in range(4):
        dag.add_node(f"n{k}", lambda: 1, resources={"gpu": 1})
    backend = VirtualBackend({f"n{k}": 4.0 for k in range(4)}, slots=4)
    run = Executor(dag, backend=backend, resource_pool=ResourcePool({"gpu": 2}))
    result = run.execute()
    ends = sorted(result[f"n{k}"].end for k in range(4))
    assert ends == [4.0, 4.0, 8.0, 8.0]  # two at a time: the pool, not the slots


def test_explicit_clock_wins_over_the_backend_clock():
    backend = VirtualBackend({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    ticks = iter(range(1000))
    result = Run(_chain_and_fan(), None, backend, clock=lambda: float(next(ticks))).run()
    assert result.ok
    assert result.duration > 0  # t0/t1 read from the given clock, not the backend's


def test_the_default_clock_is_perf_counter():
    from time import perf_counter

    from dagforge.execution.backends.inline import InlineBackend

    run = Run(_chain_and_fan(), None, InlineBackend())
    assert run.clock is perf_counter


@pytest.mark.parametrize("slots", [1, 3])
def test_virtual_makespan_of_independent_nodes(slots):
    dag = DAG()
    for k in range(6):
        dag.add_node(f"n{k}", lambda: 1)
    backend = VirtualBackend({f"n{k}": 2.0 for k in range(6)}, slots=slots)
    result = Run(dag, None, backend).run()
    assert result.duration == 2.0 * (6 // slots)


def test_revising_a_success_is_refused_unless_the_backend_is_provisional():
    from dagforge import NodeStateError
    from dagforge.execution import states as S

    backend = VirtualBackend({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    run = Run(_chain_and_fan(), None, backend)
    run.run()
    with pytest.raises(NodeStateError, match="node 'a' cannot go from 'succeeded' to 'failed'"):
        run._revise(0, S.FAILED, error=(RuntimeError("x"), ""))
    backend.provisional = True  # type: ignore[attr-defined]  # e.g. Dask: values are futures
    run._revise(0, S.FAILED, error=(RuntimeError("x"), ""))
    assert run.status[0] == S.FAILED and run.values[0] is None
    with pytest.raises(NodeStateError, match="node 'a' cannot go from 'failed'"):
        run._revise(0, S.SKIPPED)  # once only: out of SUCCEEDED
