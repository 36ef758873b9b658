"""Issue 11, engine half: one semantics on inline, threads and asyncio.

Timeouts never hold a finished run, bad option values are refused at ``add_node``,
``SystemExit`` in a node is that node's failure, and a node waiting for its retry when
``fail_fast`` stops the run is reported failed with its error.
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time

import pytest

from dagforge import DAG, Executor
from dagforge.errors import GraphError, OptionError

LOCAL = ["inline", "threads", "asyncio"]


def run(dag: DAG, backend: str, **kw):
    ex = Executor(dag, backend=backend, max_workers=2, **kw)
    if backend == "asyncio":
        return asyncio.run(ex.execute_async())
    return ex.execute()


# -- (1) timeouts ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["threads", "asyncio"])
def test_a_generous_timeout_does_not_hold_the_finished_run(backend):
    # The node finishes at once; its 600 s timer must not keep execute() waiting. The
    # bounded join below fails (instead of hanging the suite) if it does.
    d = DAG().add_node("quick", lambda: 7, timeout=600)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("r", run(d, backend)), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "execute() kept waiting for a stale timeout timer"
    assert out["r"]["quick"].value == 7


def test_a_sync_callable_past_its_timeout_does_not_hold_asyncio_execute():
    release = threading.Event()

    def stuck():
        release.wait(60)
        return "late"

    d = DAG().add_node("stuck", stuck, timeout=0.05).add_node("other", lambda: 1)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("r", run(d, "asyncio")), daemon=True)
    t.start()
    t.join(30)
    finished_before_release = not t.is_alive()
    release.set()
    t.join(30)
    assert finished_before_release, "execute() waited for the abandoned thread"
    r = out["r"]
    assert r["stuck"].status == "timed_out" and r["other"].value == 1


@pytest.mark.parametrize("bad", [math.nan, -1, 0, "5", True])
def test_invalid_timeouts_are_refused_at_add_node(bad):
    with pytest.raises(OptionError) as err:
        DAG().add_node("slow", lambda: 1, timeout=bad)
    assert err.value.node == "slow" and err.value.option == "timeout"
    assert "slow" in str(err.value) and "timeout" in str(err.value)


def test_an_infinite_timeout_means_no_timeout():
    d = DAG().add_node("a", lambda: 1, timeout=math.inf)
    assert d.options("a").timeout is None
    assert run(d, "threads")["a"].value == 1


# -- (4) options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("retries", "2"),
        ("retries", -1),
        ("retries", 1.5),
        ("priority", "high"),
        ("priority", math.nan),
        ("retry_on", "ValueError"),
        ("retry_on", (ValueError, "x")),
        ("tags", 5),
        ("tags", [1, 2]),
        ("cost", -1),
        ("cost", "big"),
        ("exclusive", "yes"),
        ("resources", {"cpu": -1}),
        ("resources", {"cpu": "two"}),
        ("resources", ["cpu"]),
        ("retry_delay", -0.1),
        ("retry_backoff", 0),
        ("retry_jitter", 2),
        ("cache", "no"),
    ],
)
def test_bad_option_values_name_node_option_and_value(option, value):
    with pytest.raises(OptionError) as err:
        DAG().add_node("n1", lambda: 1, **{option: value})
    e = err.value
    assert isinstance(e, GraphError)
    assert (e.node, e.option, e.value) == ("n1", option, value)
    assert "'n1'" in str(e) and option in str(e) and repr(value) in str(e)


def test_tags_none_and_a_single_string_are_accepted():
    d = DAG().add_node("a", lambda: 1, tags=None).add_node("b", lambda: 2, tags="etl")
    assert d.options("a").tags == frozenset()
    assert d.options("b").tags == frozenset({"etl"})


def test_set_options_checks_values_too():
    d = DAG().add_node("a", lambda: 1)
    with pytest.raises(OptionError, match="priority"):
        d.set_options("a", priority="urgent")


# -- (2) SystemExit ---------------------------------------------------------------------------


def leave(*_):
    sys.exit(3)


@pytest.mark.parametrize("backend", LOCAL)
def test_system_exit_in_a_node_is_that_nodes_failure(backend):
    d = DAG()
    d.add_node("exits", leave).add_node("after", lambda x: x).add_edge("exits", "after")
    d.add_node("independent", lambda: "ran")
    r = run(d, backend, fail_fast=False)
    assert r["exits"].status == "failed"
    assert isinstance(r["exits"].error, SystemExit) and r["exits"].error.code == 3
    assert r["after"].status == "skipped"
    assert r["independent"].value == "ran"
    assert r.status == "failed"


async def async_leave():
    raise SystemExit(4)


def test_system_exit_in_a_coroutine_node_is_its_failure():
    d = DAG().add_node("exits", async_leave).add_node("other", lambda: 2)
    r = run(d, "asyncio", fail_fast=False)
    assert r["exits"].status == "failed" and r["exits"].error.code == 4
    assert r["other"].value == 2


# -- (3) a retry dropped by fail_fast ---------------------------------------------------------


@pytest.mark.parametrize("backend", LOCAL)
def test_node_waiting_for_retry_when_fail_fast_stops_is_failed_with_its_error(backend):
    from dagforge import ExecutionCallbacks

    retrying = threading.Event()  # set by the engine once flaky waits for its retry

    def flaky():
        raise ValueError("flaky broke")

    def fatal():
        retrying.wait(10)
        raise RuntimeError("fatal")

    d = DAG()
    d.add_node("flaky", flaky, retries=3, retry_delay=30, retry_jitter=0, priority=10)
    d.add_node("fatal", fatal)
    callbacks = ExecutionCallbacks(on_node_retry=lambda *_: retrying.set())
    r = run(d, backend, callbacks=callbacks)
    assert retrying.is_set()
    assert r["fatal"].status == "failed"
    flaky_result = r["flaky"]
    assert flaky_result.status == "failed"
    assert isinstance(flaky_result.error, ValueError) and "flaky broke" in str(flaky_result.error)
    assert "retry" in flaky_result.reason


# -- timeouts on inline, KeyboardInterrupt on asyncio ------------------------------------------


def test_inline_applies_a_timeout_when_the_node_returns():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.15)
        return "late"

    d = DAG().add_node("slow", slow, timeout=0.05, retries=1, retry_delay=0)
    d.add_node("after", lambda x: x).add_edge("slow", "after")
    d.add_node("quick", lambda: 1, timeout=30)
    r = Executor(d, fail_fast=False).execute()
    assert r["slow"].status == "timed_out" and r["slow"].value is None
    assert "timeout of 0.05s" in str(r["slow"].error) and "discarded" in str(r["slow"].error)
    assert len(calls) == 2  # retried like on every backend
    assert [a.status for a in r["slow"].attempts] == ["timed_out", "timed_out"]
    assert r["after"].status == "skipped" and r["quick"].value == 1


def ctrl_c():
    raise KeyboardInterrupt


async def async_ctrl_c():
    raise KeyboardInterrupt


@pytest.mark.parametrize("fn", [ctrl_c, async_ctrl_c])
def test_keyboard_interrupt_in_an_asyncio_node_returns_the_cancelled_result(fn):
    d = DAG().add_node("stop", fn).add_node("below", lambda x: x).add_edge("stop", "below")
    r = run(d, "asyncio")
    assert r.interrupted and r.status == "cancelled"
    assert r["stop"].status == "cancelled" and r["below"].status == "cancelled"


def test_numpy_and_fraction_numbers_are_accepted_as_option_values():
    np = pytest.importorskip("numpy")
    from fractions import Fraction

    d = DAG().add_node(
        "a", lambda: 1, priority=np.int64(3), retries=np.int32(2), retry_delay=Fraction(1, 2)
    )
    o = d.options("a")
    assert (o.priority, o.retries, o.retry_delay) == (3, 2, 0.5)
    assert type(o.priority) is int and type(o.retries) is int
