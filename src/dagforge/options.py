"""``NodeOptions``: the per-node knobs the engine honours.

One record holds every option a node can carry, whichever way it was given (keyword
of ``add_node``, class attribute of a ``Task``, or ``DAG(options={name: {...}})``).
Nodes without options share :data:`DEFAULT_OPTIONS`, so a million plain nodes cost one
object, not a million.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagforge.errors import GraphError

_ALIASES = {"is_sequential": "exclusive"}


class NodeOptions:
    """Scheduling and execution options of one node."""

    __slots__ = (
        "cache",
        "cost",
        "exclusive",
        "priority",
        "resources",
        "retries",
        "retry_backoff",
        "retry_delay",
        "retry_jitter",
        "retry_on",
        "serializer",
        "simple",
        "tags",
        "timeout",
    )

    def __init__(
        self,
        *,
        priority: float = 0,
        exclusive: bool = False,
        cost: float | None = None,
        resources: Any = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        retry_backoff: float = 2.0,
        retry_jitter: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        timeout: float | None = None,
        tags: Iterable[str] = (),
        serializer: Any = None,
        cache: bool = True,
    ):
        if retries < 0:
            raise GraphError(f"retries must be >= 0, got {retries}")
        if timeout is not None and timeout <= 0:
            raise GraphError(f"timeout must be > 0 seconds, got {timeout}")
        if cost is not None and cost < 0:
            raise GraphError(f"cost must be >= 0, got {cost}")
        self.priority = priority
        self.exclusive = bool(exclusive)
        self.cost = cost
        self.resources = resources
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self.retry_backoff = float(retry_backoff)
        self.retry_jitter = float(retry_jitter)
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
        self.retry_on = tuple(retry_on)
        self.timeout = timeout
        self.tags = frozenset(tags)
        self.serializer = serializer
        self.cache = cache
        # True when the engine can run the node on its fast path: nothing about it
        # changes admission or execution (priority and tags only change ordering).
        self.simple = not (self.exclusive or resources or self.retries or timeout is not None)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(n for n in cls.__slots__ if n != "simple")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, node: str = "?") -> NodeOptions:
        """Build options from keywords, accepting tawazi's ``is_sequential`` alias."""
        return _named(node, lambda: cls(**_normalise(values, node)))

    def merged(self, values: Mapping[str, Any], *, node: str = "?") -> NodeOptions:
        """A copy with ``values`` overriding this record's fields."""
        current = {name: getattr(self, name) for name in self.names()}
        current.update(_normalise(values, node))
        return _named(node, lambda: NodeOptions(**current))

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    def __repr__(self) -> str:
        changed = {
            k: v for k, v in self.to_dict().items() if v != getattr(DEFAULT_OPTIONS, k, None)
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"NodeOptions({inner})"


def _named(node: str, build: Any) -> NodeOptions:
    """Run ``build``; a value error names the node it was given for."""
    try:
        return build()
    except GraphError as exc:
        if node == "?" or repr(node) in str(exc):
            raise
        raise GraphError(f"node {node!r}: {exc}") from None


def _normalise(values: Mapping[str, Any], node: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = _ALIASES.get(key, key)
        if key not in NodeOptions.__slots__ or key == "simple":
            raise GraphError(
                f"unknown option {key!r} for node {node!r}; known options: "
                f"{', '.join(NodeOptions.names())}"
            )
        out[key] = value
    return out


DEFAULT_OPTIONS = NodeOptions()
