"""Throughput mode: hand a whole static DAG to Dask at once and let Dask order it.

Engine-driven mode (``DaskBackend``) submits a node only when the engine admits it, so
priorities, exclusivity, pools, conditions and rules behave exactly as on one machine,
at the cost of one scheduler round trip per node before its children can go. For a
static DAG that needs none of that, :func:`run_graph` still walks the DAG with the
engine (so run inputs, Task output routing, ``targets=``/``exclude=`` and profiling mean
the same thing) but treats every submitted node as done at once: its children are
submitted right away with its *future* as argument, so the whole graph reaches Dask's
scheduler in one pass, with dagforge priorities as Dask priorities. When Dask is done,
failures are read back from the futures: the failed node says why, everything below it
is skipped.

Differences from an engine-driven run: nothing is retried or timed out by dagforge,
independent branches keep running after a failure (there is no ``fail_fast``), and
callbacks would see nodes "complete" at submission, so none are taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

from dagforge.errors import BackendError, GraphError
from dagforge.execution import states as S
from dagforge.execution.backends.dask_backend import DaskBackend, node_error
from dagforge.execution.result import ExecutionResult
from dagforge.options import DEFAULT_OPTIONS


class _GraphBackend(DaskBackend):
    """A DaskBackend whose nodes complete, as far as the engine knows, when submitted."""

    name = "dask-graph"

    def __init__(self, client: Any, **kwargs: Any):
        super().__init__(client, **kwargs)
        self._graph: dict[int, Any] = {}

    @property
    def capacity(self) -> int:
        return 1 << 30

    def start(self) -> None:
        super().start()
        self._graph = {}

    def submit(self, job: tuple) -> None:
        # No done-callback: outcomes are read from the futures in finalize, once Dask is done.
        future = self._send(job)
        if future is not None:
            self._graph[job[0]] = future
            now = perf_counter()
            self._done.put((job[0], job[1], True, future, None, None, now, now, -1, None))

    def shutdown(self, wait: bool = True) -> None:
        self._futures.clear()
        if not wait and self._graph and self._client is not None:
            try:
                self._client.cancel(list(self._graph.values()))
            except Exception:
                pass

    def finalize(self, run: Any) -> None:
        from distributed import wait

        graph = self._graph
        if graph and not run.interrupted:
            try:
                wait(list(graph.values()))
            except Exception as exc:
                raise BackendError(
                    f"lost the Dask scheduler at {self._where()} while waiting for the graph: {exc}"
                ) from exc
            if self._client.status != "running":
                raise BackendError(
                    f"lost the connection to the Dask scheduler at {self._where()} while the "
                    f"graph ran"
                )
            self._settle(run)
        super().finalize(run)

    def _settle(self, run: Any) -> None:
        """Turn optimistic successes into what Dask says happened, in topological order."""
        status, names = run.status, run.names
        for i in run.order:
            future = self._graph.get(i)
            if future is None or future.status == "finished":
                continue
            bad = next((p for p in run.pred[i] if status[p] in (S.FAILED, S.SKIPPED)), None)
            run.values[i] = None
            if bad is not None:
                status[i] = S.SKIPPED
                run.reasons[i] = f"upstream node {names[bad]!r} failed"
            else:
                status[i] = S.FAILED
                run.errors[i] = node_error(names[i], future, self._where())


def check_static(dag: Any) -> None:
    """Raise ``GraphError`` naming what keeps ``dag`` out of throughput mode."""
    dag.validate()
    if dag._rules:
        raise GraphError(
            "throughput mode runs static DAGs only; this DAG has dynamic rules "
            f"({', '.join(repr(r.name) for r in dag._rules)}): use "
            "Executor(dag, backend=DaskBackend(client))"
        )
    if dag._conditions:
        src, dst = (dag._names[k] for k in next(iter(dag._conditions)))
        raise GraphError(
            f"throughput mode cannot decide conditional edges such as {src!r} -> {dst!r} "
            f"(when=) before their source ran: use Executor(dag, backend=DaskBackend(client))"
        )
    for name, o in zip(dag._names, dag._opts, strict=True):
        if o is DEFAULT_OPTIONS:
            continue
        used = [k for k in ("exclusive", "retries", "timeout") if getattr(o, k)]
        if used:
            raise GraphError(
                f"node {name!r} uses {'/'.join(used)}, which need the engine; use "
                f"Executor(dag, backend=DaskBackend(client)) instead of throughput mode"
            )


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
    from dagforge.execution.executor import Executor

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
