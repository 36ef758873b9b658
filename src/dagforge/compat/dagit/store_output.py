"""DAGit's ``store_output`` for functions running in containers.

``store_intermediate_data(data, function_name, destination)`` stores a function's
response where the next function (or the control plane) reads it by key, and returns
that key — DAGit's way of passing keys instead of data. ``destination`` is ``"redis"``
or ``"minio"`` (also ``"s3"``). Where the stores are comes from the environment, as
DAGit reads it from a ``.env`` file (loaded with python-dotenv when that is installed):

- Redis: ``DAGIT_REDIS_URL``, else ``REDIS_HOST`` / ``REDIS_PORT`` (default
  ``127.0.0.1:6379``) and database ``REDIS_DB`` (default 2, the database DAGit's
  functions read with ``redis.Redis(host=host, port=port, db=2)``);
- MinIO / S3: ``DAGIT_S3_URL`` (``s3://bucket[/prefix]?endpoint=...``), else
  ``MINIO_ENDPOINT`` (``host:port`` or a URL), ``MINIO_BUCKET`` (default ``dagit``) and
  the usual AWS / ``MINIO_ACCESS_KEY`` / ``MINIO_SECRET_KEY`` credentials.

Values are written as DAGit writes them, pickled, so DAGit's readers
(``pickle.loads(redis_instance.get(key))``) work unchanged; ``serializer="json"`` writes
JSON instead. :func:`load_intermediate_data` reads a key back and refuses to unpickle
unless ``allow_pickle=True`` — unpickling runs code, so only do it for stores you trust.
"""

from __future__ import annotations

import json
import os
import pickle
import uuid
from typing import Any

from dagforge.errors import SerializationError, StoreError

__all__ = ["load_intermediate_data", "open_destination", "store_intermediate_data"]

_PICKLE_MAGIC = (b"\x80",)  # every pickle protocol >= 2 starts with PROTO


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:
        return
    load_dotenv(override=False)


def open_destination(destination: str) -> Any:
    """The dagforge store behind ``"redis"`` or ``"minio"``/``"s3"``, from the environment."""
    from dagforge.store import open_store

    _load_dotenv()
    where = str(destination).lower()
    if where == "redis":
        url = os.environ.get("DAGIT_REDIS_URL")
        if not url:
            host = os.environ.get("REDIS_HOST", "127.0.0.1")
            port = os.environ.get("REDIS_PORT", "6379")
            db = os.environ.get("REDIS_DB", "2")
            url = f"redis://{host}:{port}/{db}"
        return open_store(url)
    if where in ("minio", "s3"):
        url = os.environ.get("DAGIT_S3_URL")
        if not url:
            endpoint = os.environ.get("MINIO_ENDPOINT")
            bucket = os.environ.get("MINIO_BUCKET", "dagit")
            if endpoint and "://" not in endpoint:
                endpoint = f"http://{endpoint}"
            for src, dst in (
                ("MINIO_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
                ("MINIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
            ):
                if os.environ.get(src) and not os.environ.get(dst):
                    os.environ[dst] = os.environ[src]
            url = f"s3://{bucket}" + (f"?endpoint={endpoint}" if endpoint else "")
        return open_store(url)
    raise StoreError(
        f"unknown destination {destination!r} for store_intermediate_data; use 'redis' or 'minio'"
    )


def store_intermediate_data(
    data: Any, function_name: str, destination: str, *, serializer: str = "pickle"
) -> str:
    """Store ``data`` (a function's response) and return the key that names it."""
    if not isinstance(function_name, str) or not function_name or "/" in function_name:
        raise StoreError(
            f"function_name must be a non-empty name without '/', got {function_name!r}"
        )
    if serializer == "pickle":
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    elif serializer == "json":
        try:
            payload = json.dumps(data, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"{function_name}: the response is not JSON ({exc}); use serializer='pickle'"
            ) from exc
    else:
        raise SerializationError(f"serializer must be 'pickle' or 'json', got {serializer!r}")
    key = f"{function_name}-{uuid.uuid4().hex}"
    store = open_destination(destination)
    try:
        store.put(key, payload)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    return key


def load_intermediate_data(key: str, source: str, *, allow_pickle: bool = False) -> Any:
    """Read what :func:`store_intermediate_data` stored under ``key``.

    JSON values are decoded; pickled ones only with ``allow_pickle=True``.
    """
    store = open_destination(source)
    try:
        payload = store.get(key)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    if payload[:1] in _PICKLE_MAGIC:
        if not allow_pickle:
            raise SerializationError(
                f"key {key!r} holds a pickle; unpickling runs code, so pass allow_pickle=True "
                f"only for a store you trust"
            )
        return pickle.loads(payload)  # the caller opted in for a trusted store
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise SerializationError(f"key {key!r} holds neither JSON nor a pickle") from exc
