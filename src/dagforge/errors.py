"""The one exception hierarchy of dagforge.

Every error dagforge raises derives from :class:`DagforgeError`; every error about bad
input also derives from the built-in type the seeds' originals raise for it, so code
that catches ``ValueError`` (a cycle, a missing output, an impossible resource request),
``KeyError`` (an unknown node, a missing config key) or ``TypeError`` keeps working.
Messages name the node, edge, input, resource or JSON path at fault and, where it
helps, what would fix it. Errors coming from outside parts (Redis, S3, Dask, HTTP) are
translated at the boundary with ``raise ... from``, so the original stays reachable as
``__cause__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DagforgeError(Exception):
    """Root of every error dagforge raises."""


# --- graph construction -------------------------------------------------------------


class GraphError(DagforgeError, ValueError):
    """Raised when a DAG is built or wired inconsistently."""


class DuplicateNodeError(GraphError):
    """Raised when a node name is added twice."""


class UnknownNodeError(GraphError, KeyError):
    """Raised when a name that is not a node of the DAG is used."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class CycleError(GraphError):
    """Raised when the edges form a cycle; ``.cycle`` lists it, first node repeated last."""

    def __init__(self, cycle: Sequence[str]):
        self.cycle = list(cycle)
        super().__init__("the graph has a cycle: " + " -> ".join(self.cycle))


class MissingInputError(GraphError):
    """Raised when a declared input is provided by no edge and no run argument."""

    def __init__(self, node: str, inputs: Sequence[str]):
        self.node = node
        self.inputs = list(inputs)
        names = ", ".join(repr(i) for i in self.inputs)
        super().__init__(
            f"node {node!r} declares input(s) {names} that no edge provides; add an edge "
            f"from a node that outputs it, or pass it as a run argument"
        )


class AmbiguousInputError(GraphError):
    """Raised when two parents provide the same input of a node."""

    def __init__(self, node: str, input_name: str, parents: Sequence[str]):
        self.node = node
        self.input = input_name
        self.parents = list(parents)
        super().__init__(
            f"input {input_name!r} of node {node!r} is provided by more than one parent: "
            f"{', '.join(repr(p) for p in self.parents)}; restrict or rename the edges, "
            f"e.g. (parent, {node!r}, [...]) or (parent, {node!r}, {{'out': 'in'}})"
        )


class EdgeRoutingError(GraphError):
    """Raised when an edge routes no data, or names outputs/inputs the tasks do not declare."""


class OptionError(GraphError):
    """Raised when a node option has an invalid value; ``.node``, ``.option``, ``.value``."""

    def __init__(self, node: str, option: str, value: object, reason: str):
        self.node, self.option, self.value = node, option, value
        super().__init__(f"node {node!r}: option {option}={value!r} is invalid: {reason}")


class SignatureError(GraphError):
    """Raised when a callable's required parameters cannot take its node's parents' values."""


class GraphValidationError(GraphError):
    """Raised when a DAG has several problems; ``.errors`` lists (node, message) for each."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.errors = list(problems)
        lines = "".join(f"\n  {node}: {msg}" for node, msg in self.errors)
        super().__init__(f"the DAG has {len(self.errors)} problems:{lines}")


class ConfigError(DagforgeError, KeyError):
    """Raised when a configuration key a task depends on is missing."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- execution ------------------------------------------------------------------------


class TaskOutputError(DagforgeError, ValueError):
    """Raised when ``compute`` returns a non-dict, misses a declared output or adds one."""


class NodeStateError(DagforgeError, RuntimeError):
    """Raised on an illegal lifecycle transition of a node or a run."""


class ExecutionError(DagforgeError):
    """Raised by ``raise_for_failures()``; lists every failed node with its exception."""

    def __init__(self, message: str, failures: dict[str, BaseException] | None = None):
        super().__init__(message)
        self.failures = dict(failures or {})


class NodeTimeoutError(DagforgeError, TimeoutError):
    """Raised (as a node's error) when a node runs longer than its ``timeout``."""


class WorkerLostError(DagforgeError):
    """Raised (as a node's error) when the worker process running a node died."""


class BackendError(DagforgeError):
    """Raised when a backend cannot start or loses its connection (e.g. a Dask scheduler)."""


class CancelledError(DagforgeError):
    """Raised (as a node's error) when a run is cancelled before the node finished."""


# --- resources ------------------------------------------------------------------------


class ResourceError(DagforgeError, ValueError):
    """Raised when a resource request can never be met, or a release is invalid."""


# --- dynamic graphs and specs ------------------------------------------------------------


class DynamicGraphError(DagforgeError, ValueError):
    """Raised when a rule body tries anything but appending nodes and outgoing edges."""


class SpecError(DagforgeError, ValueError):
    """Raised when a workflow specification is invalid; ``.path`` is the JSON path."""

    def __init__(self, message: str, path: str = "", errors: Sequence[tuple[str, str]] = ()):
        self.path = path
        self.errors = list(errors) or [(path, message)]
        super().__init__(f"{path}: {message}" if path else message)


class LoopLimitError(DagforgeError):
    """Raised when a workflow loop exceeds its iteration bound."""


class UnknownFunctionError(DagforgeError, KeyError):
    """Raised when a function name is not in the registry or cannot be imported."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- profiles, serialization, stores ---------------------------------------------------


class ProfileError(DagforgeError, ValueError):
    """Raised when a profile file is malformed; the message names the JSON path."""


class SerializationError(DagforgeError, ValueError):
    """Raised when a serializer cannot encode or decode a value."""


class StoreError(DagforgeError):
    """Raised when an intermediate-data store fails (Redis, S3, local directory)."""


class StorageFault(DagforgeError):
    """Raised when the platform's journal cannot be read or written (disk full, I/O error,
    database down): the HTTP layer answers 503, retry later."""


class RegistryError(DagforgeError, ValueError):
    """Raised when a registry operation fails (unknown or duplicate function, DAG, trigger)."""


class ClientError(DagforgeError):
    """Raised by ``dagforge.Client`` when the server answers with an error."""

    # Set by the client on an HTTP error answer (declared here for the type checker):
    # the body's ``detail`` and the ``Retry-After`` header (429 and 503).
    detail: Any
    retry_after: str | None

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code
