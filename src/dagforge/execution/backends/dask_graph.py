"""Throughput mode: hand a whole static DAG to Dask at once and let Dask order it.

Engine-driven mode (``DaskBackend``) submits a node only when the engine admits it, so
priorities, exclusivity, pools and rules behave exactly as on one machine — at the cost
of one scheduler round trip per node. For a static DAG that needs none of those, this
module submits every node up front, chained by futures, with dagforge priorities passed
as Dask priorities; Dask's scheduler then runs it at its own pace. Rules, exclusive
nodes, ``resources=`` in a pool, retries and timeouts are refused (they need the engine).
"""

from __future__ import annotations

import time
from typing import Any

from dagforge.errors import BackendError, GraphError
from dagforge.execution import states as S
from dagforge.execution.result import ExecutionResult
from dagforge.execution.worker import K_NOARGS, K_POS, call_kind
from dagforge.options import DEFAULT_OPTIONS
from dagforge.tasks import Task


def _call_task(compute: Any, cfg: Any, inputs: list[str], *values: Any) -> Any:
    return compute(**dict(zip(inputs, values, strict=True)), cfg=cfg)


def run_graph(
    dag: Any, tasks: dict[str, Any] | None = None, *, client: Any, gather: bool = False
) -> ExecutionResult:
    """Submit every node of a static DAG to ``client`` at once; wait; return the result.

    Values stay on the cluster as futures unless ``gather=True``.
    """
    from distributed import Future, wait

    dag.validate()
    if dag.rules:
        raise GraphError("throughput mode runs static DAGs only; this DAG has dynamic rules")
    names = dag._names
    given = dict(tasks or {})
    futures: list[Any] = [None] * len(names)
    t0 = time.perf_counter()
    wall = time.time()
    for i in dag._topo:
        o = dag._opts[i]
        if o is not DEFAULT_OPTIONS and (o.exclusive or o.retries or o.timeout):
            raise GraphError(
                f"node {names[i]!r} uses exclusive/retries/timeout, which need the engine; "
                f"use Executor(dag, backend=DaskBackend(client)) instead of throughput mode"
            )
        fn = given.get(names[i], dag._tasks[i])
        if fn is None:
            raise GraphError(f"node {names[i]!r} has no task")
        parents = [futures[p] for p in dag._pred[i]]
        kwargs: dict[str, Any] = {
            "key": f"dagforge-graph-{names[i]}-{id(futures):x}",
            "pure": False,
            "priority": o.priority,
        }
        if o.resources:
            kwargs["resources"] = dict(getattr(o.resources, "resources", o.resources))
        try:
            if isinstance(fn, Task):
                binding = dag._bindings.get(i, [])
                inputs = [inp for _, _, inp in binding]
                import operator

                values = [
                    client.submit(operator.getitem, futures[p], out, pure=False)
                    for p, out, _ in binding
                ]
                futures[i] = client.submit(
                    _call_task, fn.compute, dag.config, inputs, *values, **kwargs
                )
            elif call_kind(fn) == K_NOARGS:
                futures[i] = client.submit(fn, **kwargs)
            else:
                assert call_kind(fn) == K_POS
                futures[i] = client.submit(fn, *parents, **kwargs)
        except Exception as exc:
            raise BackendError(f"could not submit node {names[i]!r}: {exc}") from exc
    wait(futures)
    t1 = time.perf_counter()
    status = bytearray(len(names))
    errors: dict[int, tuple[BaseException, str]] = {}
    reasons: dict[int, str] = {}
    values: list[Any] = [None] * len(names)
    for i in dag._topo:
        f: Future = futures[i]
        if f.status == "finished":
            status[i] = S.SUCCEEDED
            values[i] = f
            continue
        failed_parent = next(
            (names[p] for p in dag._pred[i] if status[p] in (S.FAILED, S.SKIPPED)), None
        )
        if failed_parent is not None:
            status[i] = S.SKIPPED
            reasons[i] = f"upstream node {failed_parent!r} did not succeed"
        else:
            status[i] = S.FAILED
            exc = f.exception()
            errors[i] = (exc, "")
    if gather:
        done = [i for i in range(len(names)) if status[i] == S.SUCCEEDED]
        for i, v in zip(done, client.gather([futures[i] for i in done]), strict=True):
            values[i] = v
    final = S.RUN_FAILED if errors else S.RUN_SUCCEEDED
    return ExecutionResult(
        names=names,
        index=dag._index,
        status=status,
        values=values,
        starts=[0.0] * len(names),
        ends=[0.0] * len(names),
        workers=[-1] * len(names),
        worker_names=[],
        errors=errors,
        reasons=reasons,
        attempts={},
        metrics={},
        leaves=[i for i in range(len(names)) if not dag._succ[i]],
        t0=t0,
        t1=t1,
        wall_start=wall,
        run_status=final,
        backend="dask-graph",
        edge_bytes=None,
        order=list(dag._topo),
        tracing=False,
        interrupted=False,
        dag=dag,
    )
