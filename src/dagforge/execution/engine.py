"""The engine: the one scheduler every executor, CLI command and server drives.

A :class:`Run` owns the mutable state of one execution of a DAG (declared in
:mod:`dagforge.execution.state`); the graph itself is never modified by a run (dynamic
rules grow the run's own copy). ``Run`` is composed of one mixin per job:

=================  ==========================================================
``planning``       compile the DAG and options into flat arrays (cached per DAG version)
``core``           the node state machine: events in, decisions out; sole writer of status
``admission``      concurrency, exclusive nodes, resources, bounded overtaking
``timers``         retry delays and timeouts on the run's clock
``growth``         dynamic rules
``building``       attempts and the ``ExecutionResult``
``fastpath``       the inline backend's loop, calling nodes through ``jobs.call_node``
``drivers``        the sync, shared-lock (threads) and asyncio loops
=================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from dagforge.errors import RunArgumentError
from dagforge.execution import states as S
from dagforge.execution.admission import Admission
from dagforge.execution.backends.base import ExecutionBackend
from dagforge.execution.building import Building
from dagforge.execution.core import Core
from dagforge.execution.drivers import Drivers
from dagforge.execution.fastpath import FastPath
from dagforge.execution.growth import Growth
from dagforge.execution.planning import Plan, Planning
from dagforge.execution.timers import Timers

if TYPE_CHECKING:
    from dagforge.execution.callbacks import ExecutionCallbacks

__all__ = ["Plan", "Run"]


class Run(Drivers, FastPath, Admission, Timers, Growth, Building, Core, Planning):
    """One execution of a DAG on a backend.

    The clock: ``clock`` (a zero-argument callable returning seconds as a float) is
    the only source of time the engine reads — the run's ``t0``/``t1``, timeout and
    retry timers, retry backoff, the start/end of cache hits and of nodes the inline
    paths call themselves. It defaults to the backend's ``clock`` attribute when it has
    one, else :func:`time.perf_counter`. ``wall_start`` (the run's start as a date) is
    the only wall-clock reading.

    Virtual time: a backend may run on a clock of its own (a simulator). It then
    exposes ``clock`` (or the caller passes the same callable as ``clock=``), sets
    ``synchronous = False``, and:

    - ``submit(job)`` records the job and returns at once (nothing runs);
    - ``wait(timeout)`` advances its clock to the earliest of its next completion and
      ``clock() + timeout`` (``timeout=None``: to the next completion) and returns the
      events finishing at that instant (possibly ``[]`` when the timeout came first:
      the engine then fires its due timers). Each event's ``t_start``/``t_end`` are
      virtual times on the same clock; the engine records them as the node's times;
    - ``abandon(idx, attempt)`` drops that job (the engine timed it out at the
      virtual time its timer fired), so its completion is never reported (a late one
      would be ignored anyway: its attempt number is stale).

    The engine never sleeps itself; waiting is always ``backend.wait``. Events must
    be stamped on the run's clock: the real backends stamp theirs with
    ``perf_counter`` (``run_job``), so ``clock=`` is for backends that keep their own.
    """

    def __init__(
        self,
        dag: Any,
        tasks: Mapping[str, Any] | None,
        backend: ExecutionBackend,
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        callbacks: ExecutionCallbacks | None = None,
        pool: Any = None,
        requirements: Mapping[str, Any] | None = None,
        costs: Mapping[str, float] | None = None,
        rank_costs: Mapping[str, float] | None = None,
        use_ranks: bool = True,
        tracing: bool = False,
        profiling: bool = False,
        run_inputs: Mapping[str, Any] | None = None,
        serializer: Any = None,
        selected: set[int] | None = None,
        cache: Any = None,
        overtake_limit: int = 8,
        outputs_of: list[int] | None = None,
        check_inputs: bool = True,
        capture: Any = None,
        seed: int | None = None,
        clock: Callable[[], float] | None = None,
    ):
        dag.validate()
        # Every time the engine reads (t0/t1, timers, timeouts, retry backoff, cache
        # hits, the inline paths' start/end) comes from this one clock; see Run's doc.
        if clock is None:
            clock = getattr(backend, "clock", None) or perf_counter
        self.clock = clock
        self.rules = list(dag._rules)
        if self.rules:
            dag = dag.copy()  # the run grows its own copy; the user's DAG stays as written
        self.fatal = None
        self.crash = None  # raised on a worker while it was the engine
        self.dag = dag
        self.backend = backend
        self.callbacks = callbacks
        self.fail_fast = fail_fast
        self.pool = pool
        self.tracing = tracing
        self.profiling = profiling
        self.run_inputs = dict(run_inputs or {})
        self.serializer = serializer or getattr(dag, "serializer", None)
        self.state = S.RUN_CREATED
        names = dag._names
        n = len(names)
        self.n = n
        self.names = names
        self.succ = dag._succ
        self.pred = dag._pred
        self.opts = dag._opts
        if check_inputs:
            self._check_run_inputs()
        self._resolve_callables(tasks)
        self._resolve_requirements(requirements)
        cap = backend.capacity
        self.max_conc = min(max_concurrency, cap) if max_concurrency is not None else cap
        if self.max_conc < 1:
            raise RunArgumentError(f"max_concurrency must be >= 1, got {max_concurrency}")
        # Per-node run state (flat arrays; see execution/state.py).
        self.status = bytearray(n)
        self.pending = [len(p) for p in self.pred]
        self.values = [None] * n
        self.starts = [0.0] * n
        self.ends = [0.0] * n
        self.workers = [-1] * n
        self.attempt = [0] * n
        self.errors = {}
        self.reasons = {}
        self.attempts = {}
        self.metrics = {}
        self.dead = {}
        self.order = []
        self.in_flight = 0
        self.exclusive_running = False
        self.stopping = False
        self.interrupted = False
        self.timers = []  # Timer records, a heap (timers.py)
        # Node waiting for its retry -> the error of the attempt that failed.
        self.retry_errors = {}
        self.blocked = []
        # Parked node -> how many later nodes started while it waited (bounded overtaking).
        self.overtaken = {}
        self.overtake_limit = overtake_limit
        # (node, attempt) -> the requirement it holds. Keyed by attempt so that whoever
        # releases (the engine, or a threads worker right after the call, before it takes
        # the engine lock) pops exactly that attempt's hold, once.
        self.held = {}
        self.early_attached = False  # a threads worker gives resources back (admission)
        self.outbox = []  # the core's decisions, for the driver to apply (decisions.py)
        self.select = backend.select  # injected like the clock: a Task input's output
        # EASY backfilling (admission): per node cost estimates when the run has any.
        self.est = self._estimates(costs, rank_costs)
        self.est_end = {}
        self.easy = None
        self.has_head = False
        self.conditions = dag._conditions
        self._build_keys(costs, rank_costs, use_ranks)
        self.heap = []
        plan = self.plan
        # The inline fast path applies when nothing per run needs the general machinery.
        self.fast_inline = (
            backend.synchronous
            and callbacks is None
            and self.reqs is None
            and not profiling
            and cache is None
            and not self.conditions
            and capture is None
            and seed is None
        )
        self.seed = seed  # seed= : each node seeds the global generators (jobs.Seeded)
        self.capture = capture  # per-node stdout/stderr/log capture (execution/capture.py)
        self.selected = selected
        # The inline schedule: with nothing that can change the order, run the nodes in
        # the order the heap would give them (compiled once), falling back to the heap
        # at the first failure.
        self.schedule = None
        self._learn_schedule = None
        if (
            self.fast_inline
            and plan is not None
            and plan.schedulable
            and selected is None
            and not costs
            and not rank_costs
        ):
            self.schedule = plan.schedules.get(use_ranks)
            if self.schedule is None:
                if check_inputs:  # a real run: its order, if all succeed, is the schedule
                    self._learn_schedule = use_ranks
                else:  # DAG.prepare(): compile it now
                    self.schedule = plan.schedules[use_ranks] = self._compile_schedule()
        self.cache = cache
        self.outputs_of = outputs_of  # the nodes result.outputs reports (default: leaves)
        self.cache_keys = {}
        self.cached = 0
