"""dagforge: author DAG tasks once, then run, profile, schedule, grow and serve them.

The public API is exactly ``__all__``. Names are imported on first use so that
``import dagforge`` stays fast and pulls in no heavy dependency.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # authoring
    "Config": "dagforge.config",
    "Task": "dagforge.tasks",
    "task": "dagforge.tasks",
    "DAG": "dagforge.graph",
    "DAGBuilder": "dagforge.graph",
    "dag": "dagforge.graph",
    "NodeOptions": "dagforge.options",
    # functional authoring
    "node": "dagforge.functional",
    "pipeline": "dagforge.functional",
    "Pipeline": "dagforge.functional",
    # dynamic graphs
    "Rule": "dagforge.dynamic",
    "rule": "dagforge.dynamic",
    # execution
    "Executor": "dagforge.execution.executor",
    "ResourceAwareExecutor": "dagforge.execution.executor",
    "AsyncResourceAwareExecutor": "dagforge.execution.executor",
    "ExecutionCallbacks": "dagforge.execution.callbacks",
    "ExecutionResult": "dagforge.execution.result",
    "NodeResult": "dagforge.execution.result",
    # profiling and simulation
    "Profile": "dagforge.profiling.profile",
    "TaskMetrics": "dagforge.profiling.profile",
    "EdgeMetrics": "dagforge.profiling.profile",
    "simulate": "dagforge.scheduling.simulate",
    # resources
    "ResourcePool": "dagforge.resources",
    "ResourceRequirements": "dagforge.resources",
    "ResourceSnapshot": "dagforge.resources",
    "ResourceTimeline": "dagforge.resources",
    # errors
    "DagforgeError": "dagforge.errors",
    "GraphError": "dagforge.errors",
    "CycleError": "dagforge.errors",
    "DuplicateNodeError": "dagforge.errors",
    "UnknownNodeError": "dagforge.errors",
    "MissingInputError": "dagforge.errors",
    "AmbiguousInputError": "dagforge.errors",
    "EdgeRoutingError": "dagforge.errors",
    "ConfigError": "dagforge.errors",
    "TaskOutputError": "dagforge.errors",
    "NodeStateError": "dagforge.errors",
    "ExecutionError": "dagforge.errors",
    "NodeTimeoutError": "dagforge.errors",
    "WorkerLostError": "dagforge.errors",
    "BackendError": "dagforge.errors",
    "CancelledError": "dagforge.errors",
    "ResourceError": "dagforge.errors",
    "DynamicGraphError": "dagforge.errors",
    "SpecError": "dagforge.errors",
    "LoopLimitError": "dagforge.errors",
    "UnknownFunctionError": "dagforge.errors",
    "ProfileError": "dagforge.errors",
    "SerializationError": "dagforge.errors",
    "StoreError": "dagforge.errors",
    "RegistryError": "dagforge.errors",
    "ClientError": "dagforge.errors",
    # the platform client
    "Client": "dagforge.client",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dagforge' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
