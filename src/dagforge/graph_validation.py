"""What :meth:`DAG.validate <dagforge.graph.DAG.validate>` checks, and how it reports.

The topological sort (Kahn's algorithm), the cycle finder, the binding of Task-Standard
inputs to parents' outputs along the edges' routes, the check that plain callables can
take their parents' values, and :func:`raise_problems`, which raises every problem
found at once. ``DAG.validate`` calls these; ``dagforge.graph`` re-exports
:func:`raise_problems` (the engine's planner raises through it too).

Invariants:
- Checks never stop at the first problem: each appends ``(node, exception)`` to the
  caller's list, so one ``validate()`` names every problem of a DAG.
- The order is deterministic: FIFO by insertion (the order nodes and edges were added).
- A cycle is reported starting at its earliest-added node, as the user wrote it
  (``a -> b -> c -> a``).
- Nothing here changes the DAG's structure; :func:`check_routing` only stores the
  bindings it computed (``dag._bindings``), which the engine reads.
- Only the graph layer's own modules are imported (``calling`` when signatures are
  checked); ``DAG`` is named for type checkers only, so there is no import back into
  ``graph.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dagforge.errors import (
    AmbiguousInputError,
    ConfigError,
    CycleError,
    EdgeRoutingError,
    GraphValidationError,
    MissingInputError,
)
from dagforge.tasks import Task

if TYPE_CHECKING:
    from dagforge.graph import DAG

__all__ = [
    "check_routing",
    "check_signatures",
    "edge_pairs",
    "find_cycle",
    "kahn",
    "raise_problems",
]


def raise_problems(problems: Sequence[tuple[str, Exception]]) -> None:
    """Raise every problem at once: the problem itself when there is one, else a
    :class:`GraphValidationError` listing each. Either way ``.errors`` holds
    ``(node, message)`` for every problem (``.problems`` the exceptions)."""
    if len(problems) == 1:
        node, exc = problems[0]
        exc.errors = [(node, str(exc))]  # type: ignore[attr-defined]
        exc.problems = [exc]  # type: ignore[attr-defined]
        raise exc
    err = GraphValidationError([(node, str(exc)) for node, exc in problems])
    err.problems = [exc for _, exc in problems]  # type: ignore[attr-defined]
    raise err


def check_signatures(dag: DAG, problems: list[tuple[str, Exception]]) -> None:
    """Plain callables must be able to take their parents' values (see ``calling``)."""
    from dagforge.calling import arity, kind_for, refuse

    seen: dict[int, Any] = {}
    names, pred = dag._names, dag._pred
    for v, fn in enumerate(dag._tasks):
        if fn is None or isinstance(fn, Task) or not callable(fn):
            continue
        key = id(fn)
        a = seen[key] if key in seen else seen.setdefault(key, arity(fn))
        kind = kind_for(a, len(pred[v]))
        if type(kind) is str:
            parents = [names[u] for u in pred[v]]
            problems.append((names[v], refuse(names[v], parents, fn, kind)))


def kahn(dag: DAG) -> list[int]:
    """Kahn's algorithm, FIFO by insertion: the order list is its own queue (a list
    iterated while it grows yields the appended items too)."""
    indeg = list(map(len, dag._pred))
    order = [i for i, d in enumerate(indeg) if not d]
    append = order.append
    succ = dag._succ
    for u in order:
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                append(v)
    if len(order) != len(indeg):
        raise CycleError(find_cycle(dag, indeg))
    return order


def find_cycle(dag: DAG, indeg: list[int]) -> list[str]:
    # Every node left with indegree > 0 has a predecessor also left; walking
    # predecessors must revisit a node, and the revisited stretch is a cycle.
    start = next(i for i, d in enumerate(indeg) if d > 0)
    seen: dict[int, int] = {}
    walk: list[int] = []
    u = start
    while u not in seen:
        seen[u] = len(walk)
        walk.append(u)
        u = next(p for p in dag._pred[u] if indeg[p] > 0)
    cycle = walk[seen[u] :]
    cycle.reverse()  # we walked backwards along edges
    # Start at the earliest-added node of the cycle, so the message is stable and
    # reads the way the user wrote it (a -> b -> c -> a, not b -> c -> a -> b).
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]
    names = [dag._names[i] for i in cycle]
    return [*names, names[0]]


def check_routing(dag: DAG, problems: list[tuple[str, Exception]]) -> None:
    """Bind Task inputs to parents' outputs; every problem found is appended."""
    bindings: dict[int, list[tuple[int, str, str]]] = {}
    tasks = dag._tasks
    for v, task in enumerate(tasks):
        if not isinstance(task, Task):
            continue
        name = dag._names[v]
        missing_cfg = [k for k in task.config_deps if k not in dag.config]
        if missing_cfg:
            problems.append(
                (
                    name,
                    ConfigError(
                        f"node {name!r} depends on config key(s) {missing_cfg} that the "
                        f"DAG's config does not set; known: {sorted(dag.config)}"
                    ),
                )
            )
        wanted = set(task.inputs)
        bad_edge = False
        providers: dict[str, list[tuple[int, str]]] = {}
        for u in dag._pred[v]:
            parent = tasks[u]
            if not isinstance(parent, Task):
                continue
            try:
                pairs = edge_pairs(dag, u, v, parent, task)
            except EdgeRoutingError as exc:
                problems.append((name, exc))
                bad_edge = True  # what it meant to route is not "missing" as well
                continue
            for out, inp in pairs:
                providers.setdefault(inp, []).append((u, out))
        binding = []
        for inp in task.inputs:
            found = providers.get(inp, [])
            if len(found) > 1:
                parents = [dag._names[u] for u, _ in found]
                problems.append((name, AmbiguousInputError(name, inp, parents)))
            if found:
                binding.append((found[0][0], found[0][1], inp))
        unprovided = [i for i in task.inputs if i not in providers]
        missing = [i for i in unprovided if i not in dag.run_inputs]
        if missing and not bad_edge:
            problems.append((name, MissingInputError(name, missing)))
        extra = set(providers) - wanted
        if extra:  # only possible with explicit routes naming non-inputs
            problems.append(
                (
                    name,
                    EdgeRoutingError(
                        f"edges into {name!r} route {sorted(extra)}, which it does not "
                        f"declare as inputs {list(task.inputs)}"
                    ),
                )
            )
        bindings[v] = binding
    dag._bindings = bindings


def edge_pairs(dag: DAG, u: int, v: int, parent: Task, child: Task) -> list[tuple[str, str]]:
    src, dst = dag._names[u], dag._names[v]
    route = dag._routes.get((u, v))
    outs, ins = parent.outputs, child.inputs
    if route is None:
        pairs = [(o, o) for o in outs if o in ins]
        if not pairs:
            raise EdgeRoutingError(
                f"edge {src!r} -> {dst!r} routes nothing: {src!r} outputs {list(outs)} "
                f"and {dst!r} takes {list(ins)}; rename with ({src!r}, {dst!r}, "
                f"{{'output': 'input'}})"
            )
        return pairs
    pairs = list(route.items()) if isinstance(route, dict) else [(f, f) for f in route]
    if not pairs:
        raise EdgeRoutingError(f"edge {src!r} -> {dst!r} has an empty route")
    for out, inp in pairs:
        if out not in outs:
            raise EdgeRoutingError(
                f"edge {src!r} -> {dst!r} routes {out!r}, which {src!r} does not output "
                f"(outputs: {list(outs)})"
            )
        if inp not in ins:
            raise EdgeRoutingError(
                f"edge {src!r} -> {dst!r} routes into {inp!r}, which {dst!r} does not take "
                f"(inputs: {list(ins)})"
            )
    return pairs
