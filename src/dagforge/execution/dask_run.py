"""Dask throughput mode: a *run mode* that hands a whole static DAG to Dask at once.

It is not a backend: it runs an ``Executor`` over the graph backend of
:mod:`dagforge.execution.backends.dask_graph` (where the mode and its differences from
an engine-driven run are described), so it lives beside the executor, not among the
backends the executor picks from (that would be an import circle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagforge.errors import BackendError
from dagforge.execution.backends.dask_graph import _GraphBackend, check_static
from dagforge.execution.executor import Executor
from dagforge.execution.result import ExecutionResult

__all__ = ["run_graph"]


def run_graph(
    dag: Any,
    tasks: Mapping[str, Any] | None = None,
    client: Any = None,
    *,
    run_inputs: Mapping[str, Any] | None = None,
    targets: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    profile: bool = False,
    enable_tracing: bool = False,
    gather: bool = False,
    worker_resources: bool | Any = True,
) -> ExecutionResult:
    """Submit every node of a static DAG to ``client`` at once; wait; return the result.

    ``client`` is a ``distributed.Client`` or a scheduler address. Values stay on the
    cluster as futures unless ``gather=True``. Per-node ``resources=`` become Dask worker
    resources (there is no engine pool in this mode); priorities become Dask priorities.
    """
    if client is None:
        raise BackendError("run_graph needs a distributed.Client or a scheduler address")
    check_static(dag)
    backend = _GraphBackend(client, gather=gather, worker_resources=worker_resources)
    try:
        return Executor(
            dag,
            backend=backend,
            fail_fast=False,
            profile=profile,
            enable_tracing=enable_tracing,
        ).execute(tasks, run_inputs=run_inputs, targets=targets, exclude=exclude)
    finally:
        if backend._own_client:
            backend.close()
