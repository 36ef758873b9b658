"""``dagforge.Client``: the platform's HTTP API from Python (DAGit's ``Functions`` and more).

Every method raises :class:`~dagforge.errors.ClientError` carrying the HTTP status when
the server answers with an error, and names the URL when it cannot be reached.
"""

from __future__ import annotations

from typing import Any

from dagforge.errors import ClientError


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
            try:
                detail = reply.json().get("detail", reply.text)
            except ValueError:
                detail = reply.text
            raise ClientError(
                f"{method} {path} -> {reply.status_code}: {detail}", status_code=reply.status_code
            )
        return reply.json()

    # -- functions (DAGit's Functions class) ---------------------------------------------

    def register_function(
        self,
        name: str,
        *,
        path: str | None = None,
        url: str | None = None,
        type: str = "cpu",
        **extra: Any,
    ) -> dict[str, Any]:
        """Register a Python function by import path, or an HTTP one by URL."""
        body = {"name": name, "kind": "http" if url else "python", "type": type, **extra}
        if url:
            body["url"] = url
        else:
            body["path"] = path
        return self._call("POST", "/register/function", json=body)

    def list_functions(self) -> list[dict[str, Any]]:
        return self._call("GET", "/functions")

    def get_function(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/functions/{name}")

    def delete_function(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/functions/{name}")

    # -- DAG specs ----------------------------------------------------------------------------

    def register_dag(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/register/dag", json=spec)

    def list_dags(self) -> list[dict[str, Any]]:
        return self._call("GET", "/dags")

    def get_dag(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/dags/{name}")

    def delete_dag(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/dags/{name}")

    # -- triggers -----------------------------------------------------------------------------

    def register_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/register/trigger", json=trigger)

    def list_triggers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/triggers")

    def get_trigger(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/triggers/{name}")

    def delete_trigger(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/triggers/{name}")

    # -- runs ---------------------------------------------------------------------------------

    def trigger(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        params = {"wait": "true", "timeout": timeout} if wait else {}
        return self._call("POST", f"/run/{name}", json=arguments or {}, params=params)

    def run(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{run_id}")

    def runs(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("GET", "/runs", params={"limit": limit})

    def outputs(self, run_id: str) -> Any:
        return self._call("GET", f"/runs/{run_id}/outputs")

    def profile(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{run_id}/profile")

    def trace(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{run_id}/trace")

    def set_weights(self, weights: dict[str, int]) -> dict[str, int]:
        return self._call("PUT", "/config/weights", json=weights)
