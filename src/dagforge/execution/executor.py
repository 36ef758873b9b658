"""The public executor façades over the one engine.

``Executor`` runs any DAG on any backend. ``ResourceAwareExecutor`` and
``AsyncResourceAwareExecutor`` keep dagron's signatures (pool and requirements first)
and are the same engine with a pool attached; the async one awaits completions on the
running event loop instead of blocking a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dagforge import _seams
from dagforge.errors import RunArgumentError
from dagforge.execution.backends import make_backend
from dagforge.execution.engine import Run
from dagforge.execution.result import ExecutionResult

_log = logging.getLogger("dagforge.execution")  # DEBUG: one line as a run starts and ends

if TYPE_CHECKING:
    from dagforge.execution.callbacks import ExecutionCallbacks


class Executor:
    """Run a DAG: ``Executor(dag, backend="threads", max_workers=4).execute({...})``.

    Parameters:
        backend: ``"inline"`` (default, deterministic), ``"threads"``, ``"processes"``,
            ``"asyncio"``, ``"dask"`` or a ``Backend`` instance.
        max_workers: size of the backend's worker pool.
        max_concurrency: cap on nodes running at once (defaults to the workers).
        fail_fast: on a failure, stop dispatching and skip every node not started
            (True); or skip only the failed node's descendants (False).
        callbacks: an :class:`ExecutionCallbacks`.
        costs: per-node cost estimates (seconds) used to rank ready nodes and, with a
            resource pool, for EASY backfilling.
        priority: ``"auto"``/``"critical_path"`` ranks ready nodes by upward rank after
            user priority; ``"fifo"`` uses insertion order only.
        profile: ``True`` measures bytes and (de)serialization per node (for
            :class:`~dagforge.profiling.Profile`); a saved ``Profile`` instead gives
            the estimates (its measured ``compute_time_ms``, read as seconds) that rank
            ready nodes and backfill. Precedence, per node, for both: ``costs``, then
            the profile's time, then the node's ``cost`` option.
        resource_pool / requirements: admission against a :class:`ResourcePool`.
        overtake_limit: how many later nodes may start around a node parked for lack
            of resources before it reserves them (0 = reserve at once). Bounds waiting.
        enable_tracing: keep what ``result.trace`` needs.
        cache: ``True`` (``./.dagforge-cache``) or a directory: skip nodes whose code,
            config_deps values and inputs are unchanged (content-addressed).
        checkpoint: a directory; a run that failed half-way, re-run with it, resumes
            without re-running what succeeded (the same content cache).
        capture_logs: ``True`` (or a :class:`~dagforge.execution.capture.LogCapture`)
            keeps each node's stdout, stderr and log records on ``result[name].logs``.
        seed: seed ``random`` (and numpy's global generator) before each node from this
            seed and the node's name, so every backend draws the same data.
    """

    def __init__(
        self,
        dag: Any,
        *,
        backend: Any = "inline",
        max_workers: int | None = None,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        callbacks: ExecutionCallbacks | None = None,
        costs: Mapping[str, float] | None = None,
        priority: str = "auto",
        profile: Any = None,
        resource_pool: Any = None,
        requirements: Mapping[str, Any] | None = None,
        enable_tracing: bool = False,
        serializer: Any = None,
        address: str | None = None,
        cache: Any = None,
        checkpoint: Any = None,
        overtake_limit: int = 8,
        capture_logs: Any = False,
        seed: int | None = None,
    ):
        if priority not in ("auto", "critical_path", "fifo"):
            raise RunArgumentError(
                f"priority must be 'auto', 'critical_path' or 'fifo', got {priority!r}"
            )
        self.dag = dag
        self.backend = backend
        self.max_workers = max_workers
        self.max_concurrency = max_concurrency
        self.fail_fast = fail_fast
        self.callbacks = callbacks
        self.costs = dict(costs) if costs else None
        self.priority = priority
        self.profiling = profile is True
        self.guide_profile = profile if profile not in (None, True, False) else None
        self.resource_pool = resource_pool
        self.requirements = requirements
        self.enable_tracing = enable_tracing
        self.serializer = serializer
        self.address = address
        self.cache_dir = (
            checkpoint
            if checkpoint is not None
            else (None if cache in (None, False) else (None if cache is True else cache))
        )
        self.use_cache = bool(cache) or checkpoint is not None
        self.overtake_limit = overtake_limit
        self.capture_logs = capture_logs
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RunArgumentError(f"seed must be an int or None, got {seed!r}")
        self.seed = seed

    def _rank_costs(self) -> dict[str, float] | None:
        """The guiding profile's measured times, in seconds (the unit of ``costs``, of
        the ``cost`` option and of the run's clock, which EASY backfilling compares
        them with): the profile stores milliseconds."""
        p = self.guide_profile
        if p is None:
            return None
        ms = _seams.rank_costs_from_profile(p)  # profiling is a layer above: the seam
        return {name: t / 1000.0 for name, t in ms.items()}

    def _selection(
        self, targets: Iterable[str] | None, exclude: Iterable[str] | None
    ) -> set[int] | None:
        if targets is None and exclude is None:
            return None
        dag = self.dag
        dag.validate()
        if targets is not None:
            keep: set[int] = set()
            for t in targets:
                i = dag._lookup(t, "target")
                keep.add(i)
                keep.update(dag._index[a] for a in dag.ancestors(t))
        else:
            keep = set(range(len(dag)))
        for x in exclude or ():
            i = dag._lookup(x, "excluded node")
            keep.discard(i)
            keep.difference_update(dag._index[d] for d in dag.descendants(x))
        return keep

    def _run(self, tasks, run_inputs, targets, exclude) -> Run:
        backend = make_backend(self.backend, max_workers=self.max_workers, address=self.address)
        return Run(
            self.dag,
            tasks,
            backend,
            max_concurrency=self.max_concurrency,
            fail_fast=self.fail_fast,
            callbacks=self.callbacks,
            pool=self.resource_pool,
            requirements=self.requirements,
            costs=self.costs,
            rank_costs=self._rank_costs(),
            use_ranks=self.priority != "fifo",
            tracing=self.enable_tracing,
            profiling=self.profiling,
            run_inputs=run_inputs,
            serializer=self.serializer,
            selected=self._selection(targets, exclude),
            outputs_of=[self.dag._index[t] for t in targets] if targets is not None else None,
            cache=self._cache(),
            overtake_limit=self.overtake_limit,
            seed=self.seed,
            capture=self._capture(),
        )

    def _capture(self) -> Any:
        if not self.capture_logs:
            return None
        from dagforge.execution.capture import LogCapture

        return self.capture_logs if isinstance(self.capture_logs, LogCapture) else LogCapture()

    def _cache(self) -> Any:
        if not self.use_cache:
            return None
        from dagforge.execution.cache import ResultCache

        return ResultCache(self.cache_dir)

    def execute(
        self,
        tasks: Mapping[str, Any] | None = None,
        *,
        run_inputs: Mapping[str, Any] | None = None,
        targets: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> ExecutionResult:
        """Run the DAG once and return its :class:`ExecutionResult`.

        ``tasks`` maps node names to callables (or Tasks) and overrides what the DAG
        carries; ``targets`` runs only those nodes and what they need; ``exclude``
        leaves nodes (and what depends on them) out.
        """
        run = self._run(tasks, run_inputs, targets, exclude)
        debug = _log.isEnabledFor(logging.DEBUG)
        if debug:
            _log.debug("run of %d node(s) on %s starts", run.n, run.backend.name)
        if run.backend.name == "asyncio":
            import asyncio

            result = asyncio.run(run.run_async())
        else:
            result = run.run()
        if debug:
            _log.debug("run ended %s", result.summary())
        return result

    async def execute_async(
        self,
        tasks: Mapping[str, Any] | None = None,
        *,
        run_inputs: Mapping[str, Any] | None = None,
        targets: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> ExecutionResult:
        """Like :meth:`execute`, awaiting completions on the running loop."""
        run = self._run(tasks, run_inputs, targets, exclude)
        return await run.run_async()


class ResourceAwareExecutor(Executor):
    """dagron's resource-aware executor: nodes start only when their resources fit."""

    def __init__(
        self,
        dag: Any,
        resource_pool: Any,
        requirements: Mapping[str, Any] | None = None,
        costs: Mapping[str, float] | None = None,
        callbacks: ExecutionCallbacks | None = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        *,
        backend: Any = "threads",
        **kwargs: Any,
    ):
        super().__init__(
            dag,
            backend=backend,
            costs=costs,
            callbacks=callbacks,
            fail_fast=fail_fast,
            enable_tracing=enable_tracing,
            resource_pool=resource_pool,
            requirements=requirements,
            **kwargs,
        )


class AsyncResourceAwareExecutor(ResourceAwareExecutor):
    """The async twin: ``await executor.execute(tasks)``; coroutines run on the loop."""

    def __init__(self, *args: Any, backend: Any = "asyncio", **kwargs: Any):
        super().__init__(*args, backend=backend, **kwargs)

    async def execute(  # type: ignore[override]
        self,
        tasks: Mapping[str, Any] | None = None,
        *,
        run_inputs: Mapping[str, Any] | None = None,
        targets: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
    ) -> ExecutionResult:
        return await self.execute_async(
            tasks, run_inputs=run_inputs, targets=targets, exclude=exclude
        )
