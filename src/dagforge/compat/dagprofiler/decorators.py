"""dagprofiler's decorators (``dagprofiler.decorators``): ``@task`` and ``dag()``.

As in dagprofiler, ``@task(inputs=, outputs=, config_deps=, estimate_fn=)`` returns a
Task **class** named after the function (instantiate it, or pass the class to ``dag``);
``dag(tasks=[classes], config=, edges=None)`` instantiates them and infers edges from
output/input names when ``edges`` is not given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dagforge.compat.dagprofiler.dag import DAG
from dagforge.compat.dagprofiler.task import Task
from dagforge.config import Config
from dagforge.errors import AmbiguousInputError, GraphError
from dagforge.options import NodeOptions

__all__ = ["dag", "task"]


def task(
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    config_deps: Sequence[str] | None = None,
    estimate_fn: Callable[[Any], float] | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], type]:
    """Make a Task subclass from a function ``fn(**inputs, cfg)``; extra keywords are
    dagforge node options (``priority=``, ``retries=``...)."""
    _inputs, _outputs, _deps = list(inputs), list(outputs), list(config_deps or [])

    def decorator(fn: Callable[..., Any]) -> type:
        NodeOptions.from_mapping(options, node=fn.__name__)

        def __init__(self: Any, name: str | None = None, config: Config | None = None) -> None:
            Task.__init__(self, name=name or fn.__name__, config=config)

        def compute(self: Any, cfg: Config | None = None, **kwargs: Any) -> dict[str, Any]:
            return fn(cfg=cfg, **kwargs)

        def estimate_instructions(cfg: Any) -> float:
            return estimate_fn(cfg) if estimate_fn is not None else 0

        attrs: dict[str, Any] = {
            "__doc__": fn.__doc__,
            "__module__": fn.__module__,
            "__qualname__": fn.__name__,
            "inputs": _inputs,
            "outputs": _outputs,
            "config_deps": _deps,
            "__init__": __init__,
            "compute": compute,
            "estimate_instructions": staticmethod(estimate_instructions),
            **options,
        }
        return type(fn.__name__, (Task,), attrs)

    return decorator


def dag(
    tasks: Sequence[Any], config: Config | None = None, edges: Sequence[Any] | None = None
) -> DAG:
    """A DAG of task classes (or instances), edges inferred from I/O names unless given."""
    instances: dict[str, Any] = {}
    for t in tasks:
        if isinstance(t, type):
            if not issubclass(t, Task):
                raise GraphError(f"dag() takes Task classes, got {t.__name__!r}")
            instances[t.__name__] = t(name=t.__name__, config=config)
        elif isinstance(t, Task):
            instances[t.name] = t
        else:
            raise GraphError(f"dag() takes Task classes (from @task), got {t!r}")
    if edges is None:
        producers: dict[str, str] = {}
        for name, t in instances.items():
            for out in t.outputs:
                if out in producers and producers[out] != name:
                    raise AmbiguousInputError(name, out, [producers[out], name])
                producers[out] = name
        inferred: list[tuple[str, str]] = []
        for name, t in instances.items():
            for inp in t.inputs:
                src = producers.get(inp)
                if src is not None and src != name and (src, name) not in inferred:
                    inferred.append((src, name))
        edges = inferred
    return DAG(tasks=instances, edges=list(edges), config=config)
