"""``NodeOptions``: the per-node knobs the engine honours.

One record holds every option a node can carry, whichever way it was given (keyword
of ``add_node``, class attribute of a ``Task``, or ``DAG(options={name: {...}})``).
Nodes without options share :data:`DEFAULT_OPTIONS`, so a million plain nodes cost one
object, not a million.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from dagforge.errors import GraphError, OptionError

_ALIASES = {"is_sequential": "exclusive"}


class NodeOptions:
    """Scheduling and execution options of one node."""

    __slots__ = (
        "cache",
        "cache_key",
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
        tags: Iterable[str] | str | None = (),
        serializer: Any = None,
        cache: bool = True,
        cache_key: str | None = None,
        node: str = "?",
    ):
        bad = functools.partial(_bad, node)
        self.priority = _number(bad, "priority", priority)
        if not isinstance(exclusive, bool):
            bad("exclusive", exclusive, "must be True or False")
        self.exclusive = exclusive
        if cost is not None:
            cost = _number(bad, "cost", cost)
            if cost < 0:
                bad("cost", cost, "must be >= 0")
        self.cost = cost
        self.resources = _resources(bad, resources)
        if type(retries) is not int:
            import numbers

            if not isinstance(retries, bool) and isinstance(retries, numbers.Integral):
                retries = int(retries)  # e.g. a numpy integer
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            bad("retries", retries, "must be an integer >= 0")
        self.retries = int(retries)
        self.retry_delay = _number(bad, "retry_delay", retry_delay)
        if self.retry_delay < 0:
            bad("retry_delay", retry_delay, "must be >= 0 seconds")
        self.retry_backoff = _number(bad, "retry_backoff", retry_backoff)
        if self.retry_backoff <= 0:
            bad("retry_backoff", retry_backoff, "must be > 0 (1 = constant delay)")
        self.retry_jitter = _number(bad, "retry_jitter", retry_jitter)
        if not 0 <= self.retry_jitter <= 1:
            bad("retry_jitter", retry_jitter, "must be between 0 and 1 (a fraction)")
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
        if not isinstance(retry_on, tuple | list | frozenset | set) or not all(
            isinstance(c, type) and issubclass(c, BaseException) for c in retry_on
        ):
            bad("retry_on", retry_on, "must be an exception class or a tuple of them")
        self.retry_on = tuple(retry_on)
        if timeout is not None:
            timeout = _number(bad, "timeout", timeout)
            if timeout <= 0:
                bad("timeout", timeout, "must be > 0 seconds (None or inf: no timeout)")
            if timeout == math.inf:
                timeout = None  # documented: an infinite timeout is no timeout
        self.timeout = timeout
        if tags is None:
            tags = ()
        elif isinstance(tags, str):
            tags = (tags,)  # one tag, not its characters
        try:
            tag_set = frozenset(tags)
        except TypeError:
            bad("tags", tags, "must be a string or an iterable of strings")
        if not all(isinstance(t, str) for t in tag_set):
            bad("tags", tags, "every tag must be a string")
        self.tags = tag_set
        self.serializer = serializer
        if not isinstance(cache, bool):
            bad("cache", cache, "must be True or False")
        self.cache = cache
        if cache_key is not None and (not isinstance(cache_key, str) or not cache_key):
            bad("cache_key", cache_key, "must be a non-empty string (it replaces the code hash)")
        self.cache_key = cache_key
        # True when the engine can run the node on its fast path: nothing about it
        # changes admission or execution (priority and tags only change ordering).
        self.simple = not (self.exclusive or resources or self.retries or timeout is not None)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(n for n in cls.__slots__ if n != "simple")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, node: str = "?") -> NodeOptions:
        """Build options from keywords, accepting tawazi's ``is_sequential`` alias."""
        return _named(node, lambda: cls(**_normalise(values, node), node=node))

    def merged(self, values: Mapping[str, Any], *, node: str = "?") -> NodeOptions:
        """A copy with ``values`` overriding this record's fields."""
        current = {name: getattr(self, name) for name in self.names()}
        current.update(_normalise(values, node))
        return _named(node, lambda: NodeOptions(**current, node=node))

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


def _bad(node: str, option: str, value: Any, reason: str) -> NoReturn:
    raise OptionError(node, option, value, reason)


def _number(bad: Any, option: str, value: Any) -> float:
    """A real, non-NaN number (bool and strings refused); ints stay ints."""
    if type(value) is not int and type(value) is not float:
        import numbers  # the slow path: numpy scalars, Fractions ... are real numbers too

        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            bad(option, value, "must be a number")
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if value != value:
        bad(option, value, "must be a number, not NaN")
    if option != "timeout" and isinstance(value, float) and math.isinf(value):
        bad(option, value, "must be finite")
    return value


def _resources(bad: Any, value: Any) -> Any:
    """None, a ``ResourceRequirements``, or a mapping of resource name -> amount >= 0."""
    if value is None or type(value).__name__ == "ResourceRequirements":
        return value
    if not isinstance(value, Mapping):
        bad("resources", value, "must be a dict of resource name -> amount")
    for k, amount in value.items():
        if not isinstance(k, str) or not k:
            bad("resources", value, f"resource names must be non-empty strings, got {k!r}")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            bad("resources", value, f"the amount of {k!r} must be a number")
        if amount != amount or amount < 0 or math.isinf(amount):
            bad("resources", value, f"the amount of {k!r} must be a finite number >= 0")
    return value


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
