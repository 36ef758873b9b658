"""The HTTP API's bodies as pydantic models: the OpenAPI document and the typed ``Client``.

Every JSON body the gateway sends is validated through one of the response models below
(``response_model=`` on its route) and the ``Client`` parses the same bodies into the
same classes, so the document, the server and the client agree by construction. The
models describe the wire format as it is — they never change it:

- every model allows extra keys (a registration keeps whatever the client sent; DAGit
  scripts rely on that), and routes dump with ``exclude_unset``, so a key the server did
  not send is not invented (``None`` defaults are for reading, not for the wire);
- fields are declared in the order the server writes them, so the JSON is byte for byte
  what the routes built before they had models;
- numbers the server may send as integers are ``int | float`` (a ``float`` field would
  write ``5`` as ``5.0``).

Request bodies are *documented* with models (``DOCUMENTED_BODIES`` and
:func:`install_openapi`), but parsed as before: the platform's own checks stay the one
validator, so a refused body still answers 422 with the JSON path of the field at fault
(``{"message", "errors": [{"path", "message"}]}``), never pydantic's error list.

Results behave like the JSON objects they came from as well as like models:
``run.status`` and ``run["status"]``, ``"error" in run``, ``run.get("schedule")``,
``dict(run)``, ``{**run}`` and ``run == {...}`` all work (``to_dict()`` gives the JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = [
    "ApiError",
    "ApiModel",
    "DOCUMENTED_BODIES",
    "DagRecord",
    "Deleted",
    "FunctionRecord",
    "FunctionRegistration",
    "NodeLogRecord",
    "NodeLogs",
    "NodeState",
    "Page",
    "PriorityWeights",
    "ProfileDocument",
    "RetryAccepted",
    "RunAccepted",
    "RunArguments",
    "RunAttempt",
    "RunDetail",
    "RunOutputs",
    "RunSummary",
    "Schedule",
    "ScheduleFire",
    "ScheduleRegistration",
    "TraceDocument",
    "TriggerRecord",
    "TriggerRegistration",
    "install_openapi",
]

Number = int | float  # sent as the server computed it: 5 stays 5, 0.5 stays 0.5
Timestamp = float  # seconds since the epoch (time.time())


class ApiModel(BaseModel):
    """A JSON object of the API: a pydantic model that also reads like the dict it was.

    Extra keys are kept (and sent back); missing optional keys stay missing
    (``to_dict()`` / the wire never invent them), though attribute access gives ``None``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # -- the JSON object -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, as the server sent it."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def _names(cls) -> dict[str, str]:
        """Wire key -> field name (the alias when there is one)."""
        names: dict[str, str] | None = cls.__dict__.get("_wire_names")
        if names is None:
            names = {(f.alias or n): n for n, f in cls.model_fields.items()}
            cls._wire_names = names  # type: ignore[attr-defined]
        return names

    def keys(self) -> list[str]:
        fields = [k for k, n in self._names().items() if n in self.model_fields_set]
        return fields + list(self.__pydantic_extra__ or ())

    def __getitem__(self, key: str) -> Any:
        name = self._names().get(key)
        if name is not None:
            if name in self.model_fields_set:
                return getattr(self, name)
        elif self.__pydantic_extra__ and key in self.__pydantic_extra__:
            return self.__pydantic_extra__[key]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, self._names().get(key, key), value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def values(self) -> list[Any]:
        return [self[k] for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.keys()]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]  # a dict's iteration
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return self.to_dict() == other
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict


T = TypeVar("T")


class Page(NamedTuple, Generic[T]):
    """One page of a listing and the cursor of the next (``None`` on the last page);
    a tuple too, so ``items, cursor = client.runs_page()`` works."""

    items: list[T]
    next_cursor: str | None


# -- registries ---------------------------------------------------------------------------------


def _in_order(keys: list[str], order: list[str]) -> list[str]:
    first = [k for k in order if k in keys]
    seen = set(first)
    return first + [k for k in keys if k not in seen]


class OrderedRecord(ApiModel):
    """A record whose keys are sent in the order it was stored (a registration body keeps
    the client's order; declared fields would otherwise come first)."""

    _order: list[str] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: Any) -> Any:
        record = handler(data)
        if isinstance(data, dict):
            record._order = list(data)
        return record

    @model_serializer(mode="wrap")
    # no return annotation: pydantic would take it as the serialised schema ({} for Any)
    def _keep_order(self, handler: SerializerFunctionWrapHandler):
        out = handler(self)
        order = self._order
        if not order or not isinstance(out, dict) or list(out) == order:
            return out
        return {k: out[k] for k in _in_order(list(out), order)}

    def keys(self) -> list[str]:
        keys = super().keys()
        return _in_order(keys, self._order) if self._order else keys


class FunctionRegistration(ApiModel):
    """``POST /register/function``: a Python function by import path (``kind`` "python",
    needs ``--allow-module``) or one called over HTTP (``kind`` "http", ``url`` within
    ``--allow-url``). Other keys are kept with the record."""

    name: str | None = Field(None, description="the function's name (also: function_name)")
    function_name: str | None = Field(None, description="DAGit's spelling of 'name'")
    kind: Literal["python", "http"] = "python"
    path: str | None = Field(
        None, description="kind python: 'package.module:function'", examples=["pkg.mod:fn"]
    )
    import_path: str | None = Field(None, description="kind python: alias of 'path'")
    url: str | None = Field(None, description="kind http: the URL the platform POSTs to")
    type: Literal["cpu", "gpu"] = "cpu"
    resources: dict[str, Number] | None = Field(
        None,
        description='what one instance holds while it runs, e.g. {"cpu": 2}; refused '
        "(422) unless the server runs with --resources and has that much",
    )


class FunctionRecord(OrderedRecord):
    """A registered function: the body it was registered with (``function_name`` folded
    into ``name``) plus ``kind`` and ``type``."""

    name: str
    kind: str = Field(description="'python' or 'http'")
    type: str = Field("cpu", description="'cpu' or 'gpu'")
    path: Any = Field(None, description="kind python: 'package.module:function'")
    url: Any = Field(None, description="kind http: the function's URL")
    resources: dict[str, Number] | None = Field(
        None, description="what one instance holds while it runs (server --resources)"
    )


class DagRecord(OrderedRecord):
    """A registered DAG spec, exactly as it was registered (DAGit's format; the schema of
    a registration body is ``WorkflowSpec``)."""

    name: str
    dag: list[dict[str, Any]] = Field(description="the nodes: {node_id, properties}")


class TriggerRegistration(ApiModel):
    """``POST /register/trigger``: what a ``POST /run/{trigger_name}`` runs."""

    trigger_name: str
    type: Literal["dag", "function"]
    priority: Literal["gold", "silver", "bronze"] = "bronze"
    dags: list[str] | Literal[""] | None = Field(None, description="type dag: [the DAG's name]")
    functions: list[str] | Literal[""] | None = Field(
        None, description="type function: [the function's name]"
    )


class TriggerRecord(OrderedRecord):
    """A registered trigger (the platform's normalised record)."""

    trigger_name: str
    type: str = Field(description="'dag' or 'function'")
    priority: str = Field("bronze", description="the priority class: gold, silver or bronze")
    dags: list[str] = []
    functions: list[str] = []


class Deleted(ApiModel):
    """A registry entry (or schedule) was deleted."""

    deleted: str


class ScheduleRegistration(ApiModel):
    """``POST /register/schedule``: run ``trigger`` at the due times of ``cron``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(max_length=200)
    trigger: str = Field(description="a registered trigger")
    cron: str = Field(
        description="five fields (minute hour day month weekday) or six (trailing seconds)",
        examples=["*/5 * * * *"],
    )
    arguments: dict[str, Any] = Field({}, description="the runs' arguments")
    timezone: str = Field("UTC", description="an IANA time zone", examples=["Europe/Berlin"])
    catchup: Literal["none", "latest", "all"] = "none"
    max_active: int = Field(1, ge=1, le=1000, description="live runs at once")


class ScheduleFire(ApiModel):
    due: Timestamp
    run_id: str
    fired: Timestamp


class Schedule(ApiModel):
    """A registered schedule, its next due time and its last fires (newest first)."""

    name: str
    trigger: str
    cron: str
    arguments: dict[str, Any] = {}
    timezone: str = "UTC"
    catchup: str = "none"
    max_active: int = 1
    next_due: Timestamp | None = None
    last_fires: list[ScheduleFire] = []


# -- runs -------------------------------------------------------------------------------------


class RunArguments(RootModel[dict[str, Any]]):
    """The run's arguments: a JSON object (at most ``--max-depth`` deep, no NaN)."""


class PriorityWeights(RootModel[dict[str, int]]):
    """The weighted-fair share of each priority class: integers from 1 to 1000."""


#: The schema of a value that may be any JSON (``Any`` alone would document ``{}``).
ANY_JSON: dict[str, Any] = {
    "anyOf": [
        {"type": t} for t in ("object", "array", "string", "number", "integer", "boolean", "null")
    ]
}


class RunOutputs(RootModel[Any]):
    """A finished run's workflow outputs: the end nodes' outputs by name (``null`` for a
    run that made none)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"type": "object"}, {"type": "null"}]})


class RunAccepted(ApiModel):
    """A run was accepted (202): queued under ``run_id``. With ``?wait=true`` past its
    ``timeout`` the status says ``running`` and ``detail`` says so."""

    run_id: str
    status: str
    priority: str
    accepted: Timestamp
    detail: str | None = None


class NodeState(ApiModel):
    """One node instance of a run."""

    status: str = Field(description="succeeded, failed, skipped, cancelled, ...")
    start: Number | None = None
    end: Number | None = None
    worker: Any = None
    reason: Any = None
    restored: bool | None = Field(None, description="taken from the journal, not run again")
    journaled: bool | None = Field(None, description="while running: completed and journaled")


class RunAttempt(ApiModel):
    """An attempt of a run that ended before it was retried."""

    attempt: int
    status: str
    started: Timestamp | None = None
    finished: Timestamp | None = None
    error: str | None = None
    nodes: dict[str, Any] = Field({}, description="node instance -> its status")
    retried: Timestamp | None = None


class RunSummary(ApiModel):
    """A run in ``GET /runs`` (no arguments, outputs or nodes)."""

    id: str
    trigger: str
    dag: str | None = None
    priority: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    accepted: Timestamp
    started: Timestamp | None = None
    finished: Timestamp | None = None
    error: str | None = None
    schedule: str | None = Field(None, description="the schedule that fired it, if one did")
    run_id: str


class RunDetail(ApiModel):
    """A run: status, per-node states and timings; ``outputs`` when the run was waited
    for; ``attempt`` and ``history`` from ``GET /runs/{id}``."""

    id: str
    trigger: str
    dag: str | None = None
    priority: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    accepted: Timestamp
    started: Timestamp | None = None
    finished: Timestamp | None = None
    error: str | None = None
    run_id: str
    schedule: str | None = None
    outputs: Any = None
    nodes: dict[str, NodeState] = {}
    attempt: int | None = Field(None, description="1 for a run never retried")
    history: list[RunAttempt] = []


class RetryAccepted(ApiModel):
    """A retried run, queued again as its next attempt."""

    run_id: str
    status: str
    priority: str
    attempt: int
    reused_nodes: int = Field(description="completed nodes restored from the journal")
    history: list[RunAttempt] = []


class NodeLogRecord(ApiModel):
    """A log record a node emitted (``logging``), in the attempt that emitted it."""

    time: Timestamp
    level: str
    logger: str
    message: str
    attempt: int


class NodeLogs(ApiModel):
    """``GET /runs/{id}/nodes/{node}/logs`` as the Client reads it (the route's own model
    is ``observability.NodeLogsModel``; a test keeps the two alike)."""

    run_id: str
    node: str
    status: str
    attempts: int | None = None
    error: str | None = None
    traceback: str | None = None
    stdout: str = ""
    stderr: str = ""
    records: list[NodeLogRecord] = []
    truncated: bool = False


class ProfileDocument(ApiModel):
    """A finished run's profile (the dagprofiler JSON format, ``docs/profiling.md``)."""

    metadata: dict[str, Any]
    configuration: dict[str, Any] = {}
    dag_structure: dict[str, Any] = {}
    node_weights: dict[str, Number] = {}
    edge_weights: dict[str, Number] = {}
    execution_metrics: list[dict[str, Any]] = []
    total_time_ms: Number | None = None


class TraceDocument(ApiModel):
    """A finished run's Chrome trace (``chrome://tracing``, Perfetto)."""

    traceEvents: list[dict[str, Any]]
    displayTimeUnit: str = "ms"
    otherData: dict[str, Any] = {}


# -- DAGit's control-plane bodies (dagit_routes.py) ----------------------------------------------


class DagitActionList(ApiModel):
    actions: list[Any] = Field(alias="list of available actions")


class DagitFunctionList(ApiModel):
    status: int
    functions: list[Any] = Field(alias="DAGit functions")


class DagitTriggers(ApiModel):
    trigger: list[TriggerRecord]


class DagitTriggerInfo(ApiModel):
    trigger_name: str | None = None
    type: str | None = None
    dags: list[str] | None = None
    functions: list[str] | None = None


class DagitTriggerView(ApiModel):
    """``trigger``: the one trigger, or ``[]`` for an unknown name."""

    trigger: list[DagitTriggerInfo]


class DagitFunctionUpload(ApiModel):
    """DAGit's multipart upload: the function's files, and the ``url`` dagforge calls."""

    url: str = Field(description="the URL the platform POSTs to (dagforge builds no images)")
    type: str = Field("cpu", description="'cpu' or 'gpu'")
    files: list[bytes] = Field([], description="the script, Dockerfile, requirements.txt")


class DagitUploadReply(ApiModel):
    """``{"message": "success"}`` or ``{"message": "fail", "reason": ...}``."""

    message: Literal["success", "fail"]
    reason: str | None = None


class DagitDags(ApiModel):
    dag: list[DagRecord]


class DagitNodeInfo(ApiModel):
    get_outputs_from: list[Any] | str = Field(
        description="the nodes whose outputs it takes, or 'Starting action - >No outputs consumed'"
    )
    primitive: str | None = None
    next_node_id_if_condition_true: Any = None
    next_node_id_if_condition_false: Any = None
    next_function: Any = Field(None, description="or 'Ending node_id of a path'")


class DagitDagInfo(ApiModel):
    """The DAG's name, size and first node, then one key per ``node_id``."""

    __pydantic_extra__: dict[str, DagitNodeInfo] = Field(init=False)  # type: ignore[assignment]

    dag_name: str | DagitNodeInfo | None = None
    number_of_nodes: int | DagitNodeInfo
    starting_node: str | DagitNodeInfo | None = None


class DagitDagView(ApiModel):
    dag_data: DagitDagInfo


class DagitRunMeta(ApiModel):
    dag_id: str
    dag_name: str | None = None
    function_activation_ids: list[str] = Field(description="'<run id>:<node instance>'")


class DagitDagMetadata(ApiModel):
    """``dag_metadata``: the run, or ``[]`` for an unknown id."""

    dag_metadata: list[DagitRunMeta]


class DagitActivation(ApiModel):
    action_name: str
    duration: Number | None = Field(None, description="milliseconds")
    status: str | None = Field(None, description="'success' or the node's status")
    result: Any = None


class DagitRunReply(ApiModel):
    """``{"response": [results], "status": 200}``; ``response`` is a sentence for an
    unknown trigger (no ``status``) or a run that failed (``status`` 400)."""

    response: list[Any] | str
    status: int | None = None


class DagitDagRun(ApiModel):
    dag_id: str = Field(description="the run id")
    result: Any = None


class DagitFunctionReply(RootModel[Any]):
    """The function's reply (its output), any JSON value."""

    model_config = ConfigDict(json_schema_extra=ANY_JSON)


# -- errors -------------------------------------------------------------------------------------


class ErrorPath(ApiModel):
    path: str = Field(description="the JSON path at fault, e.g. dag[2].properties.next")
    message: str


class InvalidBody(ApiModel):
    """A body the platform refused (422): every field at fault, with its JSON path."""

    message: str
    errors: list[ErrorPath]


class ApiError(ApiModel):
    """An error answer. ``detail`` is a sentence; for a refused body (422) the platform's
    ``{message, errors}`` or, for a malformed parameter, FastAPI's list of errors."""

    detail: str | InvalidBody | list[dict[str, Any]]


def error(description: str) -> dict[str, Any]:
    """An entry of a route's ``responses=``: an :class:`ApiError` answer."""
    return {"model": ApiError, "description": description}


def _workflow_spec() -> type[BaseModel]:
    from dagforge.spec.models import WorkflowSpec

    return WorkflowSpec


class Body(NamedTuple):
    """A request body a route reads itself, as the document shows it."""

    model: Any  # a model class, or a function returning one (imported late)
    media: str = "application/json"
    required: bool = True


#: ``(method, path) -> Body`` of the request bodies the routes read themselves (so that
#: the platform's checks, not pydantic, answer a bad body): :func:`install_openapi` puts
#: each model's schema into the document as the operation's request body.
DOCUMENTED_BODIES: dict[tuple[str, str], Body] = {
    ("post", "/register/function"): Body(FunctionRegistration),
    ("post", "/register/dag"): Body(_workflow_spec),  # dagforge.spec.models.WorkflowSpec
    ("post", "/register/trigger"): Body(TriggerRegistration),
    ("post", "/register/schedule"): Body(ScheduleRegistration),
    ("post", "/run/{trigger}"): Body(RunArguments, required=False),
    ("put", "/config/weights"): Body(PriorityWeights),
    ("post", "/register/function/{function_name}"): Body(
        DagitFunctionUpload, media="multipart/form-data"
    ),
    ("get", "/run/{trigger_name}"): Body(RunArguments, required=False),
}


def install_openapi(app: Any, bodies: dict[tuple[str, str], Body] | None = None) -> None:
    """Make ``app.openapi()`` document ``bodies`` (default ``DOCUMENTED_BODIES``) as
    ``$ref`` request bodies, their models' schemas under ``components.schemas``."""
    from pydantic.json_schema import models_json_schema

    bodies = dict(DOCUMENTED_BODIES if bodies is None else bodies)
    generate = app.openapi
    done: list[bool] = []

    def openapi() -> dict[str, Any]:
        doc: dict[str, Any] = generate()  # FastAPI caches it on app.openapi_schema
        if done:
            return doc
        models = {
            key: (b.model if isinstance(b.model, type) else b.model()) for key, b in bodies.items()
        }
        _, top = models_json_schema(
            [
                (m, "validation")
                for m in sorted({*models.values(), ApiError}, key=lambda m: m.__name__)
            ],
            ref_template="#/components/schemas/{model}",
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in top.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        for (method, path), model in models.items():
            operation = doc["paths"].get(path, {}).get(method)
            if operation is None:
                continue
            body = bodies[(method, path)]
            ref = {"$ref": f"#/components/schemas/{model.__name__}"}
            operation["requestBody"] = {
                "required": body.required,
                "content": {body.media: {"schema": ref}},
            }
        from dagforge.server.auth import document_bearer

        document_bearer(app, doc)  # the scheme, declared only: no per-request dependency
        _document_errors(doc)
        done.append(True)
        return doc

    app.openapi = openapi


def _document_errors(doc: dict[str, Any]) -> None:
    """401 on every operation that takes the token; 422 as the platform answers it."""
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    for item in doc["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if operation.get("security"):
                responses.setdefault(
                    "401",
                    {"description": "with --token: no or a wrong token", "content": ref},
                )
            if "422" in responses:
                responses["422"] = {
                    "description": "a refused body or parameter (the JSON path at fault)",
                    "content": ref,
                }
