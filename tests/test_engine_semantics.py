"""Engine semantics: priorities, exclusivity, concurrency caps, failure modes, callbacks,
interrupts and the result object."""

from __future__ import annotations

import threading
import time

import pytest

from dagforge import DAG, ExecutionCallbacks, ExecutionError, Executor


def boom(*_):
    raise ValueError("boom")


def branches() -> DAG:
    """root -> bad -> after_bad ; root -> good -> after_good ; lone."""
    d = DAG()
    d.add_node("root", lambda: 1)
    d.add_node("bad", boom)
    d.add_node("after_bad", lambda x: x)
    d.add_node("good", lambda r: r + 1)
    d.add_node("after_good", lambda g: g + 1)
    d.add_node("lone", lambda: "alone")
    d.add_edge("root", "bad").add_edge("bad", "after_bad")
    d.add_edge("root", "good").add_edge("good", "after_good")
    return d


def test_fail_fast_skips_every_node_not_started():
    result = Executor(branches(), priority="fifo").execute()
    statuses = {n: r.status for n, r in result.results.items()}
    assert statuses["bad"] == "failed"
    assert statuses["root"] == "succeeded"
    not_started = [n for n, s in statuses.items() if s == "skipped"]
    assert "after_bad" in not_started and not_started  # nothing ran after the failure
    for n in not_started:
        assert "'bad' failed" in result.results[n].reason
    assert result.status == "failed"


def test_keep_going_skips_only_descendants():
    result = Executor(branches(), fail_fast=False).execute()
    assert result.results["after_bad"].status == "skipped"
    assert "upstream node 'bad' failed" in result.results["after_bad"].reason
    assert result.results["after_good"].value == 3
    assert result.results["lone"].value == "alone"
    assert (result.succeeded, result.failed, result.skipped) == (4, 1, 1)


def test_result_error_traceback_and_raise_for_failures():
    result = Executor(branches(), fail_fast=False).execute()
    bad = result.results["bad"]
    assert isinstance(bad.error, ValueError) and "boom" in bad.traceback
    assert "def boom" in bad.traceback or "raise ValueError" in bad.traceback
    assert bad.start is not None and bad.end >= bad.start and bad.worker == "main"
    with pytest.raises(ExecutionError) as err:
        result.raise_for_failures()
    assert "bad: ValueError: boom" in str(err.value)
    assert set(err.value.failures) == {"bad"}
    ok = Executor(DAG().add_node("x", lambda: 1)).execute()
    assert ok.raise_for_failures() is ok


def test_priorities_order_ready_nodes_on_inline():
    d = DAG()
    for name, prio in [("low", 1), ("high", 9), ("mid", 5), ("none", 0)]:
        d.add_node(name, lambda: None, priority=prio)
    assert Executor(d).execute().execution_order == ["high", "mid", "low", "none"]


def test_max_concurrency_is_never_exceeded():
    lock = threading.Lock()
    live, peak = [0], [0]

    def work():
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.005)
        with lock:
            live[0] -= 1

    d = DAG()
    for k in range(24):
        d.add_node(f"n{k}", work)
    Executor(d, backend="threads", max_workers=8, max_concurrency=3).execute()
    assert peak[0] == 3


def test_exclusive_nodes_never_overlap_anything():
    d = DAG()
    for k in range(10):
        d.add_node(f"io{k}", lambda: time.sleep(0.005))
    d.add_node("solo", lambda: time.sleep(0.01), exclusive=True)
    d.add_node("solo2", lambda: time.sleep(0.01), is_sequential=True)
    result = Executor(d, backend="threads", max_workers=4).execute()
    r = result.results
    for solo in ("solo", "solo2"):
        for name in r:
            if name != solo:
                assert r[name].end <= r[solo].start or r[name].start >= r[solo].end


def test_callbacks_fire_with_the_right_arguments():
    events = []
    cb = ExecutionCallbacks(
        on_run_start=lambda dag: events.append(("run_start", len(dag))),
        on_node_start=lambda n: events.append(("start", n)),
        on_node_complete=lambda n, v: events.append(("complete", n, v)),
        on_node_error=lambda n, e: events.append(("error", n, str(e))),
        on_node_skipped=lambda n, why: events.append(("skipped", n)),
        on_run_complete=lambda res: events.append(("run_complete", res.status)),
    )
    Executor(branches(), fail_fast=False, callbacks=cb).execute()
    assert events[0] == ("run_start", 6) and events[-1] == ("run_complete", "failed")
    assert ("complete", "after_good", 3) in events
    assert ("error", "bad", "boom") in events
    assert ("skipped", "after_bad") in events
    assert events.index(("start", "good")) < events.index(("complete", "good", 2))


def test_keyboard_interrupt_cancels_cleanly_on_threads():
    started = threading.Event()

    def slow():
        started.set()
        time.sleep(0.3)

    def interrupt(name, value):
        if name == "trigger":
            raise KeyboardInterrupt

    d = DAG()
    d.add_node("slow", slow)
    d.add_node("trigger", lambda: started.wait(2))
    d.add_node("later", lambda t: t)
    d.add_edge("trigger", "later")
    result = Executor(
        d,
        backend="threads",
        max_workers=2,
        callbacks=ExecutionCallbacks(on_node_complete=interrupt),
    ).execute()
    assert result.interrupted and result.status == "cancelled"
    assert result.results["later"].status == "cancelled"
    assert result.results["slow"].status in ("cancelled", "succeeded")
    with pytest.raises(ExecutionError, match="interrupted"):
        result.raise_for_failures()


def test_costs_rank_ready_nodes():
    d = DAG()
    for n in ("short", "long", "tail"):
        d.add_node(n, lambda *_: None)
    d.add_edge("long", "tail")
    order = Executor(d, costs={"short": 5, "long": 1, "tail": 10}).execute().execution_order
    assert order[0] == "long"  # long + tail = 11 > short = 5
