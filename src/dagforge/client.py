"""``dagforge.Client``: the platform's HTTP API from Python (DAGit's ``Functions`` and more).

Every method raises :class:`~dagforge.errors.ClientError` carrying the HTTP status when
the server answers with an error, and names the URL when it cannot be reached.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from dagforge.errors import ClientError

_FINISHED = ("succeeded", "failed", "cancelled")


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

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            reply = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the dagforge platform at {self.url}: {exc}") from exc
        if reply.status_code >= 400:
            self._raise(reply, method, path)
        return reply.json()

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

    def _page(
        self, path: str, limit: int | None, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        import httpx

        params: dict[str, Any] = {} if limit is None else {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            reply = self._http.request("GET", path, params=params)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the dagforge platform at {self.url}: {exc}") from exc
        if reply.status_code >= 400:
            self._raise(reply, "GET", path)
        return reply.json(), reply.headers.get("x-next-cursor")

    def _all(self, path: str) -> list[dict[str, Any]]:
        items, cursor = self._page(path, None, None)  # the server's page size
        seen = {cursor}
        while cursor is not None:
            page, cursor = self._page(path, None, cursor)
            items.extend(page)
            if cursor in seen:  # a server handing out the same cursor twice: stop
                raise ClientError(f"GET {path}: the server repeated the cursor {cursor!r}")
            seen.add(cursor)
        return items

    def registry_page(
        self, kind: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``kind`` (``functions``, ``dags`` or ``triggers``) by name, and the
        cursor of the next page (``None`` on the last one)."""
        if kind not in ("functions", "dags", "triggers"):
            raise ClientError(f"kind must be 'functions', 'dags' or 'triggers', got {kind!r}")
        return self._page(f"/{kind}", limit, cursor)

    # -- functions (DAGit's Functions class) ---------------------------------------------

    def register_function(
        self,
        name: str | dict[str, Any],
        *,
        path: str | None = None,
        url: str | None = None,
        type: str = "cpu",
        **extra: Any,
    ) -> dict[str, Any]:
        """Register a Python function by import path, or an HTTP one by URL.

        ``name`` may also be a whole registration body (a dict), sent verbatim.
        """
        if isinstance(name, dict):
            return self._call("POST", "/register/function", json=name)
        body = {"name": name, "kind": "http" if url else "python", "type": type, **extra}
        if url:
            body["url"] = url
        else:
            body["path"] = path
        return self._call("POST", "/register/function", json=body)

    def list_functions(self) -> list[dict[str, Any]]:
        """Every registered function, by name (all pages of ``GET /functions``)."""
        return self._all("/functions")

    def get_function(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/functions/{_seg(name)}")

    def delete_function(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/functions/{_seg(name)}")

    # -- DAG specs ----------------------------------------------------------------------------

    def register_dag(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/register/dag", json=spec)

    def list_dags(self) -> list[dict[str, Any]]:
        """Every registered dag, by name (all pages of ``GET /dags``)."""
        return self._all("/dags")

    def get_dag(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/dags/{_seg(name)}")

    def delete_dag(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/dags/{_seg(name)}")

    # -- triggers -----------------------------------------------------------------------------

    def register_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/register/trigger", json=trigger)

    def list_triggers(self) -> list[dict[str, Any]]:
        """Every registered trigger, by name (all pages of ``GET /triggers``)."""
        return self._all("/triggers")

    def get_trigger(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/triggers/{_seg(name)}")

    def delete_trigger(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/triggers/{_seg(name)}")

    # -- runs ---------------------------------------------------------------------------------

    def trigger(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Run trigger ``name``: the accepted run (``run_id``, 202) or, with ``wait=True``,
        the finished run (status, nodes, outputs). A wait longer than ``timeout`` answers
        with the still-running run; poll it with :meth:`wait`."""
        if not wait:
            return self._call("POST", f"/run/{_seg(name)}", json=arguments or {})
        return self._call(
            "POST",
            f"/run/{_seg(name)}",
            json=arguments or {},
            params={"wait": "true", "timeout": timeout},
            timeout=timeout + 30.0,  # the server answers by then at the latest
        )

    def wait(self, run_id: str, timeout: float = 300.0, poll: float = 0.05) -> dict[str, Any]:
        """Poll a run until it finishes and return it with its ``outputs``;
        ``ClientError`` (status 408) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.run(run_id)
            if record["status"] in _FINISHED:
                record["outputs"] = self.outputs(run_id)
                return record
            if time.monotonic() >= deadline:
                raise ClientError(
                    f"run {run_id!r} is still {record['status']} after {timeout}s",
                    status_code=408,
                )
            time.sleep(poll)

    def run(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{_seg(run_id)}")

    def runs(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` run summaries (no outputs; see :meth:`outputs`)."""
        return self.runs_page(limit)[0]

    def runs_page(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of run summaries, newest first, and the cursor of the next page
        (``None`` on the last one)."""
        return self._page("/runs", limit, cursor)

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run (409 ``ClientError`` if it already finished)."""
        return self._call("POST", f"/runs/{_seg(run_id)}/cancel")

    def retry(self, run_id: str) -> dict[str, Any]:
        """Redrive a failed or cancelled run from where it stopped, as a new attempt of
        the same run (``attempt``, ``reused_nodes``); 409 ``ClientError`` for a run that
        is queued, running or succeeded. Follow it with :meth:`wait`."""
        return self._call("POST", f"/runs/{_seg(run_id)}/retry")

    def outputs(self, run_id: str) -> Any:
        return self._call("GET", f"/runs/{_seg(run_id)}/outputs")

    def profile(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{_seg(run_id)}/profile")

    def trace(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{_seg(run_id)}/trace")

    def weights(self) -> dict[str, int]:
        return self._call("GET", "/config/weights")

    def set_weights(self, weights: dict[str, int]) -> dict[str, int]:
        return self._call("PUT", "/config/weights", json=weights)
