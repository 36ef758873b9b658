"""Checked by mypy (``make typecheck``), not run by pytest: what a user's type checker sees.

``dagforge/__init__.py`` loads its public names lazily; its ``TYPE_CHECKING`` imports must
make ``from dagforge import DAG`` the real class, not ``Any``. Each ``assert_type`` below
fails under mypy if a name degrades to ``Any`` or to the wrong object.
"""

from __future__ import annotations

from typing import Any, assert_type

import dagforge
from dagforge import (
    DAG,
    Config,
    CycleError,
    ExecutionResult,
    Executor,
    Profile,
    ResourcePool,
    Task,
    UnknownNodeError,
)
from dagforge.config import Config as ConfigClass
from dagforge.errors import CycleError as CycleErrorClass
from dagforge.execution.executor import Executor as ExecutorClass
from dagforge.execution.result import ExecutionResult as ExecutionResultClass
from dagforge.graph import DAG as DAGClass
from dagforge.profiling.profile import Profile as ProfileClass
from dagforge.resources import ResourcePool as ResourcePoolClass
from dagforge.tasks import Task as TaskClass

assert_type(DAG, type[DAGClass])
assert_type(dagforge.DAG, type[DAGClass])
assert_type(Config, type[ConfigClass])
assert_type(Executor, type[ExecutorClass])
assert_type(ExecutionResult, type[ExecutionResultClass])
assert_type(Profile, type[ProfileClass])
assert_type(ResourcePool, type[ResourcePoolClass])
assert_type(Task, type[TaskClass])
assert_type(CycleError, type[CycleErrorClass])


def _instances(dag: DAG, result: ExecutionResult) -> None:
    assert_type(dag.nodes, list[str])
    assert_type(result.succeeded, int)
    err = UnknownNodeError("x")
    assert isinstance(err, dagforge.DagforgeError)


class Double(Task):
    """A user's Task subclass with its own compute signature is a valid override."""

    inputs = ["x"]
    outputs = ["y"]

    def compute(self, x: int, cfg: Config | None = None) -> dict[str, Any]:
        return {"y": 2 * x}
