"""``DAG``: named nodes, edges with output-to-input routing, and graph queries.

Invariants:
- Nodes are small integers internally (insertion order); names live at the edge of the
  API. Adjacency is a list of int lists per node, predecessors kept in edge insertion
  order (that order is the positional order of a plain callable's arguments).
- Structure is append-only: nodes and edges are added, never removed, so indices stay
  valid for the whole life of a DAG (dynamic rules rely on this).
- ``validate()`` (run implicitly before execution, by ``build()`` and by the
  ``DAG(tasks=, edges=)`` constructor) checks cycles and Task-Standard routing and caches
  the topological order; any mutation drops the cache.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import is_not, ne
from typing import Any

from dagforge import _seams
from dagforge.config import Config
from dagforge.errors import (
    AmbiguousInputError,
    ConfigError,
    CycleError,
    DuplicateNodeError,
    EdgeRoutingError,
    GraphError,
    GraphValidationError,
    MissingInputError,
    UnknownNodeError,
)
from dagforge.options import DEFAULT_OPTIONS, NodeOptions
from dagforge.tasks import Task

# An edge's routing: None (auto: every output of the source the target declares as an
# input), a dict {output: input} (rename), or a tuple of field names (restrict).
Route = None | dict[str, str] | tuple[str, ...]


class DAG:
    """A directed acyclic graph of named nodes.

    ``DAG(tasks={name: Task}, edges=[(a, b), ...], config=Config(...))`` wires Task
    Standard nodes; ``DAG.builder()`` or ``DAG()`` + ``add_node``/``add_edge`` build a
    structure to run with a dict of plain callables.
    """

    def __init__(
        self,
        tasks: Mapping[str, Any] | None = None,
        edges: Iterable[Sequence[Any]] | None = None,
        config: Config | Mapping[str, Any] | None = None,
        *,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        inputs: Iterable[str] = (),
        serializer: Any = None,
        name: str | None = None,
    ):
        self.name = name
        self.config = config if isinstance(config, Config) else Config(config or {})
        self.serializer = serializer
        self.run_inputs: frozenset[str] = frozenset(inputs)
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._succ: list[list[int]] = []
        self._pred: list[list[int]] = []
        self._tasks: list[Any] = []
        self._opts: list[NodeOptions] = []
        self._routes: dict[tuple[int, int], Route] = {}
        self._conditions: dict[tuple[int, int], Callable[[Any], bool]] = {}
        self._n_edges = 0
        self._topo: list[int] | None = None
        # What the engine compiled from this exact structure (see engine.Plan); any
        # mutation drops it.
        self._plan: Any = None
        # For Task nodes: idx -> [(parent, output, input), ...], filled by validate().
        self._bindings: dict[int, list[tuple[int, str, str]]] = {}
        self._rules: list[Any] = []
        options = dict(options or {})
        for node_name, node_task in (tasks or {}).items():
            self.add_node(node_name, node_task, **dict(options.pop(node_name, {})))
        if options:
            unknown = sorted(options)
            raise UnknownNodeError(f"options given for unknown node(s) {unknown}")
        for edge in edges or ():
            self._add_edge_spec(edge)
        if tasks is not None or edges is not None:
            self.validate()

    # -- construction ---------------------------------------------------------------

    @staticmethod
    def builder(**dag_kwargs: Any) -> DAGBuilder:
        """A fluent builder: ``DAG.builder().add_node("x").add_edge("x", "y").build()``."""
        return DAGBuilder(DAG(**dag_kwargs))

    def add_node(self, name: str, task: Any = None, /, **options: Any) -> DAG:
        """Add a node, optionally with its task (a ``Task`` or a callable) and options."""
        if type(name) is not str or not name:
            _check_name(name)
        if name in self._index:
            raise DuplicateNodeError(f"node {name!r} already exists in the DAG")
        opts = DEFAULT_OPTIONS
        if task is not None or options:
            opts = _node_options(name, task, options)
        return self._append_node(name, task, opts)

    def _append_node(self, name: str, task: Any, opts: NodeOptions) -> DAG:
        if name in self._index:
            raise DuplicateNodeError(f"node {name!r} already exists in the DAG")
        self._index[name] = len(self._names)
        self._names.append(name)
        self._succ.append([])
        self._pred.append([])
        self._tasks.append(task)
        self._opts.append(opts)
        self._topo = None
        self._plan = None
        return self

    def add_edge(
        self,
        source: str,
        target: str,
        route: Route | list[str] = None,
        *,
        when: Callable[[Any], bool] | None = None,
    ) -> DAG:
        """Add ``source -> target``; ``route`` renames ({out: in}) or restricts ([fields]).

        ``when`` makes the edge conditional: it receives the source's value and, when
        it returns false, the target (and what only it leads to) is skipped.
        """
        u = self._lookup(source, "edge source")
        v = self._lookup(target, "edge target")
        if u == v:
            raise CycleError([source, source])
        # Check the shorter adjacency list: a hub with 10,000 children stays O(1) per edge.
        pv, su = self._pred[v], self._succ[u]
        if (u in pv) if len(pv) <= len(su) else (v in su):
            raise GraphError(f"edge {source!r} -> {target!r} already exists")
        self._append_edge(u, v)
        if route is not None:
            self._routes[(u, v)] = dict(route) if isinstance(route, Mapping) else tuple(route)
        if when is not None:
            self._conditions[(u, v)] = when
        self._topo = None
        self._plan = None
        return self

    def _append_edge(self, u: int, v: int) -> None:
        """Add an edge between node indices already checked by the caller."""
        self._succ[u].append(v)
        self._pred[v].append(u)
        self._n_edges += 1
        self._topo = None
        self._plan = None

    def _load(
        self,
        names: list[str],
        index: dict[str, int],
        tasks: Mapping[int, Any],
        opts: Mapping[int, NodeOptions],
        edges: tuple[list[int], list[int]],
        routes: Mapping[tuple[int, int], Route],
        conditions: Mapping[tuple[int, int], Callable[[Any], bool]],
    ) -> None:
        """Fill this EMPTY DAG from a :class:`DAGBuilder`'s staging in one pass.

        The builder checked every name, option and edge end; duplicate edges are found
        here, before anything is stored, so a failure leaves the DAG empty. ``names`` and
        ``index`` are taken over, not copied; ``tasks``/``opts`` hold only the nodes
        with a task / non-default options; ``edges`` is (sources, targets) in insertion
        order, which is the order the adjacency lists get, as with ``add_edge``.
        """
        n = len(names)
        us, vs = edges
        # Only plain lists of ints are made here, and they cannot form reference
        # cycles; pausing the cyclic collector keeps it from walking the whole, growing
        # heap again and again while they are made (a third of a 1M-node build).
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            succ: list[list[int]] = [[] for _ in range(n)]
            pred: list[list[int]] = [[] for _ in range(n)]
            # succ[u].append(v) and pred[v].append(u) for every edge, in order, with
            # the loops in C (map) and nothing kept (a zero-length deque drains them)
            deque(map(list.append, map(succ.__getitem__, us), vs), maxlen=0)
            deque(map(list.append, map(pred.__getitem__, vs), us), maxlen=0)
        finally:
            if paused:
                gc.enable()
        dup = _duplicate_edge(pred)
        if dup is not None:
            raise GraphError(f"edge {names[dup[0]]!r} -> {names[dup[1]]!r} already exists")
        task_list: list[Any] = [None] * n
        for i, task in tasks.items():
            task_list[i] = task
        opt_list: list[NodeOptions] = [DEFAULT_OPTIONS] * n
        for i, opt in opts.items():
            opt_list[i] = opt
        self._names, self._index = names, index
        self._succ, self._pred = succ, pred
        self._tasks, self._opts = task_list, opt_list
        self._routes.update(routes)
        self._conditions.update(conditions)
        self._n_edges = len(us)
        self._topo = None
        self._plan = None

    def _add_edge_spec(self, edge: Sequence[Any]) -> None:
        if not isinstance(edge, (tuple, list)) or len(edge) not in (2, 3):
            raise EdgeRoutingError(
                f"an edge is (source, target) or (source, target, route), got {edge!r}"
            )
        self.add_edge(*edge)

    def add_rule(self, rule: Any) -> DAG:
        """Attach a dynamic :class:`~dagforge.dynamic.Rule` evaluated while the DAG runs."""
        if not isinstance(rule, _seams.rule_class()):
            raise GraphError(f"add_rule() takes a dagforge.Rule, got {rule!r}")
        self._rules.append(rule)
        self._plan = None
        return self

    @property
    def rules(self) -> list[Any]:
        return list(self._rules)

    def map(
        self,
        source: str,
        fn: Callable[[Any], Any],
        *,
        name: str | None = None,
        reduce: Callable[..., Any] | None = None,
        reduce_name: str | None = None,
        **options: Any,
    ) -> DAG:
        """Fan out at run time: one node per item of the list ``source`` returns.

        Nodes are named ``name[k]`` and tagged ``name``; with ``reduce``, a node
        ``reduce_name`` (default ``name.reduce``) receives all mapped values in order.
        """
        self._lookup(source, "map source")
        return self.add_rule(
            _seams.map_rule(
                source, fn, name=name, reduce=reduce, reduce_name=reduce_name, **options
            )
        )

    def __getstate__(self) -> dict[str, Any]:
        # A compiled plan is a cache of this process's callables: never shipped.
        state = self.__dict__.copy()
        state["_plan"] = None
        return state

    def copy(self) -> DAG:
        """An independent copy sharing tasks and options (records are immutable)."""
        new = DAG.__new__(DAG)
        new.__dict__.update(self.__dict__)
        new._names = list(self._names)
        new._index = dict(self._index)
        new._succ = [list(x) for x in self._succ]
        new._pred = [list(x) for x in self._pred]
        new._tasks = list(self._tasks)
        new._opts = list(self._opts)
        new._routes = dict(self._routes)
        new._conditions = dict(self._conditions)
        new._bindings = dict(self._bindings)
        new._rules = list(self._rules)
        new._topo = list(self._topo) if self._topo is not None else None
        new._plan = None
        return new

    def skeleton(self) -> DAG:
        """A copy of the structure alone: nodes, edges, routes, options and config, with
        no tasks, rules or edge conditions.

        What describes a finished run (its profile, trace, page) without keeping its
        callables — and all they reference — alive: the platform holds the results of
        its last runs this way (issue 10: fewer objects for each garbage collection)."""
        new = self.copy()
        new._tasks = [None] * len(self._names)
        new._conditions = {}
        new._bindings = {}
        new._rules = []
        return new

    def set_options(self, name: str, **options: Any) -> None:
        """Change a node's options (``priority``, ``exclusive``, ``resources``, ...)."""
        idx = self._lookup(name, "node")
        self._opts[idx] = self._opts[idx].merged(options, node=name)
        self._plan = None

    def set_task(self, name: str, task: Any) -> None:
        """Attach or replace the task of an existing node."""
        self._tasks[self._lookup(name, "node")] = task
        self._topo = None
        self._plan = None

    def _lookup(self, name: str, what: str) -> int:
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise _unknown(name, what, self._names) from None

    # -- validation -----------------------------------------------------------------

    def validate(self) -> DAG:
        """Check for cycles and Task-Standard routing errors; cache the topological order."""
        if self._topo is not None:
            return self
        problems: list[tuple[str, Exception]] = []
        try:
            order = self._kahn()
        except CycleError as exc:  # reported with every other problem
            problems.append((exc.cycle[0], exc))
        if any(map(is_not, self._tasks, repeat(None))):  # else nothing to check or bind
            self._check_routing(problems)
            self._check_signatures(problems)
        else:
            self._bindings = {}
        if problems:
            raise_problems(problems)
        self._topo = order
        return self

    def _check_signatures(self, problems: list[tuple[str, Exception]]) -> None:
        """Plain callables must be able to take their parents' values (see ``calling``)."""
        from dagforge.calling import arity, kind_for, refuse

        seen: dict[int, Any] = {}
        names, pred = self._names, self._pred
        for v, fn in enumerate(self._tasks):
            if fn is None or isinstance(fn, Task) or not callable(fn):
                continue
            key = id(fn)
            a = seen[key] if key in seen else seen.setdefault(key, arity(fn))
            kind = kind_for(a, len(pred[v]))
            if type(kind) is str:
                parents = [names[u] for u in pred[v]]
                problems.append((names[v], refuse(names[v], parents, fn, kind)))

    def _kahn(self) -> list[int]:
        """Kahn's algorithm, FIFO by insertion: the order list is its own queue (a list
        iterated while it grows yields the appended items too)."""
        indeg = list(map(len, self._pred))
        order = [i for i, d in enumerate(indeg) if not d]
        append = order.append
        succ = self._succ
        for u in order:
            for v in succ[u]:
                indeg[v] -= 1
                if not indeg[v]:
                    append(v)
        if len(order) != len(indeg):
            raise CycleError(self._find_cycle(indeg))
        return order

    def _find_cycle(self, indeg: list[int]) -> list[str]:
        # Every node left with indegree > 0 has a predecessor also left; walking
        # predecessors must revisit a node, and the revisited stretch is a cycle.
        start = next(i for i, d in enumerate(indeg) if d > 0)
        seen: dict[int, int] = {}
        walk: list[int] = []
        u = start
        while u not in seen:
            seen[u] = len(walk)
            walk.append(u)
            u = next(p for p in self._pred[u] if indeg[p] > 0)
        cycle = walk[seen[u] :]
        cycle.reverse()  # we walked backwards along edges
        # Start at the earliest-added node of the cycle, so the message is stable and
        # reads the way the user wrote it (a -> b -> c -> a, not b -> c -> a -> b).
        first = cycle.index(min(cycle))
        cycle = cycle[first:] + cycle[:first]
        names = [self._names[i] for i in cycle]
        return [*names, names[0]]

    def _check_routing(self, problems: list[tuple[str, Exception]]) -> None:
        """Bind Task inputs to parents' outputs; every problem found is appended."""
        bindings: dict[int, list[tuple[int, str, str]]] = {}
        tasks = self._tasks
        for v, task in enumerate(tasks):
            if not isinstance(task, Task):
                continue
            name = self._names[v]
            missing_cfg = [k for k in task.config_deps if k not in self.config]
            if missing_cfg:
                problems.append(
                    (
                        name,
                        ConfigError(
                            f"node {name!r} depends on config key(s) {missing_cfg} that the "
                            f"DAG's config does not set; known: {sorted(self.config)}"
                        ),
                    )
                )
            wanted = set(task.inputs)
            bad_edge = False
            providers: dict[str, list[tuple[int, str]]] = {}
            for u in self._pred[v]:
                parent = tasks[u]
                if not isinstance(parent, Task):
                    continue
                try:
                    pairs = self._edge_pairs(u, v, parent, task)
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
                    parents = [self._names[u] for u, _ in found]
                    problems.append((name, AmbiguousInputError(name, inp, parents)))
                if found:
                    binding.append((found[0][0], found[0][1], inp))
            unprovided = [i for i in task.inputs if i not in providers]
            missing = [i for i in unprovided if i not in self.run_inputs]
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
        self._bindings = bindings

    def _edge_pairs(self, u: int, v: int, parent: Task, child: Task) -> list[tuple[str, str]]:
        src, dst = self._names[u], self._names[v]
        route = self._routes.get((u, v))
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

    # -- queries --------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """Node names in insertion order."""
        return list(self._names)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Edges as (source, target) name pairs, grouped by source in insertion order."""
        names = self._names
        return [(names[u], names[v]) for u, vs in enumerate(self._succ) for v in vs]

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<DAG{label} nodes={len(self._names)} edges={self._n_edges}>"

    @property
    def edge_count(self) -> int:
        return self._n_edges

    def task(self, name: str) -> Any:
        """The task attached to ``name`` (a ``Task``, a callable, or None)."""
        return self._tasks[self._lookup(name, "node")]

    def options(self, name: str) -> NodeOptions:
        return self._opts[self._lookup(name, "node")]

    def predecessors(self, name: str) -> list[str]:
        return [self._names[u] for u in self._pred[self._lookup(name, "node")]]

    def successors(self, name: str) -> list[str]:
        return [self._names[v] for v in self._succ[self._lookup(name, "node")]]

    def ancestors(self, name: str) -> set[str]:
        return {self._names[i] for i in self._reach(self._lookup(name, "node"), self._pred)}

    def descendants(self, name: str) -> set[str]:
        return {self._names[i] for i in self._reach(self._lookup(name, "node"), self._succ)}

    @staticmethod
    def _reach(start: int, adj: list[list[int]]) -> set[int]:
        seen: set[int] = set()
        stack = list(adj[start])
        while stack:
            u = stack.pop()
            if u not in seen:
                seen.add(u)
                stack.extend(adj[u])
        return seen

    def roots(self) -> list[str]:
        return [n for n, p in zip(self._names, self._pred, strict=True) if not p]

    def leaves(self) -> list[str]:
        return [n for n, s in zip(self._names, self._succ, strict=True) if not s]

    def topological_order(self) -> list[str]:
        """A deterministic topological order (Kahn's algorithm, FIFO by insertion)."""
        self.validate()
        names = self._names
        return [names[i] for i in self._topo]  # type: ignore[union-attr]

    def subgraph(self, nodes: Iterable[str]) -> DAG:
        """A new DAG of ``nodes`` and the edges among them (tasks and options kept)."""
        keep = [self._lookup(n, "node") for n in nodes]
        keep_set = set(keep)
        sub = DAG(config=self.config, serializer=self.serializer, name=self.name)
        sub.run_inputs = self.run_inputs
        for i in sorted(keep_set):
            sub.add_node(self._names[i], self._tasks[i])
            sub._opts[-1] = self._opts[i]
        for u in sorted(keep_set):
            for v in self._succ[u]:
                if v in keep_set:
                    sub.add_edge(self._names[u], self._names[v], self._routes.get((u, v)))
                    if (u, v) in self._conditions:
                        sub._conditions[
                            (sub._index[self._names[u]], sub._index[self._names[v]])
                        ] = self._conditions[(u, v)]
        return sub

    def critical_path(self, costs: Mapping[str, float] | None = None) -> tuple[list[str], float]:
        """The longest path by node cost: ``(nodes, total)``.

        Costs come from ``costs``, else each node's ``cost`` option, else its task's
        ``estimate_instructions(cfg)``, else 1.
        """
        self.validate()
        weight = self.node_costs(costs)
        best = [0.0] * len(self._names)
        nxt = [-1] * len(self._names)
        for u in reversed(self._topo):  # type: ignore[arg-type]
            tail, pick = 0.0, -1
            for v in self._succ[u]:
                if best[v] > tail or pick < 0:
                    tail, pick = best[v], v
            best[u] = weight[u] + tail
            nxt[u] = pick
        if not best:
            return [], 0.0
        start = max(range(len(best)), key=lambda i: (best[i], -i))
        path = []
        u = start
        while u >= 0:
            path.append(self._names[u])
            u = nxt[u]
        return path, best[start]

    def node_costs(
        self, costs: Mapping[str, float] | None = None, default: float = 1.0
    ) -> list[float]:
        """Per-node cost (index order) from ``costs``, options or ``estimate_instructions``."""
        out = []
        cfg = self.config
        for i, name in enumerate(self._names):
            if costs is not None and name in costs:
                out.append(float(costs[name]))
                continue
            opt = self._opts[i].cost
            if opt is not None:
                out.append(float(opt))
                continue
            task = self._tasks[i]
            est = task.estimate_instructions(cfg) if isinstance(task, Task) else 0
            out.append(float(est) if est else default)
        return out

    # -- export -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the structure and options."""
        return {
            "name": self.name,
            "nodes": self.nodes,
            "edges": [{"source": s, "target": t} for s, t in self.edges],
            "configuration": self.config.to_dict(),
        }

    def to_mermaid(
        self, *, direction: str = "TD", statuses: Mapping[str, str] | None = None
    ) -> str:
        """Mermaid flowchart text (no dependency needed)."""
        ids = {n: f"n{i}" for i, n in enumerate(self._names)}
        lines = [f"flowchart {direction}"]
        for n in self._names:
            lines.append(f'    {ids[n]}["{_escape(n)}"]')
        for s, t in self.edges:
            lines.append(f"    {ids[s]} --> {ids[t]}")
        if statuses:
            palette = {
                "succeeded": "#b7e4c7",
                "failed": "#f4a3a3",
                "skipped": "#e0e0e0",
                "cancelled": "#ffd6a5",
                "timed_out": "#f4a3a3",
            }
            for n, st in statuses.items():
                if n in ids and st in palette:
                    lines.append(f"    style {ids[n]} fill:{palette[st]}")
        return "\n".join(lines) + "\n"

    def to_dot(self, *, edge_labels: Mapping[tuple[str, str], str] | None = None) -> str:
        """Graphviz DOT text (no dependency needed)."""
        lines = [f"digraph {_dot_id(self.name or 'dag')} {{", "    rankdir=TB;"]
        for n in self._names:
            lines.append(f"    {_dot_id(n)};")
        for s, t in self.edges:
            label = (edge_labels or {}).get((s, t))
            attr = f' [label="{_escape(label)}"]' if label else ""
            lines.append(f"    {_dot_id(s)} -> {_dot_id(t)}{attr};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` (needs the ``interop`` extra)."""
        import networkx as nx

        g = nx.DiGraph(name=self.name or "dag")
        g.add_nodes_from(self._names)
        g.add_edges_from(self.edges)
        return g

    # -- running (thin wrappers over the engine, through the one seam: _seams.py) -------

    def run(self, seed: int | None = None, **executor_kwargs: Any) -> Any:
        """Run once with profiling on and return a :class:`~dagforge.profiling.Profile`.

        ``seed`` seeds ``random`` (and numpy's global generator when importable) first,
        so two runs with the same seed route identical data.
        """
        return _seams.run_profile(self, seed=seed, runs=1, **executor_kwargs)

    def profile(self, runs: int = 5, seed: int | None = None, **executor_kwargs: Any) -> Any:
        """Run ``runs`` times and return a profile with median/min/max timings per node."""
        return _seams.run_profile(self, seed=seed, runs=runs, **executor_kwargs)

    def prepare(self, tasks: Mapping[str, Any] | None = None, /) -> DAG:
        """Compile now what every run prepares from the DAG alone, so runs reuse it.

        Validation, callable resolution and call kinds, Task bindings, ranks and heap
        keys, and the inline run order are computed once per DAG version (any mutation
        drops them) for ``tasks`` (the callables ``execute`` will be given, if any). The
        first ``execute`` does this itself; ``prepare`` only moves the cost earlier.
        """
        _seams.prepare(self, tasks)
        return self

    def execute(self, tasks: Mapping[str, Any] | None = None, /, **run_inputs: Any) -> Any:
        """Run the DAG inline and return an ``ExecutionResult``.

        ``run_inputs`` provide the Task inputs no edge provides (declared with
        ``DAG(..., inputs=[...])``).
        """
        return _seams.execute(self, tasks, run_inputs)


class DAGBuilder:
    """Fluent, staged construction; ``build()`` validates and returns the DAG.

    Names, options and routes are checked as they are added (an unknown or duplicate
    name raises at once, naming it); the structure -- duplicate edges, cycles, wiring --
    is checked once, by ``build()``. Until the first ``build()`` the nodes and edges are
    staged in flat lists and moved into the DAG in one pass, which is what keeps a
    1,000,000-node build cheap (no per-call bookkeeping on the DAG, every adjacency list
    made in one go). After ``build()`` the builder edits the built DAG directly.
    """

    __slots__ = (
        "_dag",
        "_index",
        "_base",
        "_names",
        "_tasks",
        "_opts",
        "_us",
        "_vs",
        "_routes",
        "_conditions",
    )

    def __init__(self, dag: DAG):
        self._dag = dag
        # The staging, until build(): every name -> index (the DAG's own first), the
        # new names, tasks and non-default options of the new nodes that have them, and
        # the new edges as parallel source/target lists, in insertion order.
        self._index: dict[str, int] | None = dict(dag._index)
        self._base = len(dag._names)
        self._names: list[str] = []
        self._tasks: dict[int, Any] = {}
        self._opts: dict[int, NodeOptions] = {}
        self._us: list[int] = []
        self._vs: list[int] = []
        self._routes: dict[tuple[int, int], Route] = {}
        self._conditions: dict[tuple[int, int], Callable[[Any], bool]] = {}

    def add_node(self, name: str, task: Any = None, /, **options: Any) -> DAGBuilder:
        """Add a node (see :meth:`DAG.add_node`); a duplicate name raises at once."""
        index = self._index
        if index is None:
            self._dag.add_node(name, task, **options)
            return self
        if type(name) is not str or not name:
            _check_name(name)
        if name in index:
            raise DuplicateNodeError(f"node {name!r} already exists in the DAG")
        idx = len(index)  # the DAG's own names and the staged ones
        if task is not None or options:
            opts = _node_options(name, task, options)
            if task is not None:
                self._tasks[idx] = task
            if opts is not DEFAULT_OPTIONS:
                self._opts[idx] = opts
        index[name] = idx
        self._names.append(name)
        return self

    def add_nodes(self, names: Iterable[str]) -> DAGBuilder:
        """Add several task-less nodes (``add_node`` for each)."""
        add = self.add_node
        for name in names:
            add(name)
        return self

    def add_edge(
        self,
        source: str,
        target: str,
        route: Route | list[str] = None,
        *,
        when: Callable[[Any], bool] | None = None,
    ) -> DAGBuilder:
        """Add ``source -> target`` (see :meth:`DAG.add_edge`); an unknown end raises at
        once, a duplicate edge at ``build()``."""
        index = self._index
        if index is None:
            self._dag.add_edge(source, target, route, when=when)
            return self
        try:
            u = index[source]
            v = index[target]
        except (KeyError, TypeError):
            end, what = (target, "target") if _has(index, source) else (source, "source")
            raise _unknown(end, f"edge {what}", index) from None
        if u == v:
            raise CycleError([source, source])
        if route is not None or when is not None:
            if route is not None:
                self._routes[(u, v)] = dict(route) if isinstance(route, Mapping) else tuple(route)
            if when is not None:
                self._conditions[(u, v)] = when
        self._us.append(u)
        self._vs.append(v)
        return self

    def build(self) -> DAG:
        """Move what is staged into the DAG, validate it and return it."""
        index = self._index
        if index is not None and (self._names or self._us):
            dag = self._dag
            if self._base == 0 and not dag._names:
                dag._load(
                    self._names,
                    index,
                    self._tasks,
                    self._opts,
                    (self._us, self._vs),
                    self._routes,
                    self._conditions,
                )
            else:  # the DAG had nodes already (or changed behind the builder)
                self._replay(dag)
        self._index = None
        self._names, self._us, self._vs = [], [], []
        self._tasks, self._opts, self._routes, self._conditions = {}, {}, {}, {}
        return self._dag.validate()

    def _replay(self, dag: DAG) -> None:
        """Add the staged nodes and edges to ``dag`` one by one, with every check."""
        every = dag._names[: self._base] + self._names
        for i, name in enumerate(self._names, start=self._base):
            dag._append_node(name, self._tasks.get(i), self._opts.get(i, DEFAULT_OPTIONS))
        for u, v in zip(self._us, self._vs, strict=True):
            dag.add_edge(
                every[u], every[v], self._routes.get((u, v)), when=self._conditions.get((u, v))
            )


def dag(
    tasks: Iterable[Task],
    config: Config | Mapping[str, Any] | None = None,
    *,
    inputs: Iterable[str] = (),
    **dag_kwargs: Any,
) -> DAG:
    """Build a DAG from tasks, inferring edges by matching output names to input names."""
    task_list = list(tasks)
    named: dict[str, Task] = {}
    for t in task_list:
        if not isinstance(t, Task):
            raise GraphError(f"dag() takes Task objects (use @task), got {t!r}")
        if t.name in named:
            raise DuplicateNodeError(f"two tasks are named {t.name!r}; give them distinct names")
        named[t.name] = t
    producers: dict[str, list[str]] = {}
    for name, t in named.items():
        for out in t.outputs:
            producers.setdefault(out, []).append(name)
    edges: list[tuple[str, str, list[str]]] = []
    for name, t in named.items():
        by_parent: dict[str, list[str]] = {}
        for inp in t.inputs:
            found = [p for p in producers.get(inp, []) if p != name]
            if len(found) > 1:
                raise AmbiguousInputError(name, inp, found)
            if found:
                by_parent.setdefault(found[0], []).append(inp)
        edges.extend((p, name, fields) for p, fields in by_parent.items())
    return DAG(tasks=named, edges=edges, config=config, inputs=inputs, **dag_kwargs)


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


def _escape(text: str) -> str:
    return str(text).replace('"', "'")


def _dot_id(name: str) -> str:
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise GraphError(f"node names must be non-empty strings, got {name!r}")


def _node_options(name: str, task: Any, options: Mapping[str, Any]) -> NodeOptions:
    """A node's options: its Task's declared ones, overridden by ``options``."""
    declared = task.declared_options() if isinstance(task, Task) else {}
    if declared or options:
        return NodeOptions.from_mapping({**declared, **options}, node=name)
    return DEFAULT_OPTIONS


def _unknown(name: Any, what: str, names: Collection[str]) -> UnknownNodeError:
    hint = _closest(name, names)
    return UnknownNodeError(
        f"{what} {name!r} is not a node of this DAG" + (f"; did you mean {hint!r}?" if hint else "")
    )


def _has(index: Mapping[str, int], name: Any) -> bool:
    try:
        return name in index
    except TypeError:  # unhashable: not a name
        return False


def _duplicate_edge(pred: list[list[int]]) -> tuple[int, int] | None:
    """The first (source, target) that occurs twice in ``pred``, or None."""
    if not any(map(ne, map(len, map(set, pred)), map(len, pred))):  # all in C
        return None
    for v, ps in enumerate(pred):
        seen: set[int] = set()
        for u in ps:
            if u in seen:
                return u, v
            seen.add(u)
    return None


def _closest(name: Any, names: Collection[str]) -> str | None:
    if not isinstance(name, str) or len(names) > 10_000:
        return None
    import difflib

    found = difflib.get_close_matches(name, names, n=1)
    return found[0] if found else None
