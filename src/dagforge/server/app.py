"""The HTTP gateway (FastAPI): registration, triggers, runs, config, a dashboard page.

Handlers never block the event loop: registry calls are tiny SQLite statements run in
FastAPI's thread pool (plain ``def`` handlers), runs execute on the platform's
dispatcher threads, and ``?wait=true`` awaits the run's future with ``asyncio``.
Errors map to status codes: unknown names 404, invalid bodies 422 (with the JSON path),
missing/wrong token 401, bodies over the limit 413.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagforge.errors import RegistryError, SpecError, UnknownFunctionError
from dagforge.server.platform import Platform, Settings


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """A FastAPI app over a (started) :class:`Platform`."""
    plat = platform or Platform(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        if not plat._threads:
            plat.start()  # dispatcher threads; resumes journaled runs
        yield
        plat.stop()

    app = FastAPI(title="dagforge platform", version="0.1.0", lifespan=lifespan)
    app.state.platform = plat

    app.add_middleware(BodyLimit, limit=plat.settings.max_body)

    def authorised(authorization: str | None = Header(default=None)) -> None:
        token = plat.settings.token
        if token is None:
            return
        expected = f"Bearer {token}"
        if authorization is None or not secrets.compare_digest(authorization, expected):
            raise HTTPException(
                401,
                "this endpoint needs 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def fail(exc: Exception) -> HTTPException:
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

    for kind, table in (("function", "functions"), ("dag", "dags"), ("trigger", "triggers")):
        register = {
            "function": plat.register_function,
            "dag": plat.register_dag,
            "trigger": plat.register_trigger,
        }[kind]

        def make_post(register=register):
            def post(body: dict[str, Any] = Body(...), _: None = Depends(authorised)) -> Any:
                try:
                    return register(body)
                except (RegistryError, SpecError, UnknownFunctionError) as exc:
                    raise fail(exc) from None

            return post

        def make_list(table=table):
            def listing() -> list[dict[str, Any]]:
                return plat.db.list(table)

            return listing

        def make_get(table=table):
            def get(name: str) -> dict[str, Any]:
                try:
                    return plat.db.get(table, name)
                except RegistryError as exc:
                    raise HTTPException(404, str(exc)) from None

            return get

        def make_delete(table=table):
            def delete(name: str, _: None = Depends(authorised)) -> dict[str, str]:
                try:
                    plat.db.delete(table, name)
                except RegistryError as exc:
                    raise HTTPException(404, str(exc)) from None
                return {"deleted": name}

            return delete

        app.post(
            f"/register/{kind}", status_code=201, tags=["register"], summary=f"Register a {kind}"
        )(make_post())
        app.post(f"/register/{kind}/", status_code=201, include_in_schema=False)(make_post())
        app.get(f"/{table}", tags=["register"])(make_list())
        app.get(f"/{table}/{{name}}", tags=["register"])(make_get())
        app.delete(f"/{table}/{{name}}", tags=["register"])(make_delete())

    # -- runs ------------------------------------------------------------------------------------

    @app.post("/run/{trigger}", status_code=202, tags=["runs"])
    async def run(
        trigger: str,
        arguments: dict[str, Any] | None = Body(default=None),
        wait: bool = Query(False),
        timeout: float = Query(300.0, gt=0, le=3600),
        _: None = Depends(authorised),
    ) -> Any:
        future: Future | None = Future() if wait else None
        try:
            accepted = await asyncio.to_thread(plat.accept, trigger, arguments or {}, future)
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

    @app.post("/run/{trigger}/", include_in_schema=False)
    async def run_slash(
        trigger: str,
        arguments: dict[str, Any] | None = Body(default=None),
        wait: bool = Query(False),
        _: None = Depends(authorised),
    ) -> Any:
        return await run(trigger, arguments, wait, 300.0, None)

    @app.get("/runs", tags=["runs"])
    def runs(limit: int = Query(100, ge=1, le=10000)) -> list[dict[str, Any]]:
        return [_public(r, nodes=False) for r in plat.db.runs(limit)]

    def _run_or_404(run_id: str) -> dict[str, Any]:
        try:
            return plat.db.run(run_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/runs/{run_id}", tags=["runs"])
    def run_status(run_id: str) -> dict[str, Any]:
        """Status, per-node states and timings; while a run is unfinished, ``nodes``
        lists the node instances already completed (journaled) so far."""
        record = _public(_run_or_404(run_id))
        if record["status"] in ("queued", "running"):
            record["nodes"] = {
                inst: {"status": "succeeded", "journaled": True}
                for inst in plat.db.completed_nodes(run_id)
            }
        return record

    @app.get("/runs/{run_id}/outputs", tags=["runs"])
    def run_outputs(run_id: str) -> Any:
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

    @app.get("/runs/{run_id}/profile", tags=["runs"])
    def run_profile(run_id: str) -> Any:
        from dagforge.profiling import Profile

        return Profile.from_result(_result_or_404(run_id)).to_dict()

    @app.get("/runs/{run_id}/trace", tags=["runs"])
    def run_trace(run_id: str) -> Any:
        from dagforge.profiling.trace import build_trace

        return build_trace(_result_or_404(run_id)).to_dict()

    # -- config and a small dashboard -----------------------------------------------------------

    @app.get("/config/weights", tags=["config"])
    def get_weights() -> dict[str, int]:
        return plat.queues.weights

    @app.put("/config/weights", tags=["config"])
    def put_weights(
        weights: dict[str, int] = Body(...), _: None = Depends(authorised)
    ) -> dict[str, int]:
        try:
            plat.queues.set_weights(weights)
        except RegistryError as exc:
            raise HTTPException(422, str(exc)) from None
        return plat.queues.weights

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        rows = "".join(
            f"<tr><td>{r['id'][:12]}</td><td>{r['trigger']}</td><td>{r['priority']}</td>"
            f"<td>{r['status']}</td></tr>"
            for r in plat.db.runs(50)
        )
        queued = plat.queues.sizes()
        return (
            "<!doctype html><title>dagforge</title><h1>dagforge platform</h1>"
            f"<p>queued: {queued}</p><table border=1><tr><th>run</th><th>trigger</th>"
            f"<th>priority</th><th>status</th></tr>{rows}</table>"
        )

    return app


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


def _public(record: dict[str, Any], nodes: bool = True) -> dict[str, Any]:
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
    out["outputs"] = record["outputs"]
    if nodes:
        out["nodes"] = record["nodes"] or {}
    return out
