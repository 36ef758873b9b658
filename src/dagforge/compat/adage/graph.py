"""adage's ``AdageDAG`` (``adage.graph``): the workflow graph rules query and extend.

Outside a run it is a plain graph. While :func:`~dagforge.compat.adage.rundag` runs it,
rule bodies append through dagforge's append-only builder: ``addTask`` adds a node to
the running DAG, ``addEdge`` may only point from an existing node to a node this body
added (adage's own rule for rules; anything else raises ``DynamicGraphError``), and
``removeNode`` is refused.
"""

from __future__ import annotations

from typing import Any

from dagforge.compat.adage.node import Node
from dagforge.errors import DuplicateNodeError, DynamicGraphError, UnknownNodeError

__all__ = ["AdageDAG"]


class AdageCall:
    """The engine's callable for an adage node: run its zero-argument task."""

    __slots__ = ("task",)

    def __init__(self, task: Any):
        self.task = task

    def __call__(self, *_parents: Any) -> Any:
        return self.task()


class AdageDAG:
    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: list[tuple[str, str]] = []
        self._builder: Any = None  # set while a rule body runs
        self._running = False

    # -- adage's API ------------------------------------------------------------------

    def addTask(self, task: Any, nodename: str = "node", depends_on: Any = None) -> Node:
        node = Node(nodename, task)
        self.addNode(node, depends_on)
        return node

    def addNode(self, nodeobj: Node, depends_on: Any = None) -> None:
        if nodeobj.identifier in self._nodes:
            raise DuplicateNodeError(f"node id {nodeobj.identifier!r} is already in the DAG")
        if not callable(nodeobj.task):  # compat: adage would fail calling it, a TypeError
            raise TypeError(
                f"node {nodeobj.name!r}: its task must be callable without arguments (use "
                f"task.s(...)), got {nodeobj.task!r}"
            )
        parents = [self._id(p) for p in depends_on or []]
        if self._builder is not None:
            self._builder.add_node(nodeobj.identifier, AdageCall(nodeobj.task), after=parents)
        elif self._running:
            raise DynamicGraphError(
                f"node {nodeobj.name!r} added while the workflow runs but outside a rule body; "
                f"extend a running workflow from a Rule"
            )
        self._nodes[nodeobj.identifier] = nodeobj
        self._edges.extend((p, nodeobj.identifier) for p in parents)

    def addEdge(self, fromobj: Any, toobj: Any) -> None:
        src, dst = self._id(fromobj), self._id(toobj)
        if self._builder is not None:
            self._builder.add_edge(src, dst)
        elif self._running:
            raise DynamicGraphError(
                f"edge {src!r} -> {dst!r} added while the workflow runs but outside a rule body"
            )
        self._edges.append((src, dst))

    def removeNode(self, nodeobj: Any) -> None:
        ident = self._id(nodeobj)
        if self._running:
            raise DynamicGraphError(
                f"node {ident!r} cannot be removed: a running workflow is append-only"
            )
        del self._nodes[ident]
        self._edges = [e for e in self._edges if ident not in e]

    def getNode(self, ident: str) -> Node:
        try:
            return self._nodes[ident]
        except KeyError:
            raise UnknownNodeError(f"no node with id {ident!r} in the workflow") from None

    def getNodeByName(self, name: str, nodefilter: Any = None) -> Node | None:
        keep = nodefilter or (lambda _n: True)
        matching = [n for n in self._nodes.values() if n.name == name and keep(n)]
        if len(matching) > 1:  # compat: adage's getNodeByName raises RuntimeError here
            raise RuntimeError(
                f"getting node by name {name!r} matched {len(matching)} nodes, try getting by ID"
            )
        return matching[0] if matching else None

    # -- networkx-like queries adage code uses -------------------------------------------

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def edges(self) -> list[tuple[str, str]]:
        return list(self._edges)

    def predecessors(self, ident: str) -> list[str]:
        return [s for s, t in self._edges if t == ident]

    def successors(self, ident: str) -> list[str]:
        return [t for s, t in self._edges if s == ident]

    def __contains__(self, ident: object) -> bool:
        return ident in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Any:
        return iter(self._nodes)

    def _id(self, obj: Any) -> str:
        ident = obj.identifier if isinstance(obj, Node) else obj
        if ident not in self._nodes:
            raise UnknownNodeError(f"{obj!r} is not a node of this workflow")
        return ident
