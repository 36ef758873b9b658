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

This module holds the :class:`DAG` class itself (construction, queries, exports and the
run conveniences) and :func:`dag`. What validation checks is in ``graph_validation.py``
(with :func:`raise_problems`), the Mermaid/DOT/networkx exports in ``graph_export.py``,
the staged builder in ``graph_builder.py``
(:class:`DAGBuilder`), and the checks of a node's name and options in
``_graph_checks.py``; ``DAGBuilder`` and ``raise_problems`` are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import is_not
from typing import Any

from dagforge import _seams, graph_export
from dagforge._graph_checks import _check_name, _node_options, _unknown
from dagforge.config import Config
from dagforge.errors import (
    AmbiguousInputError,
    CycleError,
    DuplicateNodeError,
    EdgeRoutingError,
    GraphError,
    UnknownNodeError,
)

# Raised by graph_validation.py now; importable from here as before the split.
from dagforge.errors import ConfigError as ConfigError
from dagforge.errors import GraphValidationError as GraphValidationError
from dagforge.errors import MissingInputError as MissingInputError
from dagforge.graph_builder import DAGBuilder
from dagforge.graph_validation import check_routing, check_signatures, kahn, raise_problems
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
            order = kahn(self)
        except CycleError as exc:  # reported with every other problem
            problems.append((exc.cycle[0], exc))
        if any(map(is_not, self._tasks, repeat(None))):  # else nothing to check or bind
            check_routing(self, problems)
            check_signatures(self, problems)
        else:
            self._bindings = {}
        if problems:
            raise_problems(problems)
        self._topo = order
        return self

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
        return graph_export.to_mermaid(self, direction=direction, statuses=statuses)

    def to_dot(self, *, edge_labels: Mapping[tuple[str, str], str] | None = None) -> str:
        """Graphviz DOT text (no dependency needed)."""
        return graph_export.to_dot(self, edge_labels=edge_labels)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` (needs the ``interop`` extra)."""
        return graph_export.to_networkx(self)

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
