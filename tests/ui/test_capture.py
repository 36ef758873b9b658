"""Per-node log capture (execution/capture.py) in library runs."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from dagforge import DAG
from dagforge.execution.capture import LogCapture
from dagforge.execution.executor import Executor


def _dag(fns: dict) -> DAG:
    dag = DAG()
    for name, fn in fns.items():
        dag.add_node(name, fn)
    return dag


@pytest.mark.parametrize("backend", ["inline", "threads", "asyncio"])
def test_each_node_gets_only_its_own_output(backend):
    barrier = threading.Barrier(2, timeout=5)

    def make(tag):
        def fn():
            print(f"out {tag}")
            if backend == "threads":
                barrier.wait()  # both nodes print while the other runs
            print(f"err {tag}", file=sys.stderr)
            logging.getLogger("user.code").warning("warn %s", tag)
            return tag

        return fn

    result = Executor(
        _dag({"a": make("A"), "b": make("B")}), backend=backend, max_workers=2, capture_logs=True
    ).execute()
    assert result.ok
    for name, tag in (("a", "A"), ("b", "B")):
        logs = result[name].logs
        assert logs.stdout == f"out {tag}\n"
        assert logs.stderr == f"err {tag}\n"
        assert [(r["level"], r["logger"], r["message"]) for r in logs.records] == [
            ("WARNING", "user.code", f"warn {tag}")
        ]
    assert sys.stdout.__class__.__name__ != "_StreamRouter"  # restored after the run


def test_failed_node_keeps_logs_and_size_is_bounded():
    def chatty():
        print("x" * 500)
        raise RuntimeError("boom")

    dag = _dag({"chatty": chatty})
    result = Executor(dag, capture_logs=LogCapture(limit=100)).execute()
    node = result["chatty"]
    assert node.status == "failed" and "RuntimeError: boom" in node.traceback
    assert node.logs.stdout == "x" * 100
    assert node.logs.truncated and node.logs.dropped == 401
    assert "characters dropped" in node.logs.text


def test_retries_append_with_attempt_numbers():
    calls = []

    def flaky():
        calls.append(1)
        logging.getLogger("user").error("try %d", len(calls))
        if len(calls) < 2:
            raise ValueError("again")
        return 1

    dag = DAG()
    dag.add_node("flaky", flaky, retries=1, retry_delay=0)
    logs = Executor(dag, capture_logs=True).execute()["flaky"].logs
    assert [(r["message"], r["attempt"]) for r in logs.records] == [("try 1", 1), ("try 2", 2)]


def test_off_by_default_and_output_passes_through(capsys):
    def hello():
        print("visible")

    result = Executor(_dag({"hello": hello})).execute()
    assert result["hello"].logs is None
    assert "visible" in capsys.readouterr().out


def test_bad_limit_named():
    with pytest.raises(ValueError, match="capture limit"):
        LogCapture(limit=-1)


def test_capture_survives_a_stream_swapped_during_a_long_call(monkeypatch):
    """A long captured call keeps the routers counted; a stream someone installs in the
    meantime is wrapped again by the next call instead of being written to directly."""
    import io

    from dagforge.execution import capture

    release = threading.Event()
    entered = threading.Event()

    def long():
        entered.set()
        release.wait(5)

    outer = LogCapture()
    t = threading.Thread(target=outer.wrap("long", long))
    t.start()
    assert entered.wait(5)
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)  # e.g. a test runner's capture

    def hello():
        print("mine")

    try:
        result = Executor(_dag({"hello": hello}), capture_logs=True).execute()
    finally:
        release.set()
        t.join(5)
    assert result["hello"].logs.stdout == "mine\n"
    assert replacement.getvalue() == ""
    assert capture._active == 0


def test_processes_backend_runs_with_capture_on_and_ships_no_logs():
    import pickle

    capture = LogCapture(limit=10)
    capture.logs["old"] = capture._for("old")
    clone = pickle.loads(pickle.dumps(capture))
    assert clone.limit == 10 and clone.logs == {}  # the parent's logs never travel

    result = Executor(
        _dag({"a": _module_level_print}), backend="processes", max_workers=1, capture_logs=True
    ).execute()
    assert result.ok and result["a"].value == 3
    # printed in the child process: captured there, sent back beside the event
    assert result["a"].logs.stdout == "in a child process\n"


def _module_level_print():
    print("in a child process")
    return 3
