"""adage's decorators (``adage.decorators``): ``adagetask``, ``adageop``, ``Rule``,
``callbackrule``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["Rule", "adageop", "adagetask", "callbackrule"]


def adageop(func: Callable[..., Any]) -> Callable[..., Any]:
    """``op.s(...)``: a rule body waiting for its ``adageobj`` keyword."""
    func.s = lambda *a, **kw: functools.partial(func, *a, **kw)  # type: ignore[attr-defined]
    return func


def adagetask(func: Callable[..., Any]) -> Callable[..., Any]:
    """``task.s(...)``: a zero-argument callable to run later as a node."""
    func.s = lambda *a, **kw: functools.partial(func, *a, **kw)  # type: ignore[attr-defined]
    return func


class Rule:
    """``Rule(predicate, body)``: ``predicate(adageobj)`` decides, ``body(adageobj=)`` extends."""

    def __init__(self, predicate: Callable[[Any], bool], body: Callable[..., Any]):
        self.predicate = predicate
        self.body = body

    def applicable(self, adageobj: Any) -> bool:
        return bool(self.predicate(adageobj))

    def apply(self, adageobj: Any) -> Any:
        return self.body(adageobj=adageobj)

    @property
    def name(self) -> str:
        body = self.body.func if isinstance(self.body, functools.partial) else self.body
        return getattr(body, "__name__", None) or type(body).__name__


def callbackrule(after: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Rule]:
    """A Rule that fires once every node of ``after`` ({key: node id}) succeeded."""
    deps = dict(after or {})

    def decorator(func: Callable[..., Any]) -> Rule:
        def predicate(adageobj: Any) -> bool:
            return all(adageobj.dag.getNode(n).successful() for n in deps.values())

        def body(adageobj: Any) -> None:
            func(depnodes={k: adageobj.dag.getNode(v) for k, v in deps.items()}, adageobj=adageobj)

        body.__name__ = getattr(func, "__name__", "callbackrule")
        return Rule(predicate, body)

    return decorator
