"""dagron under its own names: ``import dagforge.compat.dagron as dagron``.

``DAG`` (with ``DAG.builder()``), ``DAGBuilder``, the resource scheduling module
(:mod:`dagforge.compat.dagron.resources`: ``ResourcePool``, ``ResourceRequirements``,
``ResourceSnapshot``, ``ResourceTimeline``, ``ResourceAwareExecutor``,
``AsyncResourceAwareExecutor``), ``ExecutionCallbacks`` and ``ExecutionResult``
(``result.succeeded`` etc. are counts). An impossible request (more than the pool's
total capacity) raises ``ResourceError``, a ``ValueError``, before anything runs.
Where dagron 0.1.1 differs from its documentation this layer follows the documentation.
"""

from __future__ import annotations

from dagforge.compat.dagron.resources import (
    AsyncResourceAwareExecutor,
    ResourceAwareExecutor,
    ResourcePool,
    ResourceRequirements,
    ResourceSnapshot,
    ResourceTimeline,
)
from dagforge.errors import ResourceError
from dagforge.execution.callbacks import ExecutionCallbacks
from dagforge.execution.executor import Executor as DAGExecutor
from dagforge.execution.result import ExecutionResult, NodeResult
from dagforge.graph import DAG, DAGBuilder

__version__ = "0.1.1"

__all__ = [
    "DAG",
    "AsyncResourceAwareExecutor",
    "DAGBuilder",
    "DAGExecutor",
    "ExecutionCallbacks",
    "ExecutionResult",
    "NodeResult",
    "ResourceAwareExecutor",
    "ResourceError",
    "ResourcePool",
    "ResourceRequirements",
    "ResourceSnapshot",
    "ResourceTimeline",
]
