"""capture_logs= on the processes backend: the node's capture wrapper records in the
worker process and what it wrote comes back beside the event into the run's
LogCapture, so ``result[name].logs`` works there as on the in-process backends."""

from __future__ import annotations

import logging
import sys

from dagforge import DAG, Executor
from dagforge.execution.capture import LogCapture


def _talks():
    print("out from the child")
    print("err from the child", file=sys.stderr)
    logging.getLogger("user.child").warning("warned %d", 7)
    return 3


def _flaky():
    print("trying")
    raise ValueError("always")


def _loud():
    print("x" * 500)
    return 1


def _dag(**fns) -> DAG:
    dag = DAG()
    for name, fn in fns.items():
        dag.add_node(name, fn)
    return dag


def test_processes_node_logs_come_back_to_the_run():
    result = Executor(
        _dag(a=_talks, quiet=lambda: 1), backend="processes", max_workers=2, capture_logs=True
    ).execute()
    assert result.ok and result["a"].value == 3
    logs = result["a"].logs
    assert logs.stdout == "out from the child\n"
    assert logs.stderr == "err from the child\n"
    assert [(r["level"], r["logger"], r["message"], r["attempt"]) for r in logs.records] == [
        ("WARNING", "user.child", "warned 7", 1)
    ]
    assert not result["quiet"].logs  # ran, printed nothing


def test_processes_retries_are_attempts_and_the_limit_holds():
    dag = DAG()
    dag.add_node("f", _flaky, retries=1, retry_jitter=0)
    dag.add_node("loud", _loud)
    capture = LogCapture(limit=100)
    result = Executor(
        dag, backend="processes", max_workers=1, capture_logs=capture, fail_fast=False
    ).execute()
    assert result["f"].status == "failed"
    assert result["f"].logs.stdout == "trying\ntrying\n"  # both attempts, in order
    assert result["f"].logs.attempt == 2
    loud = result["loud"].logs
    assert loud.stdout == "x" * 100 and loud.truncated and loud.dropped == 401


def test_without_capture_nothing_travels():
    result = Executor(_dag(a=_talks), backend="processes", max_workers=1).execute()
    assert result.ok and result["a"].logs is None
