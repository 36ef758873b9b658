"""dagforge: author DAG tasks once, then run, profile, schedule, grow and serve them.

The public API is exactly ``__all__``. Names are imported on first use so that
``import dagforge`` stays fast and pulls in no heavy dependency.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    # What a type checker (and an IDE) sees: the same names, eagerly. At run time they
    # are loaded on first use by __getattr__ below. tests/test_public_api.py checks that
    # this block and _EXPORTS agree.
    from dagforge.client import Client as Client
    from dagforge.config import Config as Config
    from dagforge.dynamic import Rule as Rule
    from dagforge.dynamic import rule as rule
    from dagforge.errors import (
        AmbiguousInputError as AmbiguousInputError,
    )
    from dagforge.errors import (
        BackendError as BackendError,
    )
    from dagforge.errors import (
        CancelledError as CancelledError,
    )
    from dagforge.errors import (
        ClientError as ClientError,
    )
    from dagforge.errors import (
        ConfigError as ConfigError,
    )
    from dagforge.errors import (
        CycleError as CycleError,
    )
    from dagforge.errors import (
        DagforgeError as DagforgeError,
    )
    from dagforge.errors import (
        DuplicateNodeError as DuplicateNodeError,
    )
    from dagforge.errors import (
        DynamicGraphError as DynamicGraphError,
    )
    from dagforge.errors import (
        EdgeRoutingError as EdgeRoutingError,
    )
    from dagforge.errors import (
        ExecutionError as ExecutionError,
    )
    from dagforge.errors import (
        GraphError as GraphError,
    )
    from dagforge.errors import (
        LoopLimitError as LoopLimitError,
    )
    from dagforge.errors import (
        MissingInputError as MissingInputError,
    )
    from dagforge.errors import (
        NodeStateError as NodeStateError,
    )
    from dagforge.errors import (
        NodeTimeoutError as NodeTimeoutError,
    )
    from dagforge.errors import (
        ProfileError as ProfileError,
    )
    from dagforge.errors import (
        RegistryError as RegistryError,
    )
    from dagforge.errors import (
        ResourceError as ResourceError,
    )
    from dagforge.errors import (
        SerializationError as SerializationError,
    )
    from dagforge.errors import (
        SpecError as SpecError,
    )
    from dagforge.errors import (
        StoreError as StoreError,
    )
    from dagforge.errors import (
        TaskOutputError as TaskOutputError,
    )
    from dagforge.errors import (
        UnknownFunctionError as UnknownFunctionError,
    )
    from dagforge.errors import (
        UnknownNodeError as UnknownNodeError,
    )
    from dagforge.errors import (
        WorkerLostError as WorkerLostError,
    )
    from dagforge.execution.callbacks import ExecutionCallbacks as ExecutionCallbacks
    from dagforge.execution.executor import (
        AsyncResourceAwareExecutor as AsyncResourceAwareExecutor,
    )
    from dagforge.execution.executor import (
        Executor as Executor,
    )
    from dagforge.execution.executor import (
        ResourceAwareExecutor as ResourceAwareExecutor,
    )
    from dagforge.execution.result import (
        ExecutionResult as ExecutionResult,
    )
    from dagforge.execution.result import (
        NodeResult as NodeResult,
    )
    from dagforge.functional import Pipeline as Pipeline
    from dagforge.functional import node as node
    from dagforge.functional import pipeline as pipeline
    from dagforge.graph import DAG as DAG
    from dagforge.graph import DAGBuilder as DAGBuilder
    from dagforge.graph import dag as dag
    from dagforge.options import NodeOptions as NodeOptions
    from dagforge.profiling.profile import (
        EdgeMetrics as EdgeMetrics,
    )
    from dagforge.profiling.profile import (
        Profile as Profile,
    )
    from dagforge.profiling.profile import (
        TaskMetrics as TaskMetrics,
    )
    from dagforge.resources import (
        ResourcePool as ResourcePool,
    )
    from dagforge.resources import (
        ResourceRequirements as ResourceRequirements,
    )
    from dagforge.resources import (
        ResourceSnapshot as ResourceSnapshot,
    )
    from dagforge.resources import (
        ResourceTimeline as ResourceTimeline,
    )
    from dagforge.scheduling.simulate import simulate as simulate
    from dagforge.tasks import Task as Task
    from dagforge.tasks import task as task


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dagforge' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
