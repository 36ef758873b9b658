"""``dagforge.Client``: the platform's HTTP API from Python (DAGit's ``Functions`` and more).

Results are typed: each method returns the pydantic model of the body the server sent
(``dagforge.server.api_models``, the same classes the OpenAPI document shows), e.g.
``client.run(rid).status`` and ``client.runs_page().next_cursor``. They also read like
the JSON objects they are — ``run["status"]``, ``"error" in run``, ``run.get(...)``,
``dict(run)``, ``run == {...}`` — and ``to_dict()`` gives the JSON itself.

Every method raises :class:`~dagforge.errors.ClientError` carrying the HTTP status when
the server answers with an error, and names the URL when it cannot be reached.
"""

from __future__ import annotations

import time
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote

from dagforge.errors import ClientError
from dagforge.server.api_models import (
    ApiModel,
    DagRecord,
    Deleted,
    FunctionRecord,
    NodeLogs,
    Page,
    ProfileDocument,
    RetryAccepted,
    RunAccepted,
    RunDetail,
    RunSummary,
    Schedule,
    TraceDocument,
    TriggerRecord,
)

__all__ = ["Client", "Page"]

_FINISHED = ("succeeded", "failed", "cancelled")
M = TypeVar("M", bound=ApiModel)


def _seg(name: str) -> str:
    """One URL path segment (registry names and run ids may hold spaces, '#', '?')."""
    return quote(str(name), safe="")


class Client:
    """``Client("http://127.0.0.1:5001", token=None)``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            reply = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the dagforge platform at {self.url}: {exc}") from exc
        if reply.status_code >= 400:
            self._raise(reply, method, path)
        return reply

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a successful answer (untyped)."""
        return self._request(method, path, **kwargs).json()

    def _typed(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return _parse(model, self._call(method, path, **kwargs), f"{method} {path}")

    @staticmethod
    def _raise(reply: Any, method: str, path: str) -> None:
        try:
            body = reply.json()
        except ValueError:
            body = reply.text
        detail = body.get("detail", body) if isinstance(body, dict) else body
        error = ClientError(
            f"{method} {path} -> {reply.status_code}: {detail}", status_code=reply.status_code
        )
        error.detail = detail  # e.g. a spec's errors, each with its JSON path
        error.retry_after = reply.headers.get("retry-after")  # 429 and 503
        raise error

    def _page(self, model: type[M], path: str, limit: int | None, cursor: str | None) -> Page[M]:
        params: dict[str, Any] = {} if limit is None else {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        reply = self._request("GET", path, params=params)
        items = _parse_list(model, reply.json(), f"GET {path}")
        return Page(items, reply.headers.get("x-next-cursor"))

    def _all(self, model: type[M], path: str) -> list[M]:
        items, cursor = self._page(model, path, None, None)  # the server's page size
        seen = {cursor}
        while cursor is not None:
            page, cursor = self._page(model, path, None, cursor)
            items.extend(page)
            if cursor in seen:  # a server handing out the same cursor twice: stop
                raise ClientError(f"GET {path}: the server repeated the cursor {cursor!r}")
            seen.add(cursor)
        return items

    @overload
    def registry_page(
        self, kind: Literal["functions"], limit: int = ..., cursor: str | None = ...
    ) -> Page[FunctionRecord]: ...

    @overload
    def registry_page(
        self, kind: Literal["dags"], limit: int = ..., cursor: str | None = ...
    ) -> Page[DagRecord]: ...

    @overload
    def registry_page(
        self, kind: Literal["triggers"], limit: int = ..., cursor: str | None = ...
    ) -> Page[TriggerRecord]: ...

    @overload
    def registry_page(self, kind: str, limit: int = ..., cursor: str | None = ...) -> Page[Any]: ...

    def registry_page(self, kind: str, limit: int = 100, cursor: str | None = None) -> Page[Any]:
        """One page of ``kind`` (``functions``, ``dags`` or ``triggers``) by name, and the
        cursor of the next page (``None`` on the last one): ``items, next_cursor``."""
        model = _REGISTRIES.get(kind)
        if model is None:
            raise ClientError(f"kind must be 'functions', 'dags' or 'triggers', got {kind!r}")
        return self._page(model, f"/{kind}", limit, cursor)

    # -- functions (DAGit's Functions class) ---------------------------------------------

    def register_function(
        self,
        name: str | dict[str, Any],
        *,
        path: str | None = None,
        url: str | None = None,
        type: str = "cpu",
        **extra: Any,
    ) -> FunctionRecord:
        """Register a Python function by import path, or an HTTP one by URL.

        ``name`` may also be a whole registration body (a dict), sent verbatim.
        """
        if isinstance(name, dict):
            return self._typed(FunctionRecord, "POST", "/register/function", json=name)
        body = {"name": name, "kind": "http" if url else "python", "type": type, **extra}
        if url:
            body["url"] = url
        else:
            body["path"] = path
        return self._typed(FunctionRecord, "POST", "/register/function", json=body)

    def list_functions(self) -> list[FunctionRecord]:
        """Every registered function, by name (all pages of ``GET /functions``)."""
        return self._all(FunctionRecord, "/functions")

    def get_function(self, name: str) -> FunctionRecord:
        return self._typed(FunctionRecord, "GET", f"/functions/{_seg(name)}")

    def delete_function(self, name: str) -> Deleted:
        return self._typed(Deleted, "DELETE", f"/functions/{_seg(name)}")

    # -- DAG specs ----------------------------------------------------------------------------

    def register_dag(self, spec: dict[str, Any]) -> DagRecord:
        return self._typed(DagRecord, "POST", "/register/dag", json=spec)

    def list_dags(self) -> list[DagRecord]:
        """Every registered dag, by name (all pages of ``GET /dags``)."""
        return self._all(DagRecord, "/dags")

    def get_dag(self, name: str) -> DagRecord:
        return self._typed(DagRecord, "GET", f"/dags/{_seg(name)}")

    def delete_dag(self, name: str) -> Deleted:
        return self._typed(Deleted, "DELETE", f"/dags/{_seg(name)}")

    # -- triggers -----------------------------------------------------------------------------

    def register_trigger(self, trigger: dict[str, Any]) -> TriggerRecord:
        return self._typed(TriggerRecord, "POST", "/register/trigger", json=trigger)

    def list_triggers(self) -> list[TriggerRecord]:
        """Every registered trigger, by name (all pages of ``GET /triggers``)."""
        return self._all(TriggerRecord, "/triggers")

    def get_trigger(self, name: str) -> TriggerRecord:
        return self._typed(TriggerRecord, "GET", f"/triggers/{_seg(name)}")

    def delete_trigger(self, name: str) -> Deleted:
        return self._typed(Deleted, "DELETE", f"/triggers/{_seg(name)}")

    # -- schedules ----------------------------------------------------------------------------

    def register_schedule(self, schedule: dict[str, Any]) -> Schedule:
        """Register (or replace) a schedule: ``{name, trigger, cron, arguments, timezone,
        catchup, max_active}``."""
        return self._typed(Schedule, "POST", "/register/schedule", json=schedule)

    def list_schedules(self) -> list[Schedule]:
        """Every registered schedule, by name (all pages of ``GET /schedules``)."""
        return self._all(Schedule, "/schedules")

    def schedules_page(self, limit: int = 100, cursor: str | None = None) -> Page[Schedule]:
        """One page of schedules by name, and the cursor of the next page (``None`` on
        the last one): ``items, next_cursor``."""
        return self._page(Schedule, "/schedules", limit, cursor)

    def get_schedule(self, name: str) -> Schedule:
        return self._typed(Schedule, "GET", f"/schedules/{_seg(name)}")

    def delete_schedule(self, name: str) -> Deleted:
        return self._typed(Deleted, "DELETE", f"/schedules/{_seg(name)}")

    # -- runs ---------------------------------------------------------------------------------

    @overload
    def trigger(
        self,
        name: str,
        arguments: dict[str, Any] | None = ...,
        *,
        wait: Literal[False] = ...,
        timeout: float = ...,
    ) -> RunAccepted: ...

    @overload
    def trigger(
        self,
        name: str,
        arguments: dict[str, Any] | None = ...,
        *,
        wait: bool,
        timeout: float = ...,
    ) -> RunDetail | RunAccepted: ...

    def trigger(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = 300.0,
    ) -> RunDetail | RunAccepted:
        """Run trigger ``name``: the accepted run (a :class:`RunAccepted`, ``run_id``) or,
        with ``wait=True``, the finished run (a :class:`RunDetail`: status, nodes,
        outputs). A wait longer than ``timeout`` answers with the still-running run (a
        ``RunAccepted`` whose status is ``running``); poll it with :meth:`wait`."""
        path = f"/run/{_seg(name)}"
        if not wait:
            return self._typed(RunAccepted, "POST", path, json=arguments or {})
        reply = self._request(
            "POST",
            path,
            json=arguments or {},
            params={"wait": "true", "timeout": timeout},
            timeout=timeout + 30.0,  # the server answers by then at the latest
        )
        model: type[RunDetail | RunAccepted] = (
            RunDetail if reply.status_code == 200 else RunAccepted
        )
        return _parse(model, reply.json(), f"POST {path}")

    def wait(self, run_id: str, timeout: float = 300.0, poll: float = 0.05) -> RunDetail:
        """Poll a run until it finishes and return it with its ``outputs``;
        ``ClientError`` (status 408) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.run(run_id)
            if record.status in _FINISHED:
                record.outputs = self.outputs(run_id)
                return record
            if time.monotonic() >= deadline:
                raise ClientError(
                    f"run {run_id!r} is still {record.status} after {timeout}s",
                    status_code=408,
                )
            time.sleep(poll)

    def run(self, run_id: str) -> RunDetail:
        """A run's status, per-node states, ``attempt`` and ``history`` (no outputs)."""
        return self._typed(RunDetail, "GET", f"/runs/{_seg(run_id)}")

    def runs(self, limit: int = 100) -> list[RunSummary]:
        """The newest ``limit`` run summaries (no outputs; see :meth:`outputs`)."""
        return self.runs_page(limit).items

    def runs_page(self, limit: int = 100, cursor: str | None = None) -> Page[RunSummary]:
        """One page of run summaries, newest first, and the cursor of the next page
        (``None`` on the last one): ``items, next_cursor``."""
        return self._page(RunSummary, "/runs", limit, cursor)

    def cancel(self, run_id: str) -> RunDetail:
        """Cancel a queued or running run (409 ``ClientError`` if it already finished)."""
        return self._typed(RunDetail, "POST", f"/runs/{_seg(run_id)}/cancel")

    def retry(self, run_id: str) -> RetryAccepted:
        """Redrive a failed or cancelled run from where it stopped, as a new attempt of
        the same run (``attempt``, ``reused_nodes``); 409 ``ClientError`` for a run that
        is queued, running or succeeded. Follow it with :meth:`wait`."""
        return self._typed(RetryAccepted, "POST", f"/runs/{_seg(run_id)}/retry")

    def node_logs(self, run_id: str, node: str) -> NodeLogs:
        """A node's captured stdout, stderr and log records, its error and traceback
        (404 ``ClientError`` for a node the run does not have)."""
        return self._typed(NodeLogs, "GET", f"/runs/{_seg(run_id)}/nodes/{_seg(node)}/logs")

    def outputs(self, run_id: str) -> Any:
        """A finished run's workflow outputs (JSON: a dict, or ``None``)."""
        return self._call("GET", f"/runs/{_seg(run_id)}/outputs")

    def profile(self, run_id: str) -> ProfileDocument:
        return self._typed(ProfileDocument, "GET", f"/runs/{_seg(run_id)}/profile")

    def trace(self, run_id: str) -> TraceDocument:
        return self._typed(TraceDocument, "GET", f"/runs/{_seg(run_id)}/trace")

    def weights(self) -> dict[str, int]:
        return self._call("GET", "/config/weights")

    def set_weights(self, weights: dict[str, int]) -> dict[str, int]:
        return self._call("PUT", "/config/weights", json=weights)


_REGISTRIES: dict[str, type[ApiModel]] = {
    "functions": FunctionRecord,
    "dags": DagRecord,
    "triggers": TriggerRecord,
}


def _parse(model: type[M], body: Any, what: str) -> M:
    from pydantic import ValidationError

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(the body)'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise ClientError(
            f"{what}: the server's answer is not a {model.__name__} (a server of another "
            f"dagforge version?): {problems}"
        ) from None


def _parse_list(model: type[M], body: Any, what: str) -> list[M]:
    if not isinstance(body, list):
        raise ClientError(f"{what}: the server's answer is not a list of {model.__name__}")
    return [_parse(model, item, what) for item in body]
