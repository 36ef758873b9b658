"""Throughput mode: hand a whole static DAG to Dask at once and let Dask order it.

Engine-driven mode (``DaskBackend``) submits a node only when the engine admits it, so
priorities, exclusivity, pools, conditions and rules behave exactly as on one machine,
at the cost of one scheduler round trip per node before its children can go. For a
static DAG that needs none of that, throughput mode (the run mode
:func:`dagforge.execution.dask_run.run_graph`, built on the backend here) still walks
the DAG with the engine (so run inputs, Task output routing, ``targets=``/``exclude=``
and profiling mean the same thing) but treats every submitted node as done at once: its
children are submitted right away with its *future* as argument, so the whole graph
reaches Dask's scheduler in one pass, with dagforge priorities as Dask priorities. When
Dask is done, failures are read back from the futures: the failed node says why,
everything below it is skipped.

Differences from an engine-driven run: nothing is retried or timed out by dagforge,
independent branches keep running after a failure (there is no ``fail_fast``), and
callbacks would see nodes "complete" at submission, so none are taken.
"""

from __future__ import annotations

import operator
from time import perf_counter
from typing import Any

from dagforge.errors import BackendError, GraphError, SerializationError
from dagforge.execution import states as S
from dagforge.execution.backends.dask_backend import DaskBackend
from dagforge.execution.backends.dask_remote import _remote, node_error
from dagforge.execution.jobs import Job, done, failed
from dagforge.options import DEFAULT_OPTIONS


class _GraphBackend(DaskBackend):
    """A DaskBackend whose nodes complete, as far as the engine knows, when submitted."""

    name = "dask-graph"

    def __init__(self, client: Any, **kwargs: Any):
        super().__init__(client, **kwargs)
        self._graph: dict[int, Any] = {}
        # Batched: the whole graph goes to Dask as one message (one ``client.get``) once
        # the engine has walked it; node values are their Dask keys until then. Used
        # unless a node needs per-task Dask options (priorities, worker resources).
        self._batch = False
        self._dsk: dict[str, Any] = {}
        self._node_keys: dict[int, str] = {}

    @property
    def capacity(self) -> int:
        return 1 << 30

    def start(self) -> None:
        super().start()
        self._graph = {}
        self._dsk = {}
        self._node_keys = {}
        opts = self.run_opts or ()
        self._batch = not any(o.priority or (o.resources and self.worker_resources) for o in opts)

    def select(self, value: Any, output: str) -> Any:  # type: ignore[override]
        if self._batch and type(value) is str and value in self._dsk:
            key = f"{value}-out-{output}"
            self._dsk[key] = (operator.getitem, value, output)
            return key
        return super().select(value, output)

    def submit(self, job: Job) -> None:
        if self._batch:
            self._add(job)
            return
        # No done-callback: outcomes are read from the futures in finalize, once Dask is done.
        future = self._send(job)
        if future is not None:
            self._graph[job.idx] = future
            now = perf_counter()
            self._done.put(done(job.idx, job.attempt, future, now, now, -1, None))

    def _add(self, job: Job) -> None:
        """Add a node to the batched graph; the engine sees it done, valued by its key."""
        from dask.utils import apply

        idx, attempt, name = job.idx, job.attempt, job.name
        now = perf_counter()
        try:
            head, fn, args, kwargs, check = self._parts(job)
        except Exception as exc:  # its callable cannot be pickled: it alone fails
            err = SerializationError(
                f"node {name!r} cannot be sent to the Dask cluster: {type(exc).__name__}: {exc}"
            )
            self._done.put(failed(idx, attempt, err, "", now, now, -1))
            return
        key = f"dagforge-{name}-{attempt}-{self._token}"
        kw = None if kwargs is None else (dict, [[k, v] for k, v in kwargs.items()])
        self._dsk[key] = (apply, _remote, [head, fn, list(args), kw, check])
        self._node_keys[idx] = key
        self._keys[key] = idx
        self._done.put(done(idx, attempt, key, now, now, -1, None))

    def _send_graph(self, run: Any) -> None:
        """Send the batched graph in one message; node values become its futures."""
        if not self._node_keys:
            return
        items = list(self._node_keys.items())
        try:
            futures = self._client.get(self._dsk, [k for _, k in items], sync=False)
        except Exception as exc:
            raise BackendError(
                f"could not send the graph to the Dask scheduler at {self._where()}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        for (i, _), future in zip(items, futures, strict=True):
            self._graph[i] = future
            if run.status[i] == S.SUCCEEDED:
                run.values[i] = future
        self._dsk = {}

    def shutdown(self, wait: bool = True) -> None:
        self._futures.clear()
        if not wait and self._graph and self._client is not None:
            try:
                self._client.cancel(list(self._graph.values()))
            except Exception:
                pass

    def finalize(self, run: Any) -> None:
        from distributed import wait

        if self._batch and not run.interrupted:
            self._send_graph(run)
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
            if bad is not None:
                run._revise(i, S.SKIPPED, reason=f"upstream node {names[bad]!r} failed")
            else:
                run._revise(i, S.FAILED, error=node_error(names[i], future, self._where()))


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
