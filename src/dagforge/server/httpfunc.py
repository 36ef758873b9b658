"""Functions served over HTTP (DAGit's contract), callable like local ones.

The platform POSTs ``{"arguments": {...}, "inputs": {...}, "store": {...}}``:
``arguments`` are the node's keyword arguments when small; when they are large
(over ``inline_limit`` bytes of JSON) they are written to the data store and sent as
``inputs: {name: key}`` with ``store`` = the store's connection info, so data goes
through the store, not the control plane. The function answers with its outputs
(a JSON object) or ``{"keys": {name: key}}`` naming outputs it wrote to the store.
Values in the store use the JSON serializer unless the operator opted into pickle.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from dagforge.errors import TaskOutputError


class HttpFunction:
    """A callable that runs a registered ``http`` function."""

    __slots__ = ("url", "name", "store", "inline_limit", "timeout", "allow_pickle")

    def __init__(
        self,
        url: str,
        name: str,
        store: Any = None,
        *,
        inline_limit: int = 64_000,
        timeout: float = 60.0,
        allow_pickle: bool = False,
    ):
        self.url = url
        self.name = name
        self.store = store
        self.inline_limit = inline_limit
        self.timeout = timeout
        self.allow_pickle = allow_pickle

    def __call__(self, **arguments: Any) -> dict[str, Any]:
        import httpx

        from dagforge.store import get_value, put_value

        payload: dict[str, Any] = {"arguments": arguments, "inputs": {}, "store": None}
        body = json.dumps(arguments, default=str)
        if self.store is not None and len(body) > self.inline_limit:
            prefix = f"http-inputs/{uuid.uuid4().hex}"
            keys = {}
            for name, value in arguments.items():
                key = f"{prefix}/{name}"
                put_value(self.store, key, value, serializer="json")
                keys[name] = key
            payload = {"arguments": {}, "inputs": keys, "store": self.store.describe()}
        try:
            reply = httpx.post(self.url, json=payload, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} could not be reached: {exc}"
            ) from exc
        if reply.status_code >= 400:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} answered {reply.status_code}: "
                f"{reply.text[:200]}"
            )
        try:
            outputs = reply.json()
        except ValueError as exc:
            raise TaskOutputError(
                f"http function {self.name!r} at {self.url} did not answer JSON"
            ) from exc
        if not isinstance(outputs, dict):
            raise TaskOutputError(f"http function {self.name!r} must answer a JSON object")
        keys = outputs.get("keys")
        if isinstance(keys, dict) and self.store is not None:
            return {
                name: get_value(self.store, key, serializer="json", allow_pickle=self.allow_pickle)
                for name, key in keys.items()
            }
        return outputs
