"""The engine: the one scheduler loop every executor, CLI command and server drives.

A ``Run`` owns the mutable state of one execution of a DAG; the graph itself is never
modified by a run (dynamic rules append through the run's own view). Invariants:

- Every node follows the lifecycle of :mod:`dagforge.execution.states`; transitions go
  through ``_set`` which refuses illegal ones with an error naming the node.
- The ready queue is a heap keyed by ``(-priority, -upward_rank, index)`` (encoded as
  a single int when no priorities are set, for speed). Admission order: global
  concurrency, then exclusive nodes (run alone), then resources (``try_acquire``; the
  loop never blocks on the pool).
- Resource fairness (bounded overtaking): a node whose requirement does not fit *now*
  is parked in ``blocked``. Later nodes may start around it (backfill) until
  ``overtake_limit`` of them have; from then on it reserves what it asked for, and later
  nodes are admitted only if they fit in what is left after every reservation. A large
  request therefore waits behind at most ``overtake_limit`` small ones, never forever.
- Only the engine thread touches run state. Backends report completions as events,
  which the engine applies in ``_complete``; an event whose attempt number is stale
  (the node timed out or was abandoned) is ignored.
"""

from __future__ import annotations

import functools
import heapq
import random
import time
import types
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

from dagforge import states as S
from dagforge.calling import arity, kind_for, refuse
from dagforge.errors import (
    CancelledError,
    DynamicGraphError,
    GraphError,
    MissingInputError,
    NodeTimeoutError,
    UnknownNodeError,
)
from dagforge.execution.backends.base import ExecutionBackend
from dagforge.execution.jobs import K_NOARGS, K_POS, K_TASK, Event, Job, done, failed, format_error
from dagforge.execution.result import Attempt, ExecutionResult
from dagforge.graph import raise_problems
from dagforge.options import DEFAULT_OPTIONS
from dagforge.scheduling.priority import upward_ranks
from dagforge.tasks import Task

if TYPE_CHECKING:
    from dagforge.execution.callbacks import ExecutionCallbacks

_TIMER_RETRY, _TIMER_TIMEOUT = 0, 1
_PER_OBJECT = (types.FunctionType, functools.partial, types.BuiltinFunctionType)
_NOT_CALLABLE = object()
_new = tuple.__new__  # a Job without NamedTuple.__new__'s Python frame (hot path)


class Plan:
    """What a run prepares from the DAG alone, compiled once per DAG version.

    Stored on the DAG (``dag._plan``; every mutation drops it) and reused by the next
    run with the same callables: resolved callables and call kinds, Task bindings, heap
    keys per ranking mode, the leaves, and, for the inline backend, the order in which
    nodes run when all succeed (``schedules``). Runs never mutate what a plan holds.
    """

    __slots__ = (
        "arity_seen",
        "fns",
        "from_opts",
        "given",
        "keys",
        "kinds",
        "leaves",
        "schedulable",
        "schedules",
        "task_calls",
    )

    # Filled in by ``Run._resolve_callables`` right after construction.
    fns: list[Any]
    kinds: bytearray
    task_calls: dict[int, tuple[Callable[..., Any], tuple[str, ...], list[str]]]
    arity_seen: dict[Any, Any]

    def __init__(self, given: dict[str, Any]):
        self.given = given
        self.keys: dict[bool, tuple[Any, bool]] = {}
        self.schedules: dict[bool, list[int]] = {}
        self.leaves: list[int] | None = None
        self.schedulable = False
        self.from_opts: bool | None = None  # does any node carry a resources option?


class Run:
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
        self.clock: Callable[[], float] = clock
        self.rules: list[Any] = list(dag._rules)
        if self.rules:
            dag = dag.copy()  # the run grows its own copy; the user's DAG stays as written
        self.fatal: BaseException | None = None
        self.crash: BaseException | None = None  # raised on a worker while it was the engine
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
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        # Per-node run state (flat arrays; see module docstring).
        self.status = bytearray(n)
        self.pending = [len(p) for p in self.pred]
        self.values: list[Any] = [None] * n
        self.starts = [0.0] * n
        self.ends = [0.0] * n
        self.workers = [-1] * n
        self.attempt = [0] * n
        self.errors: dict[int, tuple[BaseException, str]] = {}
        self.reasons: dict[int, str] = {}
        self.attempts: dict[int, list[Attempt]] = {}
        self.metrics: dict[int, Any] = {}
        self.dead: dict[int, int] = {}
        self.order: list[int] = []
        self.in_flight = 0
        self.exclusive_running = False
        self.stopping = False
        self.interrupted = False
        self.timers: list[tuple[float, int, int, int]] = []
        # Node waiting for its retry -> the error of the attempt that failed.
        self.retry_errors: dict[int, tuple[BaseException, str]] = {}
        self.blocked: list[Any] = []
        # Parked node -> how many later nodes started while it waited (bounded overtaking).
        self.overtaken: dict[int, int] = {}
        self.overtake_limit = overtake_limit
        # (node, attempt) -> the requirement it holds. Keyed by attempt so that whoever
        # releases (the engine, or a threads worker right after the call, before it takes
        # the engine lock) pops exactly that attempt's hold, once.
        self.held: dict[tuple[int, int], Any] = {}
        self.conditions = dag._conditions
        self._build_keys(costs, rank_costs, use_ranks)
        self.heap: list[Any] = []
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
        self.seed = seed  # seed= : each node seeds the global generators (worker.Seeded)
        self.capture = capture  # per-node stdout/stderr/log capture (execution/capture.py)
        self.selected = selected
        # The inline schedule: with nothing that can change the order, run the nodes in
        # the order the heap would give them (compiled once), falling back to the heap
        # at the first failure.
        self.schedule: list[int] | None = None
        self._learn_schedule: bool | None = None
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
                    self.schedule = plan.schedules[use_ranks] = self._simulate()
        self.cache = cache
        self.outputs_of = outputs_of  # the nodes result.outputs reports (default: leaves)
        self.cache_keys: dict[int, str] = {}
        self.cached = 0

    # -- preparation --------------------------------------------------------------------

    def _check_run_inputs(self) -> None:
        needed = self.dag.run_inputs
        missing = set(needed - self.run_inputs.keys())
        if missing:
            problems: list[tuple[str, Exception]] = []
            for name, t in zip(self.names, self.dag._tasks, strict=True):
                if isinstance(t, Task):
                    mine = [i for i in t.inputs if i in missing]
                    if mine:
                        problems.append((name, MissingInputError(name, mine)))
            raise_problems(problems or [("?", MissingInputError("?", sorted(missing)))])

    def _resolve_callables(self, tasks: Mapping[str, Any] | None) -> None:
        dag = self.dag
        n = self.n
        given = dict(tasks or {})
        unknown = [k for k in given if k not in dag._index]
        if unknown:
            raise UnknownNodeError(
                f"tasks given for unknown node(s) {sorted(unknown)[:10]}; the DAG's nodes are "
                f"{dag.nodes[:10]}{' ...' if n > 10 else ''}"
            )
        plan = getattr(dag, "_plan", None) if not self.rules else None
        if plan is not None and plan.given == given:
            self.plan: Plan | None = plan
            self.fns, self.kinds, self.task_calls = plan.fns, plan.kinds, plan.task_calls
            self._arity_seen = plan.arity_seen
            self.bindings = dag._bindings
            return
        fns: list[Any] = [None] * n
        kinds = bytearray(n)
        self._arity_seen = {}
        missing = []
        problems: list[tuple[str, GraphError]] = []
        attached = dag._tasks
        pred = self.pred
        names = self.names
        # (id of the callable, number of parents) -> call kind: most DAGs share a few
        # callables, so each pair is worked out once.
        seen: dict[tuple[int, int], Any] = {}
        for i in range(n):
            t = given.get(names[i]) if given else None
            if t is None:
                t = attached[i]
                if t is None:
                    missing.append(names[i])
                    continue
            key = (id(t), len(pred[i]))
            kind: Any = seen.get(key)
            if kind is None:
                if isinstance(t, Task):
                    kind = K_TASK
                elif not callable(t):
                    kind = _NOT_CALLABLE
                else:
                    kind = kind_for(self._arity(t), key[1])
                seen[key] = kind
            fns[i] = t
            if kind is _NOT_CALLABLE:
                msg = f"the task of node {names[i]!r} is not callable: {t!r}"
                problems.append((names[i], GraphError(msg)))
                continue
            if type(kind) is str:
                parents = [names[p] for p in pred[i]]
                problems.append((names[i], refuse(names[i], parents, t, kind)))
                continue
            kinds[i] = kind
        if missing:
            problems.append(
                (
                    missing[0],
                    GraphError(
                        f"node(s) {missing[:10]}{' ...' if len(missing) > 10 else ''} have no "
                        "task; pass callables with execute({name: fn}) or attach them with "
                        "add_node(name, fn)"
                    ),
                )
            )
        if problems:
            raise_problems(problems)
        self.fns = fns
        self.kinds = kinds
        # Task nodes take keyword inputs; bind compute() and the config once.
        bindings = dag._bindings
        self.bindings = bindings
        self.task_calls = {}
        for i in range(n):
            if kinds[i] == K_TASK:
                t = fns[i]
                bound = {b[2] for b in bindings.get(i, ())}
                external = [inp for inp in t.inputs if inp not in bound]
                self.task_calls[i] = (t.compute, tuple(t.outputs), external)
        self.plan = None
        if not self.rules:  # a growing run's callables are its own
            plan = Plan(given)
            plan.fns, plan.kinds, plan.task_calls = fns, kinds, self.task_calls
            plan.arity_seen = self._arity_seen
            plan.schedulable = (
                not self.conditions_of(dag)
                and K_TASK not in kinds
                and all(o.simple for o in self.opts)
            )
            dag._plan = plan
            self.plan = plan

    @staticmethod
    def conditions_of(dag: Any) -> bool:
        return bool(dag._conditions)

    def _arity(self, fn: Any) -> Any:
        """``calling.arity(fn)``, memoised per function (or per class for callable objects)."""
        t = type(fn)
        if t is types.MethodType:
            key: Any = id(fn.__func__)
        elif t in _PER_OBJECT or isinstance(fn, type):
            key = id(fn)
        else:
            key = t  # a callable object: its class's __call__ decides
        try:
            return self._arity_seen[key]
        except KeyError:
            a = self._arity_seen[key] = arity(fn)
            return a

    def _resolve_requirements(self, requirements: Mapping[str, Any] | None) -> None:
        plan = self.plan
        from_opts = plan.from_opts if plan is not None else None
        if from_opts is None:
            from_opts = any(o.resources for o in self.opts if o is not DEFAULT_OPTIONS)
            if plan is not None:
                plan.from_opts = from_opts
        self.reqs: list[Any] | None = None
        if not requirements and not from_opts:
            if self.pool is not None and self.rules:
                self.reqs = [None] * self.n  # rules may add nodes that need the pool
            return
        from dagforge.resources import ResourceRequirements

        reqs: list[Any] = [None] * self.n
        if from_opts:
            for i, o in enumerate(self.opts):
                if o.resources:
                    reqs[i] = ResourceRequirements.coerce(o.resources)
        index = self.dag._index
        for name, req in (requirements or {}).items():
            j = index.get(name) if type(name) is str else None
            if j is None:
                j = self.dag._lookup(name, "requirements for node")  # raises, naming it
            reqs[j] = req if type(req) is ResourceRequirements else ResourceRequirements.coerce(req)
        if self.pool is None:
            return  # no pool: requirements are recorded but nothing limits them
        # Requirements are hashable values: check each distinct one once, and give every
        # record the take/give the pool built for it (the hot path's cache, see
        # ResourcePool._vector), so equal records share one.
        # Keyed by the record's hash, compared by its amounts (no Python-level __eq__).
        pool = self.pool
        checked: dict[int, Any] = {}
        get = checked.get
        for i, req in enumerate(reqs):
            if req is None:
                continue
            c = req._vec
            if c is not None and c[0] is pool:
                continue
            seen = get(req._hash)
            if seen is not None and (seen[0] is req or seen[0]._resources == req._resources):
                req._vec = seen[1]
                continue
            pool.check(req, node=self.names[i])  # rejected before anything runs
            pool._vector(req)
            checked[req._hash] = (req, req._vec)
        self.reqs = reqs

    def _build_keys(self, costs, rank_costs, use_ranks) -> None:
        plan = self.plan if not costs and not rank_costs else None  # cacheable
        if plan is not None:
            found = plan.keys.get(use_ranks)
            if found is not None:
                self.keys, self.int_keys = found
                return
        self._compute_keys(costs, rank_costs, use_ranks)
        if plan is not None:
            plan.keys[use_ranks] = (self.keys, self.int_keys)

    def _compute_keys(self, costs, rank_costs, use_ranks) -> None:
        opts = self.opts
        n = self.n
        all_default = opts.count(DEFAULT_OPTIONS) == n  # identity compare, in C
        prios = None if all_default else [o.priority for o in opts]
        has_prio = prios is not None and any(prios)
        order = self.dag._topo
        unit = (
            not costs
            and not rank_costs
            and (all_default or not any(o.cost is not None for o in opts))
            and (
                K_TASK not in self.kinds
                or not any(
                    isinstance(t, Task)
                    and type(t).estimate_instructions is not Task.estimate_instructions
                    for t in self.fns
                )
            )
        )
        ranks: list[Any] | None = None
        if use_ranks and n:
            if unit:
                ranks = _unit_ranks(self.succ, order, n)
            else:
                merged = dict(costs or {})
                merged.update(rank_costs or {})
                ranks = upward_ranks(self.succ, self.dag.node_costs(merged), order)
        self.int_keys = not has_prio and (ranks is None or unit) and not self.rules
        if self.rules and ranks is None:
            ranks = [0.0] * n
        if self.int_keys:
            if ranks is None:
                self.keys = None
            else:
                top = max(ranks) if ranks else 0
                self.keys = [(top - r) * n + i for i, r in enumerate(ranks)]
        else:
            p = prios or [0] * n
            r = ranks or [0.0] * n
            self.keys = [(-p[i], -r[i], i) for i in range(n)]

    # -- lifecycle helpers ---------------------------------------------------------------

    def _set(self, i: int, new: int) -> None:
        old = self.status[i]
        if not S.ALLOWED[old][new]:
            raise S.illegal(self.names[i], old, new)
        self.status[i] = new

    def _push(self, i: int) -> None:
        self._set(i, S.READY)
        keys = self.keys
        heapq.heappush(self.heap, i if keys is None else keys[i])

    def _idx(self, key: Any) -> int:
        if self.keys is None:
            return key
        if self.int_keys:
            return key % self.n
        return key[2]

    # -- the loop --------------------------------------------------------------------------

    def begin(self) -> None:
        S.check_run_transition(self.state, S.RUN_RUNNING)
        self.state = S.RUN_RUNNING
        self.wall_start = time.time()
        self.t0 = self.clock()
        if hasattr(self.backend, "run_opts"):
            self.backend.run_opts = self.opts  # remote backends map options (resources)
        if hasattr(self.backend, "run_conditions"):
            self.backend.run_conditions = self.conditions  # and see conditional edges
        self.backend.start()
        cb = self.callbacks
        if cb is not None and cb.on_run_start is not None:
            cb.on_run_start(self.dag)
        selected = self.selected
        if selected is not None:
            for i in range(self.n):
                if i not in selected:
                    self._skip(i, "not selected: outside targets= or inside exclude=")
        if self.schedule is not None:
            return  # _dispatch_inline runs the compiled order
        for i in range(self.n):
            if not self.pending[i] and self.status[i] == S.PENDING:
                self._push(i)
        if self.rules:
            self._apply_rules()

    def _simulate(self) -> list[int]:
        """The order the ready heap gives when every node succeeds (inline backend)."""
        keys, n, int_keys = self.keys, self.n, self.int_keys
        pending = [len(p) for p in self.pred]
        succ = self.succ
        heap: list[Any] = []
        push, pop = heapq.heappush, heapq.heappop
        for i in range(n):
            if not pending[i]:
                push(heap, i if keys is None else keys[i])
        out: list[int] = []
        append = out.append
        while heap:
            key = pop(heap)
            i = key if keys is None else (key % n if int_keys else key[2])
            append(i)
            for c in succ[i]:
                pending[c] -= 1
                if not pending[c]:
                    push(heap, c if keys is None else keys[c])
        return out

    def _run_schedule(self, schedule: list[int]) -> None:
        """Run ``schedule`` (every node simple, no Task, no condition) on this thread."""
        fns, kinds, pred = self.fns, self.kinds, self.pred
        values, starts, ends, status = self.values, self.starts, self.ends, self.status
        SUCCEEDED = S.SUCCEEDED
        coroutine = types.CoroutineType
        clock = self.clock
        for i in schedule:
            t0 = clock()
            try:
                value = fns[i](*[values[p] for p in pred[i]]) if kinds[i] == K_POS else fns[i]()
                if type(value) is coroutine:
                    import asyncio

                    value = asyncio.run(value)
            except (Exception, SystemExit) as exc:
                self._leave_schedule(schedule, i)
                self._complete(failed(i, 1, exc, format_error(exc), t0, clock(), 0))
                return
            except BaseException:  # KeyboardInterrupt: the run's interrupt sees i running
                self._leave_schedule(schedule, i)
                raise
            ends[i] = clock()
            starts[i] = t0
            values[i] = value
            status[i] = SUCCEEDED
        n = self.n
        self.order = list(schedule)
        self.workers = [0] * n
        self.attempt = [1] * n

    def _leave_schedule(self, schedule: list[int], i: int) -> None:
        """Leave the compiled order at node ``i`` (running): rebuild what the heap path
        keeps (order, attempts, pending counts, the ready heap)."""
        k = schedule.index(i)
        ran = schedule[:k]
        self.order = [*ran, i]
        workers, attempt, pending, succ = self.workers, self.attempt, self.pending, self.succ
        for j in ran:
            workers[j] = 0
            attempt[j] = 1
            for c in succ[j]:
                pending[c] -= 1
        keys = self.keys
        status = self.status
        for j in schedule[k + 1 :]:
            if not pending[j]:
                status[j] = S.READY
                heapq.heappush(self.heap, j if keys is None else keys[j])
        status[i] = S.RUNNING
        attempt[i] = 1
        self.in_flight = 1

    def finished(self) -> bool:
        if self.in_flight:
            return False
        if self.timers:
            # Nothing runs, so every timeout timer is stale (its node already finished):
            # only a node waiting for its retry keeps the run open.
            status = self.status
            if any(k == _TIMER_RETRY and status[i] == S.RETRY_WAIT for _, k, i, _ in self.timers):
                return False
            self.timers.clear()
        return self.stopping or (not self.heap and not self.blocked)

    def run(self) -> ExecutionResult:
        """Drive the run on the calling thread until every node settled."""
        backend = self.backend
        attach = getattr(backend, "attach", None)
        if attach is not None:
            return self._run_shared(attach)
        self.begin()
        try:
            while self._advance():
                self._apply(backend.wait(self._wait_timeout()))
        except KeyboardInterrupt:
            self.interrupt("interrupted by KeyboardInterrupt")
        finally:
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()

    def _run_shared(self, attach: Callable[..., None]) -> ExecutionResult:
        """The loop for backends whose workers may apply their own completions.

        Whoever holds ``lock`` is the engine: this thread while it dispatches and
        applies queued events, a worker while it applies the event it just produced.
        """
        import threading

        lock = threading.Lock()
        backend = self.backend
        early = self._early_release() if self.pool is not None and self.callbacks is None else None
        attach(lock, self._apply_and_dispatch, early)
        held = False
        try:
            lock.acquire()
            held = True
            self.begin()
            while self._advance():
                timeout = self._wait_timeout()
                lock.release()
                held = False
                events = backend.wait(timeout)
                lock.acquire()
                held = True
                if self.crash is not None:
                    raise self.crash
                self._apply(events)
        except KeyboardInterrupt:
            if not held:
                lock.acquire()
                held = True
            self.interrupt("interrupted by KeyboardInterrupt")
        finally:
            if held:
                lock.release()
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()

    def _apply_and_dispatch(self, event: Event) -> bool:
        """Apply one event and dispatch (caller holds the engine lock).

        True when the engine thread should wake: the run may be over or a timer is set.
        """
        try:
            self._apply([event])
            self.dispatch()
        except BaseException as exc:  # e.g. a callback raised: end the run on the engine thread
            if self.crash is None:
                self.crash = exc
            return True
        return bool(self.timers) or self.finished() or self.fatal is not None

    def _advance(self) -> bool:
        """Dispatch what can start; False once the run is over."""
        self.dispatch()
        return not self.finished()

    def _apply(self, events: list[Event]) -> None:
        """Apply completion events, then any due retry/timeout timers."""
        for ev in events:
            self._complete(ev)
        if self.timers:
            self._fire_timers()

    def _finish_or_raise(self) -> ExecutionResult:
        result = self.finish()
        if self.fatal is not None:
            self.fatal.result = result  # type: ignore[attr-defined]
            raise self.fatal
        return result

    async def run_async(self) -> ExecutionResult:
        """The same loop for asyncio: awaits completions instead of blocking."""
        import asyncio

        self.begin()
        backend = self.backend
        try:
            while self._advance():
                self._apply(await backend.wait_async(self._wait_timeout()))
        except KeyboardInterrupt:  # inside a node: cancel and return, like the other drivers
            self.interrupt("interrupted by KeyboardInterrupt")
        except asyncio.CancelledError:  # the awaiting task was cancelled: propagate it
            self.interrupt("the run was cancelled")
            raise
        finally:
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()

    def _wait_timeout(self) -> float | None:
        if self.timers:
            return max(0.0, self.timers[0][0] - self.clock())
        if not self.in_flight:
            return 0.005  # parked on a pool someone else holds: poll it
        return None

    def dispatch(self) -> None:
        """Start every ready node that admission allows, best key first."""
        if self.stopping:
            return
        if self.fast_inline:
            self._dispatch_inline()
            return
        heap = self.heap
        pool = self.pool if self.reqs is not None else None
        reqs: Sequence[Any] = self.reqs if self.reqs is not None else ()  # () when no pool
        shadow = None
        if pool is not None and self.blocked:
            shadow = self._dispatch_blocked()
            if shadow is None:
                return
        opts = self.opts
        keys = self.keys
        int_keys = self.int_keys
        n = self.n
        sync = self.backend.synchronous
        launch = self._launch
        heappop = heapq.heappop
        callbacks, held = self.callbacks, self.held
        while heap and not self.stopping:
            if self.in_flight >= self.max_conc and not sync:
                return
            if self.exclusive_running:
                return
            key = heap[0]
            i = key if keys is None else (key % n if int_keys else key[2])
            o = opts[i]
            if o is not DEFAULT_OPTIONS and o.exclusive and self.in_flight:
                return  # an exclusive node waits for the workers to drain
            if pool is not None and reqs[i] is not None:
                heappop(heap)
                req = reqs[i]
                if shadow is None:
                    # Nothing parked in this pass: no reservations to respect.
                    c = req._vec  # the take the pool built for req (see _vector)
                    if (
                        c[1][0](req, self.names[i])
                        if c is not None and c[0] is pool and c[1] is not None
                        else pool._take_if_fits(req, self.names[i])
                    ):
                        if callbacks is None:  # _acquired, inlined for the common case
                            held[(i, self.attempt[i] + 1)] = req
                        else:
                            self._acquired(i, req)
                        launch(i)
                        continue
                    shadow = pool.available
                if req.fits(shadow) and pool._take_if_fits(req, self.names[i]):
                    _subtract(shadow, req)
                    self._acquired(i, req)
                    if self.overtaken:
                        self._overtake(shadow)
                    launch(i)
                else:
                    self.overtaken[i] = 0
                    if not self.overtake_limit:
                        _subtract(shadow, req)  # reserve at once
                    self.blocked.append(key)
                    if len(self.blocked) > 256:
                        return
                continue
            heappop(heap)
            if self.overtaken:
                self._overtake(shadow)
            launch(i)

    def _dispatch_inline(self) -> None:
        """``dispatch`` for the inline backend, with the call and completion inlined.

        Same order, states and results as ``_launch`` + ``_complete``; it exists because
        on no-op tasks the engine's own overhead is the whole cost. Any node with
        options, Task inputs or a failure goes through the general path.
        """
        if self.schedule is not None:
            schedule, self.schedule = self.schedule, None
            self._run_schedule(schedule)
        heap = self.heap
        keys = self.keys
        n = self.n
        int_keys = self.int_keys
        opts, kinds, fns = self.opts, self.kinds, self.fns
        status, values, pending = self.status, self.values, self.pending
        pred, succ = self.pred, self.succ
        starts, ends, workers, attempt = self.starts, self.ends, self.workers, self.attempt
        order = self.order
        heappop, heappush = heapq.heappop, heapq.heappush
        allowed_run = S.ALLOWED[S.READY][S.RUNNING]
        READY, RUNNING, SUCCEEDED, PENDING = S.READY, S.RUNNING, S.SUCCEEDED, S.PENDING
        coroutine = types.CoroutineType
        clock = self.clock
        while heap and not self.stopping:
            key = heappop(heap)
            i = key if keys is None else (key % n if int_keys else key[2])
            kind = kinds[i]
            if not opts[i].simple or kind == K_TASK or status[i] != READY:
                heappush(heap, key)
                self._launch_one_general()
                continue
            if not allowed_run:  # pragma: no cover - the table is static
                raise S.illegal(self.names[i], READY, RUNNING)
            status[i] = RUNNING
            order.append(i)
            attempt[i] += 1
            self.in_flight += 1
            t0 = clock()
            try:
                value = fns[i](*[values[p] for p in pred[i]]) if kind == K_POS else fns[i]()
                if type(value) is coroutine:
                    import asyncio

                    value = asyncio.run(value)
            except (Exception, SystemExit) as exc:
                self._complete(failed(i, attempt[i], exc, format_error(exc), t0, clock(), 0))
                continue
            ends[i] = clock()
            starts[i] = t0
            workers[i] = 0
            self.in_flight -= 1
            status[i] = SUCCEEDED
            values[i] = value
            for c in succ[i]:
                p = pending[c] - 1
                pending[c] = p
                if not p and status[c] == PENDING:
                    status[c] = READY
                    heappush(heap, c if keys is None else keys[c])
            if self.rules:
                self._apply_rules()
                # rules may append nodes: refresh the views of the growing arrays
                n, keys = self.n, self.keys

    def _launch_one_general(self) -> None:
        """Pop the head of the ready heap and start it through ``_launch``."""
        key = heapq.heappop(self.heap)
        self._launch(self._idx(key))

    def _overtake(self, shadow: dict | None) -> None:
        """A node starts while others are parked: each parked node was overtaken once.

        A parked node that reaches the limit starts reserving at once (``shadow`` is
        what later nodes in this pass may still take).
        """
        overtaken = self.overtaken
        limit = self.overtake_limit
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        for j in overtaken:
            count = overtaken[j] = overtaken[j] + 1
            if count == limit and shadow is not None:
                _subtract(shadow, reqs[j])

    def _dispatch_blocked(self) -> dict | None:
        """Retry parked nodes in key order; return what is left for the rest."""
        pool = self.pool
        shadow = pool.available
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        still = []
        for key in self.blocked:
            i = self._idx(key)
            req = reqs[i]
            if self.stopping or self.exclusive_running or self.in_flight >= self.max_conc:
                still.append(key)
                continue
            if self.opts[i].exclusive and self.in_flight:
                still.append(key)
                _subtract(shadow, req)
                continue
            if req.fits(shadow) and pool._take_if_fits(req, self.names[i]):
                _subtract(shadow, req)
                self._acquired(i, req)
                del self.overtaken[i]
                self._overtake(None)  # later parked nodes reserve when visited below
                self._launch(i)
            else:
                if self.overtaken[i] >= self.overtake_limit:
                    _subtract(shadow, req)  # overtaken enough: now it reserves
                still.append(key)
        self.blocked = still
        if self.in_flight >= self.max_conc and not self.backend.synchronous:
            return None
        return shadow

    def _acquired(self, i: int, req: Any) -> None:
        self.held[(i, self.attempt[i] + 1)] = req  # for the attempt _launch starts next
        cb = self.callbacks
        if cb is not None and cb.on_resource_acquired is not None:
            cb.on_resource_acquired(self.names[i], req)

    def early_release(self, i: int, attempt: int) -> None:
        """Give back what attempt ``attempt`` of node ``i`` holds; a threads worker calls
        this right after the call, before it takes the engine lock (only without
        callbacks, which must run on the engine). The pool has its own lock."""
        req = self.held.pop((i, attempt), None)
        if req is not None:
            c = req._vec  # the give the pool built for req (see ResourcePool._vector)
            if c is not None and c[0] is self.pool and c[1] is not None:
                c[1][1](req, self.names[i])
            else:
                self.pool._give_back(req, self.names[i])

    def _early_release(self) -> Callable[[int, int], None]:
        """:meth:`early_release` as a closure over the run's state (a worker calls it once
        per node, so it skips the attribute lookups)."""
        pop, names, pool = self.held.pop, self.names, self.pool

        def release(i: int, attempt: int) -> None:
            req = pop((i, attempt), None)
            if req is not None:
                c = req._vec  # the give the pool built for req (see ResourcePool._vector)
                if c is not None and c[0] is pool and c[1] is not None:
                    c[1][1](req, names[i])
                else:
                    pool._give_back(req, names[i])

        return release

    def _release(self, i: int, attempt: int) -> None:
        req = self.held.pop((i, attempt), None)
        if req is None:
            return
        self.pool._give_back(req, self.names[i])
        cb = self.callbacks
        if cb is not None and cb.on_resource_released is not None:
            cb.on_resource_released(self.names[i], req)

    def _launch(self, i: int) -> None:
        self._set(i, S.RUNNING)
        self.in_flight += 1
        o = self.opts[i]
        if o.exclusive:
            self.exclusive_running = True
        self.order.append(i)
        cb = self.callbacks
        if cb is not None and cb.on_node_start is not None:
            cb.on_node_start(self.names[i])
        kind = self.kinds[i]
        values = self.values
        args: Any = ()
        kwargs: Any = None
        if kind == K_POS:
            args = [values[p] for p in self.pred[i]]
            fn = self.fns[i]
            outputs = None
        elif kind == K_NOARGS:
            fn = self.fns[i]
            outputs = None
        else:
            fn, outputs, external = self.task_calls[i]
            select = self.backend.select
            kwargs = {
                inp: select(values[p], out)
                for p, out, inp in self.bindings.get(i, ())
                if values[p] is not None
            }
            for inp in external:
                kwargs[inp] = self.run_inputs[inp]
            kwargs["cfg"] = self.dag.config
        attempt = self.attempt[i] + 1
        self.attempt[i] = attempt
        if self.cache is not None and o.cache and self._from_cache(i, attempt, fn, args, kwargs):
            return
        ser = None
        if self.profiling:
            ser = o.serializer or self.serializer or "pickle"
        if self.seed is not None:
            from dagforge.execution.jobs import Seeded, node_seed

            fn = Seeded(fn, node_seed(self.seed, self.names[i]))
        if self.capture is not None:
            fn = self.capture.wrap(self.names[i], fn)
        job = _new(Job, (i, attempt, kind, fn, args, kwargs, self.names[i], outputs, ser))
        if o.timeout is not None and not self.backend.synchronous:
            heapq.heappush(self.timers, (self.clock() + o.timeout, _TIMER_TIMEOUT, i, attempt))
        if self.backend.synchronous:
            ev = self.backend.submit(job)
            if (
                o.timeout is not None
                and ev.t_end - ev.t_start > o.timeout
                and not isinstance(ev.error, KeyboardInterrupt)
            ):
                self._late(i, attempt, ev.t_start, ev.t_end)
            else:
                self._complete(ev)
        else:
            self.backend.submit(job)

    def _late(self, i: int, attempt: int, t_start: float, t_end: float) -> None:
        """A synchronous node that ran past its timeout: timed out, its result discarded.

        Nothing can interrupt the caller's own thread, so the timeout is applied when the
        node returns: the outcome (status, error, retries) is the one the other backends
        give, only later.
        """
        o = self.opts[i]
        err = NodeTimeoutError(
            f"node {self.names[i]!r} ran {t_end - t_start:.3g}s, longer than its timeout of "
            f"{o.timeout}s (attempt {attempt}); on the {self.backend.name} backend a node "
            "cannot be interrupted, so it ran to its end and its result was discarded"
        )
        self.in_flight -= 1
        if o.exclusive:
            self.exclusive_running = False
        self.starts[i] = t_start
        self.ends[i] = t_end
        self.workers[i] = 0
        if self.held:
            self._release(i, attempt)
        self._record_attempt(i, attempt, False, err, t_start, t_end, 0)
        self._failed(i, attempt, err, None, S.TIMED_OUT)

    def _complete(self, ev: Event) -> None:
        i, attempt, ok, value, err, tb, t_start, t_end, wid, metrics = ev
        if attempt != self.attempt[i] or self.status[i] != S.RUNNING:
            return  # a late event from an abandoned attempt
        if not ok and isinstance(err, KeyboardInterrupt):
            raise KeyboardInterrupt from err  # Ctrl-C inside a node interrupts the run
        # SystemExit raised by a node is that node's failure (it is not retried by the
        # default retry_on=(Exception,)); it never ends the caller's process.
        self.in_flight -= 1
        o = self.opts[i]
        if o.exclusive:
            self.exclusive_running = False
        self.starts[i] = t_start
        self.ends[i] = t_end
        self.workers[i] = wid
        held = self.held
        if held:
            if self.callbacks is None:  # _release, inlined for the common case
                req = held.pop((i, attempt), None)
                if req is not None:
                    self.pool._give_back(req, self.names[i])
            else:
                self._release(i, attempt)
        if metrics is not None:
            self.metrics[i] = metrics
        if o.retries or o.timeout is not None:
            self._record_attempt(i, attempt, ok, err, t_start, t_end, wid)
        cb = self.callbacks
        if ok:
            self._set(i, S.SUCCEEDED)
            self.values[i] = value
            if self.cache_keys:
                key = self.cache_keys.pop(i, None)
                if key is not None:
                    fetch = getattr(self.backend, "materialize", None)  # Dask: not the future
                    self.cache.put(key, value if fetch is None else fetch(self, i))
            if cb is not None and cb.on_node_complete is not None:
                cb.on_node_complete(self.names[i], value)
            self._release_children(i, value)
        else:
            assert err is not None  # a failed event carries its error
            self._failed(i, attempt, err, tb, S.FAILED)
        if self.rules:
            self._apply_rules()

    def _from_cache(self, i: int, attempt: int, fn: Any, args: Any, kwargs: Any) -> bool:
        """Complete node ``i`` from the result cache if its content key is there."""
        task = self.fns[i]
        cfg = self.dag.config
        deps = [(k, cfg.get(k)) for k in getattr(task, "config_deps", ())]
        inputs = {k: v for k, v in kwargs.items() if k != "cfg"} if kwargs else None
        resolve = getattr(self.backend, "resolve", None)
        if resolve is not None:  # Dask: key on the inputs' values, not on their futures
            args = [resolve(a) for a in args]
            inputs = {k: resolve(v) for k, v in inputs.items()} if inputs else inputs
        key = self.cache.key(task, deps, list(args), inputs, self.opts[i].cache_key)
        if key is None:
            return False
        value = self.cache.get(key)
        if not self.cache.is_hit(value):
            self.cache_keys[i] = key
            return False
        now = self.clock()
        self.reasons[i] = "restored from the result cache"
        self.cached += 1
        self._complete(done(i, attempt, value, now, now, -1))
        return True

    # -- dynamic rules -----------------------------------------------------------------------

    def _apply_rules(self) -> None:
        """Apply every rule whose predicate holds, until none does (rules may enable rules)."""
        from dagforge.dynamic import GraphBuilder, GraphView

        progressed = True
        while progressed and self.rules and not self.stopping:
            progressed = False
            for r in list(self.rules):
                try:
                    if not r.predicate(GraphView(self)):
                        continue
                    builder = GraphBuilder(self, r)
                    r.body(builder)
                    self._append(r, builder)
                except Exception as exc:
                    self._fatal(r, exc)
                    return
                self.rules.remove(r)
                self.rules.extend(builder.rules)
                progressed = True

    def _fatal(self, r: Any, exc: Exception) -> None:
        from dagforge.errors import DagforgeError, DynamicGraphError

        # dagforge's own errors (DynamicGraphError, LoopLimitError, SpecError...) end the
        # run as they are; anything else a user's predicate or body raised is wrapped.
        if not isinstance(exc, DagforgeError):
            wrapped = DynamicGraphError(
                f"rule {r.name!r} raised {type(exc).__name__}: {exc}; nothing it added was kept"
            )
            wrapped.__cause__ = exc
            exc = wrapped
        self.fatal = exc
        self._stop(f"the run stopped: {exc}")

    def _append(self, r: Any, b: Any) -> None:
        """Apply a body's additions all at once (each was validated when the body added it)."""
        if not b.nodes:
            return
        dag = self.dag
        first = len(self.names)
        parents_of: dict[str, list[str]] = {}
        for src, dst in b.edges:
            parents_of.setdefault(dst, []).append(src)
        for name, fn, _ in b.nodes:
            kind = kind_for(self._arity(fn), len(parents_of.get(name, ())))
            if type(kind) is str:
                err = refuse(name, parents_of.get(name, []), fn, kind)
                raise DynamicGraphError(f"rule {r.name!r} adds an uncallable node: {err}")
        for name, fn, opts in b.nodes:
            dag._append_node(name, fn, opts)
        index = dag._index
        for src, dst in b.edges:  # checked by the builder: new targets, known sources
            dag._append_edge(index[src], index[dst])
        new = range(first, len(self.names))
        if self.reqs is not None:
            from dagforge.resources import ResourceRequirements

            for i in new:
                req = self.opts[i].resources
                req = ResourceRequirements.coerce(req) if req else None
                if req is not None:
                    self.pool.check(req, node=self.names[i])
                self.reqs.append(req)
        for i in new:
            self.n += 1
            self.status.append(S.PENDING)
            self.pending.append(len(self.pred[i]))
            self.values.append(None)
            self.starts.append(0.0)
            self.ends.append(0.0)
            self.workers.append(-1)
            self.attempt.append(0)
            fn = dag._tasks[i]
            self.fns.append(fn)
            self.kinds.append(kind_for(self._arity(fn), len(self.pred[i])))
            self.keys.append((-self.opts[i].priority, 0.0, i))
        for i in new:
            failed_parent = None
            for p in self.pred[i]:
                st = self.status[p]
                if st == S.SUCCEEDED:
                    self.pending[i] -= 1
                elif st in S.TERMINAL:
                    failed_parent = self.names[p]
            if self.status[i] != S.PENDING:
                continue
            if failed_parent is not None:
                self._skip(i, f"upstream node {failed_parent!r} did not succeed")
                self._skip_descendants(i, f"upstream node {failed_parent!r} did not succeed")
            elif not self.pending[i]:
                self._push(i)

    def _release_children(self, i: int, value: Any) -> None:
        pending = self.pending
        status = self.status
        conditions = self.conditions
        for c in self.succ[i]:
            if conditions:
                cond = conditions.get((i, c))
                if cond is not None and not self._holds(i, c, cond, value):
                    self.dead[c] = self.dead.get(c, 0) + 1
            p = pending[c] - 1
            pending[c] = p
            if not p and status[c] == S.PENDING:
                if self.dead and self.dead.get(c, 0) == len(self.pred[c]):
                    self._skip_by_condition(c)
                else:
                    self._push(c)

    def _holds(self, i: int, c: int, cond: Callable[[Any], bool], value: Any) -> bool:
        try:
            return bool(cond(value))
        except Exception as exc:
            raise GraphError(
                f"the condition on edge {self.names[i]!r} -> {self.names[c]!r} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _skip_by_condition(self, start: int) -> None:
        stack = [start]
        while stack:
            c = stack.pop()
            parents = ", ".join(repr(self.names[p]) for p in self.pred[c])
            self._skip(c, f"not reached: every incoming edge (from {parents}) was switched off")
            for g in self.succ[c]:
                self.dead[g] = self.dead.get(g, 0) + 1
                self.pending[g] -= 1
                if not self.pending[g] and self.status[g] == S.PENDING:
                    if self.dead[g] == len(self.pred[g]):
                        stack.append(g)
                    else:
                        self._push(g)

    def _record_attempt(self, i, attempt, ok, err, t_start, t_end, wid) -> None:
        status = (
            "succeeded" if ok else ("timed_out" if isinstance(err, NodeTimeoutError) else "failed")
        )
        wname = self.backend.worker_names[wid] if 0 <= wid < len(self.backend.worker_names) else "?"
        self.attempts.setdefault(i, []).append(
            Attempt(attempt, t_start - self.t0, t_end - self.t0, wname, status, err)
        )

    def _failed(self, i: int, attempt: int, err: BaseException, tb: str | None, state: int) -> None:
        o = self.opts[i]
        if attempt <= o.retries and isinstance(err, o.retry_on) and not self.stopping:
            self._set(i, S.RETRY_WAIT)
            self.retry_errors[i] = (err, tb or "")
            delay = o.retry_delay * (o.retry_backoff ** (attempt - 1))
            if o.retry_jitter and delay:
                delay *= 1.0 + random.uniform(-o.retry_jitter, o.retry_jitter)
            heapq.heappush(self.timers, (self.clock() + delay, _TIMER_RETRY, i, attempt))
            cb = self.callbacks
            if cb is not None and cb.on_node_retry is not None:
                cb.on_node_retry(self.names[i], attempt, err)
            return
        self._set(i, state)
        self.errors[i] = (err, tb or "")
        cb = self.callbacks
        if cb is not None and cb.on_node_error is not None:
            cb.on_node_error(self.names[i], err)
        name = self.names[i]
        if self.fail_fast:
            self._stop(f"the run stopped after {name!r} failed (fail_fast=True)")
        else:
            self._skip_descendants(i, f"upstream node {name!r} failed")

    def _skip(self, i: int, reason: str) -> None:
        self._set(i, S.SKIPPED)
        self.reasons[i] = reason
        cb = self.callbacks
        if cb is not None and cb.on_node_skipped is not None:
            cb.on_node_skipped(self.names[i], reason)

    def _skip_descendants(self, i: int, reason: str) -> None:
        stack = list(self.succ[i])
        status = self.status
        while stack:
            c = stack.pop()
            if status[c] in (S.PENDING, S.READY):
                self._skip(c, reason)
                stack.extend(self.succ[c])

    def _stop(self, reason: str, state: int = S.SKIPPED) -> None:
        """Stop dispatching; every node not started is skipped (or cancelled)."""
        self.stopping = True
        self.heap.clear()
        self.blocked.clear()
        self.overtaken.clear()
        for i in range(self.n):
            st = self.status[i]
            if st == S.RETRY_WAIT:
                self._retry_dropped(i, reason, state)
            elif st in (S.PENDING, S.READY):
                if state == S.SKIPPED:
                    self._skip(i, reason)
                else:
                    self._set(i, S.CANCELLED)
                    self.reasons[i] = reason
        self.timers = [t for t in self.timers if t[1] == _TIMER_TIMEOUT]
        heapq.heapify(self.timers)

    def _retry_dropped(self, i: int, reason: str, state: int) -> None:
        """A node waiting for its retry when the run stops: it ran and failed, so it is
        reported failed with that error (cancelled with it on an interrupt)."""
        err = self.retry_errors.pop(i)
        if state == S.SKIPPED:
            self._set(i, S.FAILED)
            self.reasons[i] = f"its retry did not run: {reason}"
            cb = self.callbacks
            if cb is not None and cb.on_node_error is not None:
                cb.on_node_error(self.names[i], err[0])
        else:
            self._set(i, S.CANCELLED)
            self.reasons[i] = f"{reason} while it waited for its retry"
        self.errors[i] = err

    def _fire_timers(self) -> None:
        now = self.clock()
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, kind, i, attempt = heapq.heappop(timers)
            if attempt != self.attempt[i]:
                continue
            if kind == _TIMER_RETRY:
                if self.status[i] == S.RETRY_WAIT:
                    self.retry_errors.pop(i, None)
                    self._push(i)
            elif self.status[i] == S.RUNNING:
                self._timed_out(i, attempt, now)

    def _timed_out(self, i: int, attempt: int, now: float) -> None:
        o = self.opts[i]
        self.backend.abandon(i, attempt)
        err = NodeTimeoutError(
            f"node {self.names[i]!r} ran longer than its timeout of {o.timeout}s "
            f"(attempt {attempt}); on the {self.backend.name} backend it was "
            + ("killed" if self.backend.name == "processes" else "abandoned")
        )
        self.in_flight -= 1
        if o.exclusive:
            self.exclusive_running = False
        start = now - o.timeout
        self.starts[i] = start
        self.ends[i] = now
        if self.held:
            self._release(i, attempt)
        self._record_attempt(i, attempt, False, err, start, now, -1)
        self._failed(i, attempt, err, None, S.TIMED_OUT)

    def interrupt(self, reason: str) -> None:
        """Cancel: nothing new starts; running nodes are abandoned; all say cancelled."""
        self.interrupted = True
        for i in range(self.n):
            if self.status[i] == S.RUNNING:
                self.backend.abandon(i, self.attempt[i])
                self._set(i, S.CANCELLED)
                self.reasons[i] = reason + " while it was running"
                self.errors[i] = (CancelledError(f"node {self.names[i]!r} was cancelled"), "")
                if self.held:
                    self._release(i, self.attempt[i])
        self.in_flight = 0
        self._stop(reason, S.CANCELLED)

    def finish(self) -> ExecutionResult:
        t1 = self.clock()
        if (
            self._learn_schedule is not None
            and len(self.order) == self.n
            and self.status.count(S.SUCCEEDED) == self.n
        ):  # every node ran once, in heap order: that order is the compiled schedule
            self.plan.schedules[self._learn_schedule] = list(self.order)  # type: ignore[union-attr]
        finalize = getattr(self.backend, "finalize", None)
        if finalize is not None:
            finalize(self)  # e.g. fetch values from a cluster that is about to close
        if self.interrupted:
            final = S.RUN_CANCELLED
        elif self.fatal is not None or self.errors:
            final = S.RUN_FAILED
        else:
            final = S.RUN_SUCCEEDED
        S.check_run_transition(self.state, final)
        self.state = final
        edge_bytes = self._edge_bytes() if self.profiling else None
        result = ExecutionResult(
            names=self.names,
            index=self.dag._index,
            status=self.status,
            values=self.values,
            starts=self.starts,
            ends=self.ends,
            workers=self.workers,
            worker_names=list(self.backend.worker_names),
            errors=self.errors,
            reasons=self.reasons,
            attempts=self.attempts,
            metrics=self.metrics,
            leaves=self.outputs_of if self.outputs_of is not None else self._leaves(),
            t0=self.t0,
            t1=t1,
            wall_start=self.wall_start,
            run_status=final,
            backend=self.backend.name,
            edge_bytes=edge_bytes,
            order=self.order,
            tracing=self.tracing,
            interrupted=self.interrupted,
            dag=self.dag,
            logs=self.capture.logs if self.capture is not None else None,
        )
        cb = self.callbacks
        if cb is not None and cb.on_run_complete is not None:
            cb.on_run_complete(result)
        return result

    def _leaves(self) -> list[int]:
        plan = self.plan
        if plan is not None and plan.leaves is not None and len(plan.fns) == self.n:
            return plan.leaves
        leaves = [i for i in range(self.n) if not self.succ[i]]
        if plan is not None:
            plan.leaves = leaves
        return leaves

    def _edge_bytes(self) -> dict[tuple[str, str], int]:
        """Bytes that crossed each edge: the sizes of the outputs the edge routes."""
        out: dict[tuple[str, str], int] = {}
        names = self.names
        routed: dict[tuple[int, int], list[str]] = {}
        for v, binding in self.bindings.items():
            for u, o, _ in binding:
                routed.setdefault((u, v), []).append(o)
        bytes_in: dict[int, int] = {}
        for u in range(self.n):
            m = self.metrics.get(u)
            if m is None:
                continue
            for v in self.succ[u]:
                if self.status[v] == S.SKIPPED and self.status[u] == S.SUCCEEDED and v in self.dead:
                    size = 0
                elif (u, v) in routed:
                    size = sum(m.output_bytes.get(o, 0) for o in routed[(u, v)])
                else:
                    size = m.bytes_out
                out[(names[u], names[v])] = size
                bytes_in[v] = bytes_in.get(v, 0) + size
        for v, total in bytes_in.items():
            m = self.metrics.get(v)
            if m is not None:
                m.bytes_in = total
        return out


def _unit_ranks(succ: list[list[int]], order: list[int], n: int) -> list[int]:
    """Upward ranks with every cost 1 (integers): the longest path to a leaf, in nodes."""
    rank = [1] * n
    get = rank.__getitem__
    for u in reversed(order):
        s = succ[u]
        if s:
            rank[u] = 1 + max(map(get, s))
    return rank


def _subtract(shadow: dict, req: Any) -> None:
    for k, amount in req._resources.items():
        shadow[k] = shadow.get(k, 0) - amount
