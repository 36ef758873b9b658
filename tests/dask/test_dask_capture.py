"""capture_logs= on the Dask backend: a node captures on its worker, and what it wrote
comes back with the end-of-run collection into the run's LogCapture."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed")

from dagforge import DAG, Executor  # noqa: E402
from dagforge.execution.backends.dask_backend import DaskBackend  # noqa: E402


def test_dask_node_logs_come_back_to_the_run(client):
    def talks():
        import logging
        import sys

        print("out on a worker")
        print("err on a worker", file=sys.stderr)
        logging.getLogger("user.worker").warning("warned %d", 5)
        return 2

    def flaky():
        print("try")
        raise ValueError("always")

    dag = DAG()
    dag.add_node("a", talks)
    dag.add_node("f", flaky, retries=1, retry_jitter=0)
    result = Executor(
        dag, backend=DaskBackend(client, gather=True), capture_logs=True, fail_fast=False
    ).execute()
    assert result["a"].value == 2
    logs = result["a"].logs
    assert logs.stdout == "out on a worker\n"
    assert logs.stderr == "err on a worker\n"
    assert [(r["logger"], r["message"]) for r in logs.records] == [("user.worker", "warned 5")]
    assert result["f"].status == "failed"
    assert result["f"].logs.stdout == "try\ntry\n"  # both attempts


def test_dask_without_capture_has_no_logs(client):
    dag = DAG()
    dag.add_node("a", lambda: print("x") or 1)
    result = Executor(dag, backend=DaskBackend(client, gather=True)).execute()
    assert result["a"].value == 1 and result["a"].logs is None
