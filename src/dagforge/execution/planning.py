"""Planning: a DAG plus run options compiled into flat arrays, once per DAG version.

What a run prepares from the DAG alone — resolved callables and call kinds, Task
bindings, heap keys per ranking mode, the leaves, and, for the inline backend, the order
in which nodes run when all succeed — is kept in a :class:`Plan` on the DAG
(``dag._plan``; every mutation of the DAG drops it) and reused by the next run with the
same callables. Runs never mutate what a plan holds.

Heap keys (one builder, :func:`heap_key`): ``(-priority, -upward_rank, index)``,
encoded as one int ``(top_rank - rank) * n + index`` when no priorities are set (for
speed), or the bare index when ranks are off too.
"""

from __future__ import annotations

import functools
import heapq
import types
from collections.abc import Callable, Mapping
from typing import Any

from dagforge.calling import arity, kind_for, refuse
from dagforge.errors import GraphError, MissingInputError, UnknownNodeError
from dagforge.execution.jobs import K_TASK
from dagforge.execution.state import RunState
from dagforge.graph import raise_problems
from dagforge.options import DEFAULT_OPTIONS
from dagforge.scheduling.priority import upward_ranks
from dagforge.tasks import Task

_PER_OBJECT = (types.FunctionType, functools.partial, types.BuiltinFunctionType)
_NOT_CALLABLE = object()


def _ops_for(pool: Any, req: Any) -> tuple[Any, Any]:
    """``(take, give)`` for ``req`` on ``pool``: the closures the pool compiles for it, or
    its generic ``_take_if_fits``/``_give_back`` when it names a resource the pool lacks
    (the take then always says no)."""
    ops = pool._vector(req)
    return (pool._take_if_fits, pool._give_back) if ops is None else ops


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


def _unit_ranks(succ: list[list[int]], order: list[int], n: int) -> list[int]:
    """Upward ranks with every cost 1 (integers): the longest path to a leaf, in nodes."""
    rank = [1] * n
    get = rank.__getitem__
    for u in reversed(order):
        s = succ[u]
        if s:
            rank[u] = 1 + max(map(get, s))
    return rank


def heap_key(priority: float, rank: float, i: int) -> tuple[float, float, int]:
    """The ready-heap key of node ``i``: higher priority first, then higher upward rank,
    then the earlier node (the smallest key is popped first)."""
    return (-priority, -rank, i)


def heap_keys(prios: list[Any] | None, ranks: list[Any] | None, n: int, packed: bool) -> Any:
    """Every node's key (the one key builder). ``packed`` (no priorities, integer or no
    ranks): :func:`heap_key` packed into one int, ``(top_rank - rank) * n + i``, which
    orders the same and compares faster; ``None`` when there are no ranks either (the key
    is the index itself). Decode a key with ``key % n`` (packed) or ``key[2]``."""
    if packed:
        if ranks is None:
            return None
        top = max(ranks) if ranks else 0
        return [(top - r) * n + i for i, r in enumerate(ranks)]
    return list(map(heap_key, prios or [0] * n, ranks or [0.0] * n, range(n)))


class Planning(RunState):
    """Compile the run: callables, requirements, heap keys, the inline schedule."""

    def _check_run_inputs(self) -> None:
        """Every run input some Task declares must be given: ``MissingInputError`` naming the
        nodes otherwise."""
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
        """Each node's callable (given ``tasks`` over attached ones) and call kind, every
        problem reported at once; cached on the DAG as its ``Plan``."""
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
        """Does ``dag`` have conditional edges?"""
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
        """Each node's resource requirement (``requirements=`` over the ``resources`` option),
        each distinct one checked once against the pool's total capacity."""
        plan = self.plan
        from_opts = plan.from_opts if plan is not None else None
        if from_opts is None:
            from_opts = any(o.resources for o in self.opts if o is not DEFAULT_OPTIONS)
            if plan is not None:
                plan.from_opts = from_opts
        self.reqs: list[Any] | None = None
        self.req_kinds = -1  # distinct requirements (admission); -1: not counted yet
        self.takes: list[Any] = []  # per node with a pool; empty without one
        self.gives: list[Any] = []
        if not requirements and not from_opts:
            if self.pool is not None and self.rules:
                self.reqs = [None] * self.n  # rules may add nodes that need the pool
                self.takes, self.gives = [None] * self.n, [None] * self.n
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
        # Requirements are hashable values: check each distinct one once and compile its
        # take/give against this pool once (ResourcePool._vector), so equal records share
        # one. Keyed by the record's hash, compared by its amounts (no Python-level
        # __eq__). Each node gets the pair in ``takes[i]``/``gives[i]``, this run's own:
        # the ``_vec`` cache on a record is only where the pool keeps its last compile,
        # and another run on another pool sharing the record may overwrite it at any time.
        pool = self.pool
        checked: dict[int, Any] = {}
        get = checked.get
        takes: list[Any] = [None] * self.n
        gives: list[Any] = [None] * self.n
        for i, req in enumerate(reqs):
            if req is None:
                continue
            seen = get(req._hash)
            if seen is not None and (seen[0] is req or seen[0]._resources == req._resources):
                ops = seen[1]
            else:
                c = req._vec
                if c is None or c[0] is not pool:
                    pool.check(req, node=self.names[i])  # rejected before anything runs
                ops = _ops_for(pool, req)
                checked[req._hash] = (req, ops)
            takes[i], gives[i] = ops
        self.reqs = reqs
        self.takes, self.gives = takes, gives
        self.req_kinds = -1  # distinct requirements: counted when admission needs it

    def _estimates(
        self, costs: Mapping[str, float] | None, rank_costs: Mapping[str, float] | None
    ) -> list[float | None] | None:
        """How long each node is expected to run, in the run's clock unit (seconds;
        ``Executor`` converts a guiding profile's milliseconds), for EASY backfilling;
        None when nothing is estimated or no pool limits the run.

        One precedence, per node, here and for the ranks (``_compute_keys``): ``costs``,
        then the guiding profile's ``rank_costs``, then the node's ``cost`` option;
        None: unknown."""
        if self.reqs is None or self.pool is None:
            return None
        opts = self.opts
        if not costs and not rank_costs and not any(o.cost is not None for o in opts):
            return None
        merged = {**(rank_costs or {}), **(costs or {})}
        est: list[float | None] = []
        for name, o in zip(self.names, opts, strict=True):
            c = merged.get(name, o.cost)
            est.append(None if c is None else float(c))
        return est

    def _build_keys(self, costs, rank_costs, use_ranks) -> None:
        """The heap keys of this run: from the plan when nothing per run changes them, else
        computed (and cached)."""
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
        """Upward ranks (unit, or from costs) and priorities -> ``heap_keys``."""
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
                merged = {**(rank_costs or {}), **(costs or {})}  # as _estimates
                ranks = upward_ranks(self.succ, self.dag.node_costs(merged), order)
        self.int_keys = not has_prio and (ranks is None or unit) and not self.rules
        if self.rules and ranks is None:
            ranks = [0.0] * n
        self.keys = heap_keys(prios, ranks, n, self.int_keys)

    def _compile_schedule(self) -> list[int]:
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
