"""The HTTP gateway (FastAPI): registration, triggers, runs, config, a dashboard page.

Handlers never block the event loop: registry calls are tiny SQLite statements run in
FastAPI's thread pool (plain ``def`` handlers), runs execute on the platform's
dispatcher threads, and ``?wait=true`` awaits the run's future with ``asyncio``.
Errors map to status codes: unknown names 404, invalid bodies 422 (with the JSON path),
missing/wrong token 401, bodies over the limit 413, a full priority queue 429 and a
journal that cannot be written 503 (both with ``Retry-After``).

With ``--token`` every mutating route needs it, and so does every read (runs, outputs,
traces, profiles, registries, the dashboard) unless ``--public-reads``. Routes added by
other modules use ``app.state.read_auth`` / ``app.state.write_auth`` as dependencies.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import (
    Body,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
)
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagforge.errors import RegistryError, SpecError, StorageFault, UnknownFunctionError
from dagforge.server import api_models as m
from dagforge.server.dispatch import QueueFull
from dagforge.server.guards import BadInput
from dagforge.server.paging import (
    MAX_CURSOR,
    BadCursor,
    cursor_for,
    link_next,
    name_from_cursor,
)
from dagforge.server.platform import Platform, RunFinished, RunNotRetryable, Settings

_PAGE = """<!doctype html><title>dagforge</title><h1>dagforge platform</h1>
<p><a href="/ui">Open the dashboard</a> · <a href="/docs">API</a></p>
<p>queued: {% for cls, n in queued.items() %}{{ cls }} {{ n }}
{%- if not loop.last %}, {% endif %}{% endfor %}</p>
<table border=1><tr><th>run</th><th>trigger</th><th>priority</th><th>status</th></tr>
{% for r in runs %}<tr><td><a href="/ui/runs/{{ r.id }}">{{ r.id[:12] }}</a></td>
<td>{{ r.trigger }}</td>
<td>{{ r.priority }}</td><td>{{ r.status }}</td></tr>
{% endfor %}</table>"""


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """A FastAPI app over a (started) :class:`Platform`."""
    plat = platform or Platform(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        if not plat._threads:
            plat.start()  # dispatcher threads; resumes journaled runs
        yield
        plat.stop()

    # answers are written by pydantic-core from their models (FastAPI's fast path), as the
    # routes' plain dicts were before they had models: the same bytes (e.g. 4.1e-05 is
    # written 0.000041, as before); only the JSONResponse answers go through json.dumps
    app = FastAPI(title="dagforge platform", version="0.1.0", lifespan=lifespan)
    app.state.platform = plat

    app.add_middleware(BodyLimit, limit=plat.settings.max_body)
    expected = f"Bearer {plat.settings.token}".encode() if plat.settings.token else None

    def authorised(
        authorization: str | None = Header(default=None, include_in_schema=False),
    ) -> None:
        if expected is None:
            return
        # compare the header's raw bytes (ASGI decodes it as latin-1): any header that is
        # not the token, non-ASCII included, is a 401, never a 500
        given = authorization.encode("latin-1", "replace") if authorization else b""
        if not secrets.compare_digest(given, expected):
            raise HTTPException(
                401,
                "this endpoint needs 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def may_read(
        authorization: str | None = Header(default=None, include_in_schema=False),
    ) -> None:
        if not plat.settings.public_reads:
            authorised(authorization)

    # the routes below take the check as an async dependency: it is a few microseconds
    # of CPU, and a plain ``def`` dependency would cost a thread-pool hop per request
    async def write_token(
        authorization: str | None = Header(default=None, include_in_schema=False),
    ) -> None:
        authorised(authorization)

    async def read_token(
        authorization: str | None = Header(default=None, include_in_schema=False),
    ) -> None:
        if not plat.settings.public_reads:
            authorised(authorization)

    app.state.write_auth = authorised  # called directly (DAGit routes) or as dependencies
    app.state.read_auth = may_read

    @app.exception_handler(StorageFault)
    async def storage_fault(_request: Request, exc: StorageFault) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the platform's journal is unavailable, nothing was changed: {exc}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def parse_errors(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            limit = plat.settings.max_depth
            return JSONResponse(
                {
                    "detail": {
                        "message": f"body: JSON nested deeper than {limit} levels",
                        "errors": [{"path": "body", "message": f"nested deeper than {limit}"}],
                    }
                },
                status_code=422,
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(QueueFull)
    async def queue_full(_request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "1"})

    def fail(exc: Exception) -> HTTPException:
        if isinstance(exc, BadInput):
            return HTTPException(
                422, {"message": str(exc), "errors": [{"path": exc.path, "message": str(exc)}]}
            )
        if isinstance(exc, SpecError):
            return HTTPException(
                422,
                {"message": str(exc), "errors": [{"path": p, "message": m} for p, m in exc.errors]},
            )
        if isinstance(exc, UnknownFunctionError):
            return HTTPException(422, str(exc))
        if isinstance(exc, RegistryError) and ("no " in str(exc)[:4]):
            return HTTPException(404, str(exc))
        return HTTPException(422, str(exc))

    # -- registration (DAGit's bodies, verbatim; trailing slashes too) ------------------------

    page_size = min(100, plat.settings.max_list)  # listings' default page (--max-list caps)

    records: dict[str, Any] = {
        "functions": m.FunctionRecord,
        "dags": m.DagRecord,
        "triggers": m.TriggerRecord,
    }
    typed: dict[str, Any] = {"response_model_exclude_unset": True}  # send what is there
    for kind, table in (("function", "functions"), ("dag", "dags"), ("trigger", "triggers")):
        register = {
            "function": plat.register_function,
            "dag": plat.register_dag,
            "trigger": plat.register_trigger,
        }[kind]

        def make_post(register=register):
            def post(body: dict[str, Any] = Body(...), _: None = Depends(write_token)) -> Any:
                try:
                    return register(body)
                except (RegistryError, SpecError, UnknownFunctionError) as exc:
                    raise fail(exc) from None

            return post

        def make_list(table=table):
            def listing(
                response: Response,
                limit: int = Query(page_size, ge=1, le=plat.settings.max_list),
                cursor: str | None = Query(None, max_length=MAX_CURSOR),
                _: None = Depends(read_token),
            ) -> Any:
                """Registered bodies by name, one page at a time; when more follow, the
                ``X-Next-Cursor`` header (and a ``Link: rel="next"``) names the
                ``cursor`` of the next page."""
                try:
                    after = None if cursor is None else name_from_cursor(cursor)
                except BadCursor as exc:
                    raise HTTPException(422, str(exc)) from None
                page = plat.registry_page(table, limit, after)
                if len(page) == limit:
                    key = "trigger_name" if table == "triggers" else "name"
                    link_next(response.headers, f"/{table}", limit, cursor_for(page[-1][key]))
                return page

            return listing

        def make_get(table=table):
            def get(name: str, _: None = Depends(read_token)) -> Any:
                try:
                    return plat.db.get(table, name)
                except RegistryError as exc:
                    raise HTTPException(404, str(exc)) from None

            return get

        def make_delete(table=table):
            def delete(name: str, _: None = Depends(write_token)) -> m.Deleted:
                try:
                    plat.db.delete(table, name)
                except RegistryError as exc:
                    raise HTTPException(404, str(exc)) from None
                return m.Deleted(deleted=name)

            return delete

        record = records[table]
        app.post(
            f"/register/{kind}",
            status_code=201,
            tags=["register"],
            summary=f"Register a {kind}",
            response_model=record,
            **typed,
        )(make_post())
        app.post(
            f"/register/{kind}/",
            status_code=201,
            include_in_schema=False,
            response_model=record,
            **typed,
        )(make_post())
        listed: Any = list[record]  # type: ignore[valid-type]  # a model picked per registry
        app.get(f"/{table}", tags=["register"], response_model=listed, **typed)(make_list())
        unknown: Any = {404: m.error(f"no {kind} of that name")}
        app.get(
            f"/{table}/{{name}}",
            tags=["register"],
            response_model=record,
            responses=unknown,
            **typed,
        )(make_get())
        app.delete(
            f"/{table}/{{name}}",
            tags=["register"],
            response_model=m.Deleted,
            responses=unknown,
            **typed,
        )(make_delete())

    from dagforge.server.schedules import install as install_schedules

    install_schedules(app, plat, authorised, fail)  # /register/schedule, /schedules

    # -- runs ------------------------------------------------------------------------------------

    waited: Any = {
        200: {"model": m.RunDetail, "description": "?wait=true: the finished run"},
        404: m.error("no trigger of that name"),
        429: m.error("the trigger's priority class is full (Retry-After)"),
        503: m.error("the journal cannot be written; nothing was accepted (Retry-After)"),
    }

    @app.post(
        "/run/{trigger}",
        status_code=202,
        tags=["runs"],
        response_model=m.RunAccepted,
        responses=waited,
        **typed,
    )
    async def run(
        trigger: str,
        arguments: dict[str, Any] | None = Body(default=None),
        wait: bool = Query(False),
        timeout: float = Query(300.0, gt=0, le=3600),
        _: None = Depends(write_token),
    ) -> Any:
        future: Future | None = Future() if wait else None
        try:
            accepted = await asyncio.to_thread(plat.accept, trigger, arguments or {}, future)
        except QueueFull:
            raise
        except BadInput as exc:
            raise fail(exc) from None
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        if future is None:
            return accepted
        run_id = accepted["run_id"]
        try:
            done = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            plat.unsubscribe(run_id, future)
            return JSONResponse(
                {**accepted, "status": "running", "detail": f"still running after {timeout}s"},
                status_code=202,
            )
        finally:
            if not future.done():  # the client went away: forget this waiter
                plat.unsubscribe(run_id, future)
        return JSONResponse(_public(done), status_code=200)

    _install_fast_run(app, run, expected)

    @app.post("/run/{trigger}/", status_code=202, include_in_schema=False, **typed)
    async def run_slash(
        trigger: str,
        arguments: dict[str, Any] | None = Body(default=None),
        wait: bool = Query(False),
        timeout: float = Query(300.0, gt=0, le=3600),
        authorization: str | None = Header(default=None),
    ) -> Any:
        authorised(authorization)
        return await run(trigger, arguments, wait, timeout, None)

    no_run = m.error("no run with that id")

    @app.post(
        "/runs/{run_id}/cancel",
        tags=["runs"],
        response_model=m.RunDetail,
        responses={404: no_run, 409: m.error("the run has already finished")},
        **typed,
    )
    def cancel(run_id: str, _: None = Depends(write_token)) -> Any:
        """Cancel a queued or running run: nothing new starts, it ends ``cancelled``."""
        try:
            return _public(plat.cancel(run_id), outputs=False)
        except RunFinished as exc:
            raise HTTPException(409, str(exc)) from None
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post(
        "/runs/{run_id}/retry",
        status_code=202,
        tags=["runs"],
        response_model=m.RetryAccepted,
        responses={
            404: no_run,
            409: m.error("the run is queued, running or succeeded"),
            429: m.error("its priority class is full (Retry-After)"),
        },
        **typed,
    )
    def retry(run_id: str, _: None = Depends(write_token)) -> Any:
        """Redrive a failed or cancelled run from where it stopped: the same run id, a
        new attempt; completed nodes are restored from the journal, not run again.
        409 for a queued, running or succeeded run; 429 when its class is full."""
        try:
            return plat.retry(run_id)
        except QueueFull:
            raise
        except RunNotRetryable as exc:
            raise HTTPException(409, str(exc)) from None
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/runs", tags=["runs"], response_model=list[m.RunSummary], **typed)
    def runs(
        response: Response,
        limit: int = Query(page_size, ge=1, le=plat.settings.max_list),
        cursor: str | None = Query(None, max_length=200),
        _: None = Depends(read_token),
    ) -> Any:
        """Run summaries, newest first (no arguments, outputs or nodes). When more runs
        follow, the ``X-Next-Cursor`` header (and a ``Link: rel="next"``) names the
        ``cursor`` of the next page."""
        before = None
        if cursor is not None:
            accepted, sep, last_id = cursor.partition("_")
            try:
                before = (float(accepted), last_id)
            except ValueError:
                before = None
            if not sep or before is None or before[0] != before[0]:
                raise HTTPException(422, f"cursor {cursor!r} is not one this server handed out")
        page = plat.db.run_summaries(limit, before)
        if len(page) == limit:
            last = page[-1]
            nxt = f"{last['accepted']!r}_{last['id']}"
            link_next(response.headers, "/runs", limit, nxt)
        for r in page:
            r["run_id"] = r["id"]
        return page

    def _run_or_404(run_id: str) -> dict[str, Any]:
        try:
            return plat.db.run(run_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get(
        "/runs/{run_id}",
        tags=["runs"],
        response_model=m.RunDetail,
        responses={404: no_run},
        **typed,
    )
    def run_status(run_id: str, _: None = Depends(read_token)) -> Any:
        """Status, per-node states and timings (outputs: ``/runs/{id}/outputs``); while a
        run is unfinished, ``nodes`` lists the node instances completed so far.
        ``attempt`` counts retries (1 for a run never retried); ``history`` holds the
        attempts that ended before a retry (status, times, error, node states)."""
        record = _public(_run_or_404(run_id), outputs=False)
        history = plat.history(run_id)
        record["attempt"] = len(history) + 1
        record["history"] = history
        if record["status"] in ("queued", "running"):
            record["nodes"] = {
                inst: {"status": "succeeded", "journaled": True}
                for inst in plat.db.completed_nodes(run_id)
            }
        return record

    @app.get(
        "/runs/{run_id}/outputs",
        tags=["runs"],
        response_model=m.RunOutputs,
        responses={404: no_run, 409: m.error("the run has not finished yet")},
    )
    def run_outputs(run_id: str, _: None = Depends(read_token)) -> Any:
        record = _run_or_404(run_id)
        if record["status"] in ("queued", "running"):
            raise HTTPException(
                409, f"run {run_id!r} is {record['status']}; outputs come when it finishes"
            )
        return record["outputs"]

    def _result_or_404(run_id: str) -> Any:
        _run_or_404(run_id)
        result = plat.result(run_id)
        if result is None:
            raise HTTPException(
                404,
                f"run {run_id!r} has no in-memory result (not finished "
                "yet, or finished before this server started)",
            )
        return result

    held: Any = {404: m.error("no such run, or its result is no longer held in memory")}

    @app.get(
        "/runs/{run_id}/profile",
        tags=["runs"],
        response_model=m.ProfileDocument,
        responses=held,
        **typed,
    )
    def run_profile(run_id: str, _: None = Depends(read_token)) -> Any:
        from dagforge.profiling import Profile

        return Profile.from_result(_result_or_404(run_id)).to_dict()

    @app.get(
        "/runs/{run_id}/trace",
        tags=["runs"],
        response_model=m.TraceDocument,
        responses=held,
        **typed,
    )
    def run_trace(run_id: str, _: None = Depends(read_token)) -> Any:
        from dagforge.profiling.trace import build_trace

        return build_trace(_result_or_404(run_id)).to_dict()

    # -- config and a small dashboard -----------------------------------------------------------

    @app.get("/config/weights", tags=["config"], response_model=m.PriorityWeights)
    def get_weights(_: None = Depends(read_token)) -> Any:
        return plat.queues.weights

    @app.put("/config/weights", tags=["config"], response_model=m.PriorityWeights)
    def put_weights(weights: dict[str, Any] = Body(...), _: None = Depends(write_token)) -> Any:
        """Weights are integers from 1 to 1000 (``"3"``, ``true`` or ``10**30`` are refused)."""
        try:
            plat.queues.set_weights(weights)
        except RegistryError as exc:
            raise HTTPException(422, str(exc)) from None
        return plat.queues.weights

    from jinja2 import Environment

    page = Environment(autoescape=True).from_string(_PAGE)  # every value HTML-escaped

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(_: None = Depends(read_token)) -> str:
        return page.render(runs=plat.db.run_summaries(50), queued=plat.queues.sizes())

    from dagforge.server.observability import install

    install(app, plat)  # /health, /ready, /metrics, node logs, access log (issue 15)
    from dagforge.server.ui import install_ui

    install_ui(app, plat)  # the dashboard at /ui, offline /docs and /redoc (issue 15)
    from dagforge.server.dagit_routes import router as dagit_router

    app.include_router(dagit_router)  # DAGit's control-plane routes and bodies (issue 12)
    m.install_openapi(app)  # the request bodies the routes read themselves, as models
    return app


# -- the fast path of POST /run/{trigger}?wait=true ----------------------------------------------

# the query strings the fast path reads itself: ?wait=true, alone or with a plain decimal
# ?timeout (no sign, exponent or underscore: what float() and pydantic read alike)
_WAIT_QUERY = re.compile(
    rb"wait=(?:true|1)(?:&timeout=([0-9]{1,4}(?:\.[0-9]{1,6})?))?"
    rb"|timeout=([0-9]{1,4}(?:\.[0-9]{1,6})?)&wait=(?:true|1)"
)


def _fast_query(query: bytes) -> float | None:
    """``timeout`` of a plain ``?wait=true[&timeout=N]`` query (``None``: not one of those)."""
    match = _WAIT_QUERY.fullmatch(query)
    if match is None:
        return None
    given = match.group(1) or match.group(2)
    if given is None:
        return 300.0
    timeout = float(given)
    return timeout if 0 < timeout <= 3600 else None


def _telemetry_probe() -> Any:
    """FastAPI's request-telemetry lookup where this FastAPI has one (else ``None``)."""
    try:
        from fastapi.telemetry._api import get_telemetry_data
    except ImportError:
        return None
    return get_telemetry_data


def _install_fast_run(app: FastAPI, run: Any, expected: bytes | None) -> None:
    """Serve the common trigger request, ``POST /run/{trigger}?wait=true`` with a JSON
    object (or no body), without FastAPI's per-request parameter machinery.

    FastAPI's handler costs ~0.15 ms of the event loop per request (the body's
    content-type parsed with ``email.message``, query and header parameters validated
    one by one, the token as a sub-dependency); this reads the same few facts straight
    from the ASGI scope and calls the same endpoint. It takes only requests whose
    answer is certain to be the handler's: any other query, content type, body or a
    token that does not match goes to FastAPI's handler unchanged, with the body
    messages replayed (so a 401, 422 or 400 is FastAPI's own, byte for byte). Errors
    the endpoint raises (404, 422, 429, 503) reach the app's exception handlers as
    before.
    """
    from fastapi.routing import APIRoute

    route = next(r for r in app.router.routes if isinstance(r, APIRoute) and r.endpoint is run)
    standard: ASGIApp = route.app
    telemetry = _telemetry_probe()

    async def fast(scope: Scope, receive: Receive, send: Send) -> None:
        timeout = _fast_query(scope.get("query_string", b""))
        if timeout is None or app.dependency_overrides or (telemetry and telemetry()):
            await standard(scope, receive, send)
            return
        authorization = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value  # the first one, as FastAPI's Header() reads it
            elif name == b"content-type" and content_type is None:
                content_type = value
        messages: list[Message] = []
        chunks: list[bytes] = []
        regular = True
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                regular = False  # a disconnect: FastAPI's handler answers it
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        arguments: Any = None
        if regular and expected is not None:
            regular = secrets.compare_digest(authorization or b"", expected)
        if regular:
            body = b"".join(chunks)
            if body:
                if content_type != b"application/json":
                    regular = False
                else:
                    try:
                        arguments = json.loads(body)
                    except Exception:  # FastAPI's handler says what was wrong
                        regular = False
                    else:
                        regular = arguments is None or type(arguments) is dict
        if not regular:

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            await standard(scope, replay, send)
            return
        response = await run(scope["path_params"]["trigger"], arguments, True, timeout, None)
        await response(scope, receive, send)

    fast.__wrapped__ = standard  # type: ignore[attr-defined]  # FastAPI's handler (tests)
    route.app = fast


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    chunked body is read up to the limit and refused as soon as it goes over (so memory
    stays bounded), otherwise it is replayed to the app. Pure ASGI (no per-request
    task like ``BaseHTTPMiddleware``), so it costs next to nothing on the hot path.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
                break
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


def _public(record: dict[str, Any], nodes: bool = True, outputs: bool = True) -> dict[str, Any]:
    out = {
        k: record[k]
        for k in (
            "id",
            "trigger",
            "dag",
            "priority",
            "status",
            "accepted",
            "started",
            "finished",
            "error",
        )
    }
    out["run_id"] = record["id"]
    if record.get("schedule"):
        out["schedule"] = record["schedule"]  # fired by this schedule (issue 16)
    if outputs:
        out["outputs"] = record["outputs"]
    if nodes:
        out["nodes"] = record["nodes"] or {}
    return out
