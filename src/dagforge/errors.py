"""The one exception hierarchy of dagforge.

Every error dagforge raises derives from :class:`DagforgeError`, through exactly one
family (as httpx groups its exceptions), so ``except`` can be as broad or as narrow as
the caller needs::

    DagforgeError
    ├── GraphError (ValueError)      graph and wiring: names, edges, cycles, routing,
    │                                options, signatures, config keys, rule growth,
    │                                tracing functions
    ├── RunError                     execution: a node's outcome, a backend, a run's
    │                                lifecycle (ExecutionError lists a run's failures),
    │                                executor and simulation arguments
    ├── ResourceError (ValueError)   resources: a request that can never be met
    ├── WorkflowError                specs: a workflow document (SpecError), its
    │                                functions, its loops
    ├── PlatformError                platform: registries, the journal, the HTTP client,
    │                                server options
    └── PersistenceError             stores: intermediate-data stores (StoreError),
                                     serialized values, profiles, reports

Every error about bad input also derives from the built-in type a user would catch
for it, as :class:`graphlib.CycleError` derives from ``ValueError``: ``ValueError``
(a cycle, a missing output, an impossible resource request, a bad spec or profile),
``KeyError`` (an unknown node -- also in a result or a profile --, a missing config
key, an unknown function), ``TypeError`` (an argument of the wrong type),
``TimeoutError``, ``RuntimeError``. Messages name the node,
edge, input, resource or JSON path at fault and, where it helps, what would fix it.
Errors coming from outside parts (Redis, S3, Dask, HTTP) are translated at the
boundary with ``raise ... from``, so the original stays reachable as ``__cause__``.
``FAMILIES`` lists the six family classes; ``docs/errors.md`` lists every error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DagforgeError(Exception):
    """Raised by dagforge for every error it reports: the root of all its errors."""


# --- graph and wiring -------------------------------------------------------------------


class GraphError(DagforgeError, ValueError):
    """Raised when a DAG is built or wired inconsistently: the graph-and-wiring family."""


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


class ConfigError(GraphError, KeyError):
    """Raised when a configuration key a task depends on is missing."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- execution ------------------------------------------------------------------------


class RunError(DagforgeError):
    """Raised when running a DAG goes wrong: the execution family.

    Its members are a node's outcome (timeout, lost worker, cancellation, bad output), a
    backend that cannot start, an illegal lifecycle transition, and ``ExecutionError``,
    which ``raise_for_failures()`` raises listing every failed node.
    """


class TaskOutputError(RunError, ValueError):
    """Raised when ``compute`` returns a non-dict, misses a declared output or adds one."""


class NodeStateError(RunError, RuntimeError):
    """Raised on an illegal lifecycle transition of a node or a run."""


class ExecutionError(RunError):
    """Raised by ``raise_for_failures()``; lists every failed node with its exception."""

    def __init__(self, message: str, failures: dict[str, BaseException] | None = None):
        super().__init__(message)
        self.failures = dict(failures or {})


class NodeTimeoutError(RunError, TimeoutError):
    """Raised (as a node's error) when a node runs longer than its ``timeout``."""


class WorkerLostError(RunError):
    """Raised (as a node's error) when the worker process running a node died."""


class BackendError(RunError):
    """Raised when a backend cannot start or loses its connection (e.g. a Dask scheduler)."""


class CancelledError(RunError):
    """Raised (as a node's error) when a run is cancelled before the node finished."""


class RunArgumentError(RunError, ValueError, TypeError):
    """Raised when an executor, a backend or a simulation gets an invalid argument.

    A worker count, a backend name, machines, a bandwidth, a priority policy, a seed or
    an object of the wrong type: one class for a bad value and a bad type, so it is both
    a ``ValueError`` and a ``TypeError``, whichever the caller catches.
    """


class DeadlockError(RunError, RuntimeError):
    """Raised when a (simulated) run can make no progress: nothing runs, nothing can start."""


# --- resources ------------------------------------------------------------------------


class ResourceError(DagforgeError, ValueError):
    """Raised when a resource request can never be met, or a release is invalid.

    It is the resources family: a request larger than the pool, an unknown resource, a
    negative amount, giving back what was not taken.
    """


class RequirementError(ResourceError, TypeError):
    """Raised when a node's resource requirement is not a mapping of names to amounts >= 0.

    A malformed value, like a bad argument, so also a ``TypeError`` (and a ``ValueError``).
    """


class DynamicGraphError(GraphError):
    """Raised when a rule body tries anything but appending nodes and outgoing edges."""


class TracingError(GraphError, TypeError):
    """Raised when a function cannot be traced into a DAG (``@node``, ``@pipeline``).

    A non-callable decorated, a ``*args`` parameter, a call with the wrong arguments,
    branching on or iterating a traced result: like a bad call, also a ``TypeError``.
    """


# --- specs ------------------------------------------------------------------------------


class WorkflowError(DagforgeError):
    """Raised when a workflow spec, its functions or its loops fail: the specs family."""


class SpecError(WorkflowError, ValueError):
    """Raised when a workflow specification is invalid; ``.path`` is the JSON path."""

    def __init__(self, message: str, path: str = "", errors: Sequence[tuple[str, str]] = ()):
        self.path = path
        self.errors = list(errors) or [(path, message)]
        super().__init__(f"{path}: {message}" if path else message)


class LoopLimitError(WorkflowError):
    """Raised when a workflow loop exceeds its iteration bound."""


class UnknownFunctionError(WorkflowError, KeyError):
    """Raised when a function name is not in the registry or cannot be imported."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- stores -----------------------------------------------------------------------------


class PersistenceError(DagforgeError):
    """Raised when data dagforge stores or reads back is unusable: the stores family.

    Its members: an intermediate-data store that fails, a value a serializer cannot
    encode or decode, a malformed profile file.
    """


class StoreError(PersistenceError):
    """Raised when an intermediate-data store fails (Redis, S3, local directory)."""


class SerializationError(PersistenceError, ValueError):
    """Raised when a serializer cannot encode or decode a value."""


class ProfileError(PersistenceError, ValueError):
    """Raised when a profile or a trace is malformed; the message names the JSON path."""


class ReportError(PersistenceError, ValueError, TypeError):
    """Raised when a report, a plot or an export cannot be made from its arguments.

    Nothing to report, a path whose suffix names no image format, a source of the wrong
    type, an unknown unit: both a ``ValueError`` and a ``TypeError``.
    """


# --- platform ---------------------------------------------------------------------------


class PlatformError(DagforgeError):
    """Raised when the platform or its client fails: the platform family.

    Its members: a registry operation refused, the journal unreachable, an HTTP error
    answer to ``dagforge.Client``.
    """


class StorageFault(PlatformError):
    """Raised when the platform's journal cannot be read or written (disk, database down).

    The HTTP layer answers 503: retry later.
    """


class LeaseLost(PlatformError):
    """Raised when a replica writes for a run whose lease another replica has since claimed.

    The journal refused the write (its ``claims`` counter moved past the writer's claim):
    the run is no longer the writer's, which stops it and writes nothing more for it.
    ``.run_id``, ``.fence`` (the writer's claim) and ``.claims`` (the journal's now; None
    if the run is gone) say which.
    """

    def __init__(self, run_id: str, fence: int, claims: int | None, owner: str | None = None):
        self.run_id = run_id
        self.fence = fence
        self.claims = claims
        self.owner = owner
        now = "is no longer in the journal" if claims is None else f"is at claim {claims}"
        by = f" (held by {owner})" if owner else ""
        super().__init__(
            f"run {run_id!r} is no longer this replica's: it wrote with claim {fence}, the "
            f"run {now}{by}; the write was refused"
        )


class RegistryError(PlatformError, ValueError):
    """Raised when a registry operation fails (unknown or duplicate function, DAG, trigger)."""


class ServerOptionError(PlatformError, ValueError):
    """Raised when the server gets an invalid option (--capacity, --log-format, --otel)."""


class ClientError(PlatformError):
    """Raised by ``dagforge.Client`` when the server answers with an error."""

    # Set by the client on an HTTP error answer (declared here for the type checker):
    # the body's ``detail`` and the ``Retry-After`` header (429 and 503).
    detail: Any
    retry_after: str | None

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


#: The six families, each a direct subclass of :class:`DagforgeError`; every other
#: error here derives from exactly one of them.
FAMILIES: tuple[type[DagforgeError], ...] = (
    GraphError,
    RunError,
    ResourceError,
    WorkflowError,
    PlatformError,
    PersistenceError,
)
