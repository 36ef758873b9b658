"""Decorators in one place: ``from dagforge.decorators import dag, task, node, pipeline``.

This is the module path of dagprofiler's second import (``from dagprofiler.decorators
import dag``), so the seed's ``@task`` example runs with only the import prefix changed.
:func:`dag` builds a DAG from tasks by matching output names to input names; it takes
Task instances (what dagforge's ``@task`` returns) and Task *classes* (what a Task
subclass or dagprofiler's ``@task`` gives), instantiating the classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagforge.config import Config
from dagforge.errors import GraphError
from dagforge.functional import node, pipeline
from dagforge.graph import DAG
from dagforge.graph import dag as _dag
from dagforge.tasks import Task, task

__all__ = ["dag", "node", "pipeline", "task"]


def dag(
    tasks: Iterable[Any],
    config: Config | Mapping[str, Any] | None = None,
    edges: Iterable[Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG of ``tasks``: edges inferred from output/input names unless ``edges`` is given.

    Nodes are named by each task's name (a class's ``__name__`` for classes).
    """
    instances = []
    for t in tasks:
        if isinstance(t, type):
            if not issubclass(t, Task):
                raise GraphError(f"dag() takes Tasks or Task classes, got the class {t.__name__!r}")
            inst = t()
            inst._name = t.__name__  # type: ignore[attr-defined]
            t = inst
        instances.append(t)
    if edges is None:
        return _dag(instances, config, **dag_kwargs)
    named = {}
    for t in instances:
        if not isinstance(t, Task):
            raise GraphError(f"dag() takes Task objects (use @task), got {t!r}")
        named[t.name] = t
    return DAG(tasks=named, edges=list(edges), config=config, **dag_kwargs)
