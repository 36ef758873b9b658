"""The state of one run, declared in one place (every field the engine's modules share).

A run is split by job into mixins over this one state: planning (compile the DAG into
flat arrays), the core (the node state machine), admission (what may start now),
timers, growth (dynamic rules), result building, the inline fast path and the drivers
(``engine.Run`` composes them). Each reads and writes the fields below; the node
*status* is written only by the core's per-transition methods (``_set`` and the
methods built on it), each of which refuses an illegal transition naming the node.

Per node ``i`` (flat arrays, grown together when a rule adds nodes):

``status[i]``  lifecycle state (:mod:`dagforge.execution.states`)
``pending[i]`` parents not yet succeeded; the node is pushed on the ready heap at 0
``values[i]``  the value once succeeded
``starts[i]``, ``ends[i]`` the last attempt's times on the run's clock (0.0: none)
``workers[i]`` index into the backend's ``worker_names`` (-1: none)
``attempt[i]`` the attempt number last started (an event of another one is stale)
``keys[i]``    its heap key (built by ``planning.heap_keys``), or ``None`` for all: the index

Run-wide: ``outbox`` (the core's decisions — ``Start``, ``Lookup``, ``Store``,
``Abandon`` records of :mod:`dagforge.execution.decisions` — which the driver applies in
order right after ``dispatch``), ``heap`` (ready nodes, best key first), ``blocked``
(keys parked for lack of resources) with ``overtaken`` (parked node -> later nodes
started around it),
``held`` ((node, attempt) -> the requirement that attempt holds),
``takes[i]``/``gives[i]`` (node -> this run's compiled take/give on its pool, built by
planning, appended by growth; empty without a pool), ``req_kinds`` (how many distinct
requirements, 0: not known), ``early_attached`` (threads
workers give resources back themselves, so ``_complete`` does not),
``est`` (per node cost estimate, seconds, or None: no EASY backfilling), ``est_end``
(node -> the estimated end of its running attempt), ``easy``/``has_head`` (this
dispatch pass's reservation, see ``admission``), ``timers`` (a heap of
:class:`~dagforge.execution.timers.Timer`), ``in_flight``, ``exclusive_running``,
``stopping`` (nothing new starts), ``interrupted``.

Concurrency: exactly one thread at a time runs engine code — the thread that holds the
run's *engine lock* (``drivers.Drivers._run_shared``). On the ``threads`` backend that
is sometimes a worker thread: a worker that finished a job takes the engine lock and
applies its own completion (and dispatches) while holding it, so every field here may
be written by a worker, never by two threads at once. The one exception is
``early_release`` (admission), which a worker calls *before* taking the engine lock: it
pops that attempt's entry of ``held`` (an atomic ``dict.pop``; the engine never touches
an entry of a running attempt) and gives it back to the pool (which has its own lock).
Lock order: engine lock, then a backend's own lock, then the pool's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagforge.execution.backends.base import ExecutionBackend
    from dagforge.execution.callbacks import ExecutionCallbacks
    from dagforge.execution.planning import Plan
    from dagforge.execution.result import Attempt, ExecutionResult
    from dagforge.execution.timers import Timer


class RunState:
    """The fields of a run (see the module docstring); methods live in the mixins."""

    # -- given --------------------------------------------------------------------------
    dag: Any
    backend: ExecutionBackend
    callbacks: ExecutionCallbacks | None
    clock: Callable[[], float]
    select: Callable[[Any, str], Any]
    fail_fast: bool
    pool: Any
    tracing: bool
    profiling: bool
    run_inputs: dict[str, Any]
    serializer: Any
    selected: set[int] | None
    cache: Any
    capture: Any
    seed: int | None
    outputs_of: list[int] | None
    overtake_limit: int
    max_conc: int
    # -- compiled (planning) --------------------------------------------------------------
    plan: Plan | None
    n: int
    names: list[str]
    succ: list[list[int]]
    pred: list[list[int]]
    opts: list[Any]
    conditions: dict[tuple[int, int], Callable[[Any], bool]]
    rules: list[Any]
    fns: list[Any]
    kinds: bytearray
    task_calls: dict[int, tuple[Callable[..., Any], tuple[str, ...], list[str]]]
    bindings: dict[int, Any]
    reqs: list[Any] | None
    keys: Any
    int_keys: bool
    _arity_seen: dict[Any, Any]
    fast_inline: bool
    schedule: list[int] | None
    _learn_schedule: bool | None
    # -- per node -------------------------------------------------------------------------
    status: bytearray
    pending: list[int]
    values: list[Any]
    starts: list[float]
    ends: list[float]
    workers: list[int]
    attempt: list[int]
    errors: dict[int, tuple[BaseException, str]]
    reasons: dict[int, str]
    attempts: dict[int, list[Attempt]]
    metrics: dict[int, Any]
    dead: dict[int, int]
    retry_errors: dict[int, tuple[BaseException, str]]
    cache_keys: dict[int, str]
    # -- run-wide -------------------------------------------------------------------------
    state: str
    order: list[int]
    heap: list[Any]
    blocked: list[Any]
    overtaken: dict[int, int]
    held: dict[tuple[int, int], Any]
    takes: list[Any]
    gives: list[Any]
    early_attached: bool
    req_kinds: int
    outbox: list[Any]
    est: list[float | None] | None
    est_end: dict[int, float]
    easy: tuple[float, dict] | None
    has_head: bool
    timers: list[Timer]
    in_flight: int
    exclusive_running: bool
    stopping: bool
    interrupted: bool
    cached: int
    fatal: BaseException | None
    crash: BaseException | None
    t0: float
    wall_start: float

    if TYPE_CHECKING:  # methods one mixin calls on another (defined in the module named)

        def _set(self, i: int, new: int) -> None: ...  # core
        def _push(self, i: int) -> None: ...  # core
        def _idx(self, key: Any) -> int: ...  # core
        def _launch(self, i: int) -> None: ...  # core
        def _complete(self, ev: Any) -> None: ...  # core
        def _failed(
            self, i: int, attempt: int, err: BaseException, tb: str | None, state: int
        ) -> None: ...  # core
        def _skip(self, i: int, reason: str) -> None: ...  # core
        def _skip_descendants(self, i: int, reason: str) -> None: ...  # core
        def _stop(self, reason: str, state: int = ...) -> None: ...  # core
        def _timed_out(self, i: int, attempt: int, now: float) -> None: ...  # timers
        def _late(self, i: int, attempt: int, t_start: float, t_end: float) -> None: ...  # timers
        def begin(self) -> None: ...  # core
        def finished(self) -> bool: ...  # core
        def interrupt(self, reason: str) -> None: ...  # core
        def dispatch(self) -> None: ...  # admission
        def _release(self, i: int, attempt: int) -> None: ...  # admission
        def _launch_one_general(self) -> None: ...  # admission
        def _early_release(self) -> Callable[[int, int], None]: ...  # admission
        def _arm(self, kind: int, i: int, attempt: int, delay: float) -> None: ...  # timers
        def _fire_timers(self) -> None: ...  # timers
        def _wait_timeout(self) -> float | None: ...  # timers
        def _retry_pending(self) -> bool: ...  # timers
        def _drop_retries(self) -> None: ...  # timers
        def _apply_rules(self) -> None: ...  # growth
        def _arity(self, fn: Any) -> Any: ...  # planning
        def _compile_schedule(self) -> list[int]: ...  # planning
        def _record_attempt(
            self, i: int, attempt: int, ok: bool, err: Any, t_start: float, t_end: float, wid: int
        ) -> None: ...  # building
        def finish(self) -> ExecutionResult: ...  # building
        def _dispatch_inline(self) -> None: ...  # fastpath
        def _apply_decisions(self) -> None: ...  # drivers
        def _ran(self, ev: Any) -> None: ...  # core
        def _restored(self, i: int, attempt: int, value: Any) -> None: ...  # core
        def _not_cached(self, job: Any, key: str | None) -> None: ...  # core
        def _start(self, i: int) -> int: ...  # core
        def _succeed(
            self, i: int, value: Any, t_start: float, t_end: float, wid: int
        ) -> None: ...  # core
        def _release_children(self, i: int, value: Any) -> None: ...  # core
        def _run_compiled(self, schedule: list[int]) -> None: ...  # core
