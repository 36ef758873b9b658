"""``DAGBuilder``: fluent, staged construction of a :class:`~dagforge.graph.DAG`.

``DAG.builder()`` returns one; ``dagforge.graph`` re-exports :class:`DAGBuilder`.

Invariants:
- Names, options and routes are checked as they are added (an unknown or duplicate name
  raises at once, naming it); the structure (duplicate edges, cycles, wiring) is checked
  once, by ``build()``, through ``DAG.validate()``.
- Until the first ``build()`` nothing is added to the DAG: the nodes and edges are
  staged in flat lists and moved into an empty DAG in one pass (:func:`_load`), every
  adjacency list made at once; a duplicate edge is found before anything is stored, so
  a failed build leaves the DAG empty. A DAG that had nodes already gets the staging
  replayed through its own ``add_node``/``add_edge`` checks.
- After ``build()`` the builder edits the built DAG directly.
- ``DAG`` is named for type checkers only: the builder is handed its DAG, so there is no
  import back into ``graph.py``.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from operator import ne
from typing import TYPE_CHECKING, Any

from dagforge._graph_checks import _check_name, _node_options, _unknown
from dagforge.errors import CycleError, DuplicateNodeError, GraphError
from dagforge.options import DEFAULT_OPTIONS, NodeOptions

if TYPE_CHECKING:
    from dagforge.graph import DAG, Route

__all__ = ["DAGBuilder"]


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
                _load(
                    dag,
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


def _load(
    dag: DAG,
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
    dag._names, dag._index = names, index
    dag._succ, dag._pred = succ, pred
    dag._tasks, dag._opts = task_list, opt_list
    dag._routes.update(routes)
    dag._conditions.update(conditions)
    dag._n_edges = len(us)
    dag._topo = None
    dag._plan = None


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
