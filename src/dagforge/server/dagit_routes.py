"""DAGit's control-plane routes with DAGit's response bodies, on the platform.

The routes of DAGit's control plane — ``controlplane/trigger_gateway.py`` of DAGit's
repository (``anubhavjana/DAGit-Serverless-Applications-as-a-Service``) and, for older
scripts, the ``/list/actions`` and ``/run/action|dag/...`` routes of its earlier
``controlplane/control.py`` — that ``dagforge serve`` does not already answer under the
same path and method. Registration (``/register/trigger/``, ``/register/dag/``) and
``POST /run/{trigger}`` are the platform's own routes; ``/`` stays the dashboard.

- ``GET /view/functions``: ``{"status": 200, "DAGit functions": [names]}``
- ``GET /view/triggers``: ``{"trigger": [triggers]}``
- ``GET /view/trigger/{trigger_name}``: ``{"trigger": [{"trigger_name", "type", "dags",
  "functions"}]}``
- ``POST /register/function/{name}`` (multipart files): ``{"message": "success"}`` or
  ``{"message": "fail", "reason": ...}``
- ``GET /view/dags``: ``{"dag": [specs]}``
- ``GET /view/dag/{dag_name}``: ``{"dag_data": {"dag_name", "number_of_nodes",
  "starting_node", <node_id>: {"get_outputs_from", "primitive", "next_function" | the
  two condition branches}}}``
- ``GET /view/{dag_id}``: ``{"dag_metadata": [{"dag_id", "dag_name",
  "function_activation_ids"}]}``
- ``GET|POST /view/activation/{activation_id}``: ``{"action_name", "duration",
  "status", "result"}``
- ``GET /run/{trigger_name}`` (JSON body optional): ``{"response": [{"dag_id",
  "result"}], "status": 200}`` for a DAG trigger, ``{"response": [replies], "status":
  200}`` for a function trigger, ``{"response": "the given trigger is not registered in
  DAGit trigger store"}`` for an unknown one
- ``GET /list/actions``: ``{"list of available actions": [names]}`` (control.py)
- ``GET|POST /run/action/{action_name}/{param_json}``: the function's reply (control.py)
- ``GET|POST /run/dag/{dag_name}/{param_json}``: ``{"dag_id", "result"}`` (control.py)

Runs started here go through the platform like any other (journal, priority classes,
the request log); ``/run/action`` and ``/run/dag`` give each function or DAG a
``bronze`` trigger named ``dagit-action-<name>`` / ``dagit-dag-<name>`` the first time.
A ``dag_id`` is the run id; an activation id is ``<run id>:<node instance>``.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request, UploadFile

from dagforge.errors import DagforgeError, RegistryError
from dagforge.server import api_models as m

__all__ = ["router"]

# every route checks the token itself (app.state.read_auth / write_auth); the document
# declares the bearer scheme on them (auth.document_bearer: they read the header)
router = APIRouter(tags=["dagit"])
_AUTH = Header(default=None, include_in_schema=False)  # the raw header, checked by the app
_TYPED: dict[str, Any] = {"response_model_exclude_unset": True}  # send only what is there

_WAIT = 300.0  # seconds a synchronous DAGit run may take before the answer says "running"
_MAX_FILE = 5 * 1024 * 1024  # bytes per uploaded file


def _plat(request: Request) -> Any:
    return request.app.state.platform


def _write(request: Request, authorization: str | None) -> None:
    request.app.state.write_auth(authorization)


def _read(request: Request, authorization: str | None) -> None:
    request.app.state.read_auth(authorization)


@router.get("/list/actions", response_model=m.DagitActionList, **_TYPED)
def list_actions(request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    names = [f.get("name") for f in _plat(request).db.list("functions")]
    return {"list of available actions": names}


@router.get("/view/functions", response_model=m.DagitFunctionList, **_TYPED)
def view_functions(request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    names = [f.get("name") for f in _plat(request).db.list("functions")]
    return {"status": 200, "DAGit functions": names}


def _trigger_view(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("trigger_name", "type", "dags", "functions")}


@router.get("/view/triggers", response_model=m.DagitTriggers, **_TYPED)
def view_triggers(request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    return {"trigger": _plat(request).db.list("triggers")}


@router.get("/view/trigger/{trigger_name}", response_model=m.DagitTriggerView, **_TYPED)
def view_trigger(trigger_name: str, request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    try:
        record = _plat(request).db.get("triggers", trigger_name)
    except RegistryError:
        return {"trigger": []}
    return {"trigger": [_trigger_view(record)]}


@router.post("/register/function/{function_name}", response_model=m.DagitUploadReply, **_TYPED)
async def register_function(
    function_name: str, request: Request, authorization: str | None = _AUTH
) -> Any:
    """DAGit's upload: the function's files (script, Dockerfile, requirements.txt) as
    multipart parts; dagforge also needs ``url`` (a form field) to call the function."""
    _write(request, authorization)
    plat = _plat(request)
    form = await request.form()
    try:
        files = [
            v for k, v in form.multi_items() if isinstance(v, UploadFile) and k != "description"
        ]
        url = form.get("url")
        ftype = form.get("type") or "cpu"
        if not isinstance(url, str) or not url:
            raise RegistryError(
                f"function {function_name!r}: dagforge calls functions over HTTP; send its URL "
                f"as the form field 'url' (dagforge does not build images)"
            )
        saved = await asyncio.to_thread(_save_files, plat, function_name, files)
        record = {"name": function_name, "kind": "http", "url": url, "type": ftype, "files": saved}
        await asyncio.to_thread(plat.register_function, record)
    except DagforgeError as exc:
        return {"message": "fail", "reason": str(exc)}
    return {"message": "success"}


def _save_files(plat: Any, function_name: str, files: list[Any]) -> list[str]:
    from dagforge.server.k8s import kube_name

    kube_name(function_name)  # a safe directory name too
    destination = Path(plat.settings.data_dir) / "function_modules" / function_name
    destination.mkdir(parents=True, exist_ok=True)
    names = []
    for upload in files[:16]:
        name = Path(upload.filename or "").name
        if not name or name.startswith("."):
            raise RegistryError(f"function {function_name!r}: an uploaded file has no usable name")
        data = upload.file.read(_MAX_FILE + 1)
        if len(data) > _MAX_FILE:
            raise RegistryError(f"function {function_name!r}: {name!r} is over {_MAX_FILE} bytes")
        (destination / name).write_bytes(data)
        names.append(name)
    return names


@router.get("/view/dags", response_model=m.DagitDags, **_TYPED)
def view_dags(request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    return {"dag": _plat(request).db.list("dags")}


@router.get("/view/dag/{dag_name}", response_model=m.DagitDagView, **_TYPED)
def view_dag(dag_name: str, request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    try:
        spec = _plat(request).db.get("dags", dag_name)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from None
    entries = spec.get("dag") or []
    info: dict[str, Any] = {
        "dag_name": spec.get("name"),
        "number_of_nodes": len(entries),
        "starting_node": entries[0]["node_id"] if entries else None,
    }
    for entry in entries:
        props = entry.get("properties") or {}
        node: dict[str, Any] = {}
        outputs_from = props.get("outputs_from") or []
        node["get_outputs_from"] = (
            outputs_from if outputs_from else "Starting action - >No outputs consumed"
        )
        node["primitive"] = props.get("primitive")
        if props.get("primitive") == "condition":
            node["next_node_id_if_condition_true"] = props.get("branch_1")
            node["next_node_id_if_condition_false"] = props.get("branch_2")
        else:
            nxt = props.get("next")
            node["next_function"] = nxt if nxt else "Ending node_id of a path"
        info[entry["node_id"]] = node
    return {"dag_data": info}


def _activation_ids(record: dict[str, Any]) -> list[str]:
    return [f"{record['id']}:{name}" for name in (record.get("nodes") or {})]


# GET and POST as two routes, so each operation has its own OpenAPI operation id
@router.get("/view/activation/{activation_id}", response_model=m.DagitActivation, **_TYPED)
@router.post(
    "/view/activation/{activation_id}",
    response_model=m.DagitActivation,
    operation_id="view_activation_post",
    **_TYPED,
)
def view_activation(activation_id: str, request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    plat = _plat(request)
    run_id, sep, instance = activation_id.partition(":")
    try:
        record = plat.db.run(run_id)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from None
    node = (record.get("nodes") or {}).get(instance) if sep else None
    if node is None:
        raise HTTPException(
            404, f"no activation {activation_id!r}; activation ids are '<run id>:<node>'"
        )
    start, end = node.get("start"), node.get("end")
    duration = round((end - start) * 1000.0, 3) if start is not None and end is not None else None
    held = plat.result(run_id)
    value = None
    if held is not None and instance in held.results:
        value = held.results[instance].value
    status = node.get("status")
    return {
        "action_name": instance.split("#")[0],
        "duration": duration,
        "status": "success" if status == "succeeded" else status,
        "result": value,
    }


def _run_sync(plat: Any, trigger: str, target_type: str, target: str, args: Any) -> Any:
    try:
        plat.db.get("triggers", trigger)
    except RegistryError:
        plat.register_trigger(
            {
                "trigger_name": trigger,
                "type": target_type,
                "priority": "bronze",
                "dags": [target] if target_type == "dag" else "",
                "functions": [target] if target_type == "function" else "",
            }
        )
    return _wait_run(plat, trigger, args)


def _json_object(plat: Any, raw: str | bytes, where: str, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object, bounded like every other body (depth, NaN); 422 if not."""
    from dagforge.server.guards import BadInput, check_json

    try:
        value = json.loads(raw)
    except RecursionError:
        limit = plat.settings.max_depth
        raise HTTPException(422, f"{where}: JSON nested deeper than {limit} levels") from None
    except ValueError as exc:
        raise HTTPException(422, f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HTTPException(422, f"{what} must be a JSON object")
    try:
        check_json(value, where, plat.settings.max_depth)
    except BadInput as exc:
        raise HTTPException(422, str(exc)) from None
    return value


def _last_output(record: dict[str, Any]) -> Any:
    outputs = record.get("outputs")
    if isinstance(outputs, dict) and len(outputs) == 1:
        return next(iter(outputs.values()))
    return outputs


async def _run_named(
    request: Request, authorization: str | None, kind: str, name: str, param_json: str
) -> Any:
    """``/run/action`` (``kind`` "function") and ``/run/dag`` (``kind`` "dag"): the run's
    record, through a ``dagit-action-<name>`` / ``dagit-dag-<name>`` trigger."""
    _write(request, authorization)
    plat = _plat(request)
    params = _json_object(plat, param_json, "param_json", "param_json")
    trigger = f"dagit-{'action' if kind == 'function' else 'dag'}-{name}"
    try:
        plat.db.get(f"{kind}s", name)
        return await asyncio.to_thread(_run_sync, plat, trigger, kind, name, params)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/run/action/{action_name}/{param_json:path}", response_model=m.DagitFunctionReply)
@router.post(
    "/run/action/{action_name}/{param_json:path}",
    response_model=m.DagitFunctionReply,
    operation_id="run_action_post",
)
async def run_action(
    action_name: str,
    param_json: str,
    request: Request,
    authorization: str | None = _AUTH,
) -> Any:
    record = await _run_named(request, authorization, "function", action_name, param_json)
    if record.get("status") != "succeeded":
        raise HTTPException(
            502, f"function {action_name!r} {record.get('status')}: {record.get('error')}"
        )
    return _last_output(record)


@router.get("/run/dag/{dag_name}/{param_json:path}", response_model=m.DagitDagRun, **_TYPED)
@router.post(
    "/run/dag/{dag_name}/{param_json:path}",
    response_model=m.DagitDagRun,
    operation_id="run_dag_post",
    **_TYPED,
)
async def run_dag(
    dag_name: str,
    param_json: str,
    request: Request,
    authorization: str | None = _AUTH,
) -> Any:
    record = await _run_named(request, authorization, "dag", dag_name, param_json)
    return {"dag_id": record["id"], "result": _last_output(record)}


@router.get("/run/{trigger_name}", response_model=m.DagitRunReply, **_TYPED)
async def run_trigger(
    trigger_name: str,
    request: Request,
    authorization: str | None = _AUTH,
) -> Any:
    """DAGit's synchronous ``/run/<trigger>`` (``POST`` is the platform's: 202 + run id)."""
    _write(request, authorization)
    plat = _plat(request)
    raw = await request.body()
    args = _json_object(plat, raw, "body", "the body") if raw.strip() else {}
    try:
        trigger = plat.db.get("triggers", trigger_name)
    except RegistryError:
        return {"response": "the given trigger is not registered in DAGit trigger store"}
    record = await asyncio.to_thread(_wait_run, plat, trigger_name, args)
    if record.get("status") != "succeeded":
        return {"response": "Workflow did not execute completely", "status": 400}
    if trigger["type"] == "dag":
        return {
            "response": [{"dag_id": record["id"], "result": _last_output(record)}],
            "status": 200,
        }
    return {"response": [_last_output(record)], "status": 200}


def _wait_run(plat: Any, trigger: str, args: dict[str, Any]) -> Any:
    future: Future = Future()
    accepted = plat.accept(trigger, args, future)
    try:
        return future.result(timeout=_WAIT)
    except TimeoutError:
        plat.unsubscribe(accepted["run_id"], future)
        return {**plat.db.run(accepted["run_id"]), "status": "running"}


# Last: DAGit's catch-all ``/view/<dag_id>`` must not shadow the routes above.
@router.get("/view/{dag_id}", response_model=m.DagitDagMetadata, **_TYPED)
def view_dag_metadata(dag_id: str, request: Request, authorization: str | None = _AUTH) -> Any:
    _read(request, authorization)
    try:
        record = _plat(request).db.run(dag_id)
    except RegistryError:
        return {"dag_metadata": []}
    meta = {
        "dag_id": record["id"],
        "dag_name": record.get("dag"),
        "function_activation_ids": _activation_ids(record),
    }
    return {"dag_metadata": [meta]}
