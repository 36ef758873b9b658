"""Dynamic DAGs: append-only rules that grow the graph while it runs (adage's model).

A :class:`Rule` is a ``(predicate, body)`` pair. After the run starts and after every
completion, the engine asks each pending rule's predicate whether the graph now holds
enough information; if so it runs the body once and retires the rule.

Invariants (what keeps a growing graph a DAG whose past never changes):
- a predicate sees a read-only :class:`GraphView`;
- a body sees an append-only :class:`GraphBuilder`: it may add nodes, edges *from any
  node to a node added by this same body*, and further rules — nothing else;
- a body's additions are validated as a whole and applied all at once: a body that
  breaks a rule adds nothing, and the run ends with :class:`DynamicGraphError` naming
  the rule and the offending edge or node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dagforge import states as S
from dagforge.errors import DagforgeError, DynamicGraphError
from dagforge.options import DEFAULT_OPTIONS, NodeOptions


class Rule:
    """``Rule(predicate, body, tags=("map",))``: when ``predicate(view)``, run ``body(builder)``.

    ``tags`` declares which node tags the body may still add: while the rule is
    pending, ``view.settled(tag)`` is False for each of them.
    """

    __slots__ = ("predicate", "body", "name", "tags")

    def __init__(
        self,
        predicate: Callable[[GraphView], bool],
        body: Callable[[GraphBuilder], Any],
        *,
        name: str | None = None,
        tags: Iterable[str] = (),
    ):
        self.predicate = predicate
        self.body = body
        self.name = name or getattr(body, "__name__", None) or "rule"
        self.tags = frozenset(tags)

    def __repr__(self) -> str:
        return f"<Rule {self.name!r} tags={sorted(self.tags)}>"


def rule(
    predicate: Callable[[GraphView], bool], *, name: str | None = None, tags: Iterable[str] = ()
) -> Callable[[Callable[[GraphBuilder], Any]], Rule]:
    """Decorator form: ``@rule(lambda v: v.succeeded("a"))`` over a body function."""

    def wrap(body: Callable[[GraphBuilder], Any]) -> Rule:
        return Rule(predicate, body, name=name or body.__name__, tags=tags)

    return wrap


class GraphView:
    """What a predicate may read: nodes, states, values, tags, pending rules."""

    __slots__ = ("_run",)

    def __init__(self, run: Any):
        self._run = run

    @property
    def nodes(self) -> list[str]:
        return list(self._run.names)

    def __contains__(self, name: object) -> bool:
        return name in self._run.dag._index

    def status(self, name: str) -> str:
        return S.NAMES[self._run.status[self._run.dag._lookup(name, "node")]]

    def succeeded(self, *names: str) -> bool:
        return all(n in self and self.status(n) == "succeeded" for n in names)

    def done(self, *names: str) -> bool:
        """True when every named node reached a terminal state."""
        run = self._run
        return all(n in self and run.status[run.dag._index[n]] in S.TERMINAL for n in names)

    def value(self, name: str) -> Any:
        run = self._run
        i = run.dag._lookup(name, "node")
        if run.status[i] != S.SUCCEEDED:
            raise DynamicGraphError(
                f"node {name!r} has no value yet (status {S.NAMES[run.status[i]]!r}); check "
                f"view.succeeded({name!r}) in the predicate first"
            )
        fetch = getattr(run.backend, "materialize", None)  # e.g. Dask: the future's value
        return run.values[i] if fetch is None else fetch(run, i)

    def by_tag(self, tag: str) -> list[str]:
        run = self._run
        return [run.names[i] for i, o in enumerate(run.opts) if tag in o.tags]

    def settled(self, tag: str) -> bool:
        """True when no pending rule declares it may still add nodes tagged ``tag``."""
        return not any(tag in r.tags for r in self._run.rules)

    def all_done(self, tag: str) -> bool:
        """The tag is settled and every node carrying it is finished."""
        return self.settled(tag) and self.done(*self.by_tag(tag))


class GraphBuilder:
    """What a body may do: append nodes, edges into those new nodes, and rules."""

    __slots__ = ("_edge_set", "_new", "_rule", "_run", "edges", "nodes", "rules")

    def __init__(self, run: Any, rule: Rule):
        self._run = run
        self._rule = rule
        self.nodes: list[tuple[str, Any, NodeOptions]] = []
        self.edges: list[tuple[str, str]] = []
        self.rules: list[Rule] = []
        self._new: set[str] = set()
        self._edge_set: set[tuple[str, str]] = set()

    @property
    def view(self) -> GraphView:
        return GraphView(self._run)

    def add_node(
        self,
        name: str,
        fn: Any,
        *,
        after: Iterable[str] = (),
        options: NodeOptions | None = None,
        **kwargs: Any,
    ) -> GraphBuilder:
        """Add a node running ``fn`` (parents' values positionally, in ``after`` order).

        Options come as keywords (``priority=``, ``resources=``, ``tags=``...) or as a
        prebuilt ``options=NodeOptions(...)`` record shared by many nodes.
        """
        if options is None:
            try:
                options = NodeOptions.from_mapping(kwargs, node=name) if kwargs else DEFAULT_OPTIONS
            except DagforgeError as exc:
                raise DynamicGraphError(f"rule {self._rule.name!r}: {exc}") from exc
        if not callable(fn):
            raise DynamicGraphError(
                f"rule {self._rule.name!r} adds node {name!r} whose task is not callable: {fn!r}"
            )
        if name in self._run.dag._index or name in self._new:
            raise DynamicGraphError(
                f"rule {self._rule.name!r} adds node {name!r}, but a node of that name already "
                f"exists; rules may only add new names"
            )
        self._new.add(name)
        self.nodes.append((name, fn, options))
        for parent in after:
            self.add_edge(parent, name)
        return self

    def add_edge(self, source: str, target: str) -> GraphBuilder:
        """Add ``source -> target``; ``target`` must be a node this body added."""
        if target not in self._new:
            where = "an existing node" if target in self._run.dag._index else "an unknown node"
            raise DynamicGraphError(
                f"rule {self._rule.name!r} adds edge {source!r} -> {target!r} into {where}; "
                f"rules may only add edges from existing nodes to nodes they add themselves"
            )
        if source not in self._run.dag._index and source not in self._new:
            raise DynamicGraphError(
                f"rule {self._rule.name!r} adds edge {source!r} -> {target!r} from unknown node "
                f"{source!r}"
            )
        edge = (source, target)
        if edge in self._edge_set:
            raise DynamicGraphError(
                f"rule {self._rule.name!r} adds edge {source!r} -> {target!r} twice"
            )
        self._edge_set.add(edge)
        self.edges.append(edge)
        return self

    def add_rule(self, rule: Rule) -> GraphBuilder:
        self.rules.append(rule)
        return self

    def remove_node(self, name: str) -> None:
        raise DynamicGraphError(
            f"rule {self._rule.name!r} tried to remove node {name!r}; dynamic graphs are "
            f"append-only"
        )


class MapItem:
    """The callable of one map node: applies ``fn`` to item ``k`` of the parent's list."""

    __slots__ = ("fn", "k")

    def __init__(self, fn: Callable[[Any], Any], k: int):
        self.fn = fn
        self.k = k

    def __call__(self, items: Any) -> Any:
        return self.fn(items[self.k])


class ReduceNothing:
    """The reduce of an empty map: ordered after the source, called with no arguments."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, _source_value: Any) -> Any:
        return self.fn()


def map_rule(
    source: str,
    fn: Callable[[Any], Any],
    *,
    name: str | None = None,
    reduce: Callable[..., Any] | None = None,
    reduce_name: str | None = None,
    **options: Any,
) -> Rule:
    """A rule that maps ``fn`` over the list ``source`` returns, then reduces it.

    One node ``name[k]`` per item (tagged ``name``); with ``reduce``, one node
    ``reduce_name`` that receives every mapped value positionally, in item order.
    """
    fn_name: str = getattr(fn, "__name__", "map")
    base = name or fn_name
    red_name = reduce_name or f"{base}.reduce"

    def predicate(view: GraphView) -> bool:
        return view.succeeded(source)

    def body(b: GraphBuilder) -> None:
        items = b.view.value(source)
        try:
            count = len(items)
        except TypeError:
            raise DynamicGraphError(
                f"map over {source!r} needs a sized sequence; {source!r} returned "
                f"{type(items).__name__}"
            ) from None
        tags = options.get("tags") or ()
        tags = {tags} if isinstance(tags, str) else set(tags)
        record = NodeOptions.from_mapping({**options, "tags": tags | {base}}, node=base)
        names = [f"{base}[{k}]" for k in range(count)]
        for k, node in enumerate(names):
            b.add_node(node, MapItem(fn, k), after=[source], options=record)
        if reduce is not None:
            if names:
                b.add_node(red_name, reduce, after=names)
            else:  # an empty map still reduces, with no arguments, after the source
                b.add_node(red_name, ReduceNothing(reduce), after=[source])

    return Rule(predicate, body, name=f"map {base} over {source}", tags=(base,))
