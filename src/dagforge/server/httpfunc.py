"""Functions served over HTTP (DAGit's contract), callable like local ones.

The platform POSTs ``{"arguments": {...}, "inputs": {}, "store": <info>, "serializer": s,
"output_prefix": p}`` with the node's keyword arguments inline when they are small. When
they are large (over ``inline_limit`` bytes of JSON) each one is written to the data
store under the run's prefix (``<run_id>/_http/<function>/<call>/in/<name>``, so
retention cleans it with the run) and sent as ``"arguments": {}, "inputs": {name: key}``:
data goes through the store, not the control plane. The function reopens the store with
``dagforge.store.open_store(info)`` and may write its outputs under ``output_prefix``.

The function answers with its outputs (a JSON object), with ``{"keys": {name: key}}``
naming outputs it wrote to the store, or DAGit's ``{"key": key, ...}`` naming one stored
object that holds all of them. Values in the store use the platform's serializer (JSON
unless the operator opted into pickle; pickle is never loaded from a shared store
without that opt-in).

The URL is checked against the server's ``--allow-url`` policy before every call (not
only at registration), redirects are never followed, and an error answer is reported
by its status alone: the body of a failing service never reaches a run's error.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from dagforge.errors import DagforgeError, TaskOutputError

_client_lock = threading.Lock()
_client: Any = None


def _http() -> Any:
    """One pooled, thread-safe httpx client per process (keep-alive to the functions)."""
    global _client
    with _client_lock:
        if _client is None:
            import httpx

            _client = httpx.Client(limits=httpx.Limits(max_connections=64))
        return _client


class HttpFunction:
    """A callable that runs a registered ``http`` function."""

    __slots__ = (
        "url",
        "name",
        "store",
        "run_id",
        "inline_limit",
        "timeout",
        "serializer",
        "allow_pickle",
        "policy",
    )

    def __init__(
        self,
        url: str,
        name: str,
        store: Any = None,
        *,
        run_id: str | None = None,
        inline_limit: int = 64_000,
        timeout: float = 60.0,
        serializer: str = "json",
        allow_pickle: bool = False,
        policy: Any = None,
    ):
        self.url = url
        self.name = name
        self.store = store
        self.run_id = run_id
        self.inline_limit = inline_limit
        self.timeout = timeout
        self.serializer = serializer
        self.allow_pickle = allow_pickle
        self.policy = policy

    def __call__(self, *upstream: Any, **arguments: Any) -> dict[str, Any]:
        import httpx

        if upstream:  # a spec with input_shape "dagit": the list of upstream outputs
            (arguments,) = upstream  # type: ignore[assignment]
        if self.policy is not None:
            try:
                self.policy.check(self.name, self.url)
            except DagforgeError as exc:
                raise TaskOutputError(str(exc)) from None
        call = f"{self.run_id or '_http'}/_http/{self.name}/{uuid.uuid4().hex}"
        payload: dict[str, Any] = {
            "arguments": arguments,
            "inputs": {},
            "store": None,
            "serializer": self.serializer,
        }
        if self.store is not None:
            payload["store"] = self.store.describe()
            payload["output_prefix"] = f"{call}/out"  # keys written here expire with the run
            big = len(json.dumps(arguments, default=str)) > self.inline_limit
            if big and isinstance(arguments, dict):
                payload.update(arguments={}, inputs=self._store_inputs(arguments, call))
        try:
            from dagforge.otel import traceparent_headers  # W3C trace context (issue 15)

            reply = _http().post(
                self.url,
                json=payload,
                timeout=self.timeout,
                follow_redirects=False,
                headers=traceparent_headers(self.run_id, self.name),
            )
        except httpx.HTTPError as exc:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} could not be reached: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        if reply.status_code >= 300:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} answered HTTP {reply.status_code} "
                f"{reply.reason_phrase[:60]!r} (its body is not shown)"
            )
        try:
            outputs = reply.json()
        except ValueError as exc:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} did not answer JSON"
            ) from exc
        if not isinstance(outputs, dict):
            raise TaskOutputError(f"http function {self.name!r} must answer a JSON object")
        return self._outputs(outputs)

    def _store_inputs(self, arguments: dict[str, Any], call: str) -> dict[str, str]:
        from dagforge.store import put_value

        keys = {}
        for name, value in arguments.items():
            key = f"{call}/in/{name}"
            try:
                put_value(self.store, key, value, serializer=self.serializer)
            except DagforgeError as exc:
                raise TaskOutputError(
                    f"http function {self.name!r}: cannot store input {name!r}: {exc}"
                ) from exc
            keys[name] = key
        return keys

    def _outputs(self, answer: dict[str, Any]) -> dict[str, Any]:
        keys = answer.get("keys")
        single = answer.get("key")
        if (isinstance(keys, dict) or isinstance(single, str)) and self.store is None:
            raise TaskOutputError(
                f"http function {self.name!r} answered with store keys, "
                "but the platform has no store"
            )
        try:
            if isinstance(keys, dict):
                return {name: self._load(key) for name, key in keys.items()}
            if isinstance(single, str):  # DAGit: one stored object with every output
                value = self._load(single)
                if not isinstance(value, dict):
                    raise TaskOutputError(
                        f"http function {self.name!r}: key {single!r} must hold a JSON "
                        f"object of outputs, got {type(value).__name__}"
                    )
                return value
        except TaskOutputError:
            raise
        except DagforgeError as exc:
            raise TaskOutputError(
                f"http function {self.name!r}: cannot read its outputs from the store: {exc}"
            ) from exc
        return answer

    def _load(self, key: Any) -> Any:
        from dagforge.store import get_value

        if not isinstance(key, str):
            raise TaskOutputError(f"http function {self.name!r} answered a non-string key {key!r}")
        return get_value(
            self.store, key, serializer=self.serializer, allow_pickle=self.allow_pickle
        )
