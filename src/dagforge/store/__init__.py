"""Intermediate data by key: memory, a local directory (the default), Redis, S3/MinIO.

Open one from a URL with :func:`open_store`; move values in and out with
:func:`put_value` / :func:`get_value`; name a node output's key with :func:`run_key`.
``docs/stores.md`` describes each store, the URLs, security and retention.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from dagforge.errors import StoreError
from dagforge.store.base import (
    Store,
    get_value,
    put_value,
    run_key,
    validate_key,
    validate_key_part,
)
from dagforge.store.local import LocalDirStore
from dagforge.store.memory import MemoryStore
from dagforge.store.redis import RedisStore
from dagforge.store.s3 import S3Store

__all__ = [
    "LocalDirStore",
    "MemoryStore",
    "RedisStore",
    "S3Store",
    "SUPPORTED_URLS",
    "Store",
    "get_value",
    "open_store",
    "put_value",
    "run_key",
    "validate_key",
    "validate_key_part",
]

SUPPORTED_URLS = (
    "memory://",
    "file:///absolute/path (or a plain path)",
    "redis://[:password@]host:port/db[?prefix=...] (also rediss://, unix://)",
    "s3://bucket[/prefix][?endpoint=http://host:port&region=...&create_bucket=false]",
)

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def open_store(target: str | os.PathLike[str] | dict[str, Any] | Store) -> Store:
    """Open the store a URL, a path, a :meth:`Store.describe` dict or a store names.

    A string without ``://`` is a directory path (:class:`LocalDirStore`).
    """
    if isinstance(target, Store):
        return target
    if isinstance(target, dict):
        if not isinstance(target.get("url"), str):
            raise StoreError(f"a store description needs a 'url' string, got {target!r}")
        target = target["url"]
    if isinstance(target, os.PathLike):
        return LocalDirStore(target)
    if not isinstance(target, str) or not target:
        raise StoreError(f"a store is opened from a URL or a path, got {target!r}")
    if "://" not in target:
        return LocalDirStore(target)

    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreError(
                f"file URL {target!r} names host {parts.netloc!r}; use file:///absolute/path"
            )
        return LocalDirStore(Path(unquote(parts.path)))
    if scheme in ("redis", "rediss", "unix"):
        return RedisStore(target)
    if scheme == "s3":
        return _open_s3(target, parts)
    raise StoreError(
        f"unsupported store URL scheme {parts.scheme!r} in {target!r}; supported: "
        + "; ".join(SUPPORTED_URLS)
    )


def _open_s3(target: str, parts: Any) -> S3Store:
    if not parts.netloc:
        raise StoreError(f"S3 URL {target!r} names no bucket; use s3://bucket[/prefix]")
    query = dict(parse_qsl(parts.query))
    endpoint = query.pop("endpoint", None)
    region = query.pop("region", "us-east-1")
    create = query.pop("create_bucket", "true").lower()
    if create not in _TRUE | _FALSE:
        raise StoreError(f"S3 URL {target!r}: create_bucket must be true or false, got {create!r}")
    if query:
        raise StoreError(
            f"S3 URL {target!r} has unknown parameter(s) {', '.join(sorted(query))}; "
            "known: endpoint, region, create_bucket"
        )
    return S3Store(
        parts.netloc,
        endpoint_url=endpoint,
        prefix=unquote(parts.path),
        region=region,
        create_bucket=create in _TRUE,
    )
