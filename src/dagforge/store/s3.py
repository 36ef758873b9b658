"""``S3Store``: intermediate data in an S3-compatible bucket (AWS S3, MinIO, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

from dagforge.errors import StoreError
from dagforge.store.base import Store, _deadline

__all__ = ["S3Store"]

_EXPIRES_META = "dagforge-expires-at"
_DELETE_BATCH = 1000  # the S3 limit for one DeleteObjects call
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Store(Store):
    """Objects ``<prefix><key>`` in ``bucket`` via boto3.

    ``endpoint_url`` points at MinIO or any S3-protocol server (path-style addressing
    is used then); ``None`` means AWS. Credentials come from boto3's usual chain
    (environment, config files, instance roles) or ``client_kwargs``
    (``aws_access_key_id=...``), and never appear in :meth:`describe`. With
    ``create_bucket=True`` the bucket is created if missing, which also checks the
    endpoint at once.

    S3 has no per-object ttl, so a ttl is stored as object metadata
    (``dagforge-expires-at``): ``get``/``exists`` treat an expired object as missing,
    while ``keys()`` and ``delete_prefix()`` still see it until :meth:`cleanup_expired`
    removes it (one HEAD per object) — or use a bucket lifecycle rule for bulk retention.
    """

    shared = True

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        prefix: str = "",
        region: str = "us-east-1",
        create_bucket: bool = True,
        **client_kwargs: Any,
    ):
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise StoreError("S3Store needs boto3: pip install 'dagforge[s3]'") from exc
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise StoreError(
                f"S3 bucket name must be a non-empty string without '/', got {bucket!r}"
            )
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._ClientError = ClientError
        self._errors_base = (ClientError, BotoCoreError)
        options: dict[str, Any] = {
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"max_attempts": 2, "mode": "standard"},
        }
        if endpoint_url:
            options["s3"] = {"addressing_style": "path"}
        config = Config(**options)
        if "config" in client_kwargs:
            config = config.merge(client_kwargs.pop("config"))
        query = {"region": region}
        if endpoint_url:
            query = {"endpoint": endpoint_url, **query}
        self.url = f"s3://{bucket}/{quote(self.prefix)}?{urlencode(query)}"
        try:
            self._client = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config, **client_kwargs
            )
        except (ValueError, TypeError, BotoCoreError) as exc:
            raise StoreError(f"cannot configure S3 client for {self!r}: {exc}") from exc
        if create_bucket:
            self._ensure_bucket()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "bucket": self.bucket,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "prefix": self.prefix,
        }

    # --- helpers ------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._errors_base as exc:
            where = self.endpoint_url or f"AWS S3 ({self.region})"
            raise StoreError(
                f"S3 bucket {self.bucket!r} at {where} failed to {action}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _missing(self, exc: Exception) -> bool:
        if not isinstance(exc, self._ClientError):
            return False
        return str(exc.response.get("Error", {}).get("Code")) in _MISSING  # type: ignore[attr-defined]

    def _k(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _expired(metadata: dict[str, str] | None, now: float) -> bool:
        stamp = (metadata or {}).get(_EXPIRES_META)
        try:
            return stamp is not None and float(stamp) <= now
        except ValueError:
            return False

    def _head(self, key: str) -> dict[str, str] | None:
        """The object's metadata, or None if it is missing or expired."""
        try:
            meta = self._client.head_object(Bucket=self.bucket, Key=self._k(key)).get("Metadata")
        except self._ClientError as exc:
            if self._missing(exc):
                return None
            raise
        return None if self._expired(meta, time.time()) else (meta or {})

    def _ensure_bucket(self) -> None:
        with self._errors("check or create the bucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except self._ClientError as exc:
                if not self._missing(exc) and exc.response["Error"].get("Code") != "NoSuchBucket":
                    raise
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self._client.create_bucket(**kwargs)
            except self._ClientError as exc:
                if exc.response["Error"].get("Code") != "BucketAlreadyOwnedByYou":
                    raise

    def _list(self, prefix: str) -> list[str]:
        n = len(self.prefix)
        found: list[str] = []
        with self._errors(f"list keys under {prefix!r}"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._k(prefix)
            )
            for page in pages:
                found.extend(obj["Key"][n:] for obj in page.get("Contents", ()))
        return found

    # --- the contract -------------------------------------------------------------------

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        meta = {} if ttl is None else {_EXPIRES_META: repr(_deadline(ttl))}
        with self._errors(f"write key {key!r}"):
            self._client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, Metadata=meta)

    def _get(self, key: str) -> bytes | None:
        with self._errors(f"read key {key!r}"):
            try:
                resp = self._client.get_object(Bucket=self.bucket, Key=self._k(key))
            except self._ClientError as exc:
                if self._missing(exc):
                    return None
                raise
            if self._expired(resp.get("Metadata"), time.time()):
                resp["Body"].close()
                self._client.delete_object(Bucket=self.bucket, Key=self._k(key))
                return None
            return resp["Body"].read()

    def _exists(self, key: str) -> bool:
        with self._errors(f"check key {key!r}"):
            return self._head(key) is not None

    def _delete(self, key: str) -> bool:
        with self._errors(f"delete key {key!r}"):
            existed = self._head(key) is not None
            self._client.delete_object(Bucket=self.bucket, Key=self._k(key))
        return existed

    def _keys(self, prefix: str) -> list[str]:
        return self._list(prefix)

    def _delete_prefix(self, prefix: str) -> int:
        return self._delete_many(self._list(prefix), f"delete keys under {prefix!r}")

    def _delete_many(self, keys: list[str], action: str) -> int:
        with self._errors(action):
            for i in range(0, len(keys), _DELETE_BATCH):
                batch = [{"Key": self._k(k)} for k in keys[i : i + _DELETE_BATCH]]
                resp = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if resp.get("Errors"):
                    first = resp["Errors"][0]
                    raise StoreError(
                        f"S3 bucket {self.bucket!r} failed to {action}: "
                        f"{len(resp['Errors'])} object(s) not deleted, e.g. "
                        f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                    )
        return len(keys)

    def _expire(self, key: str, seconds: float) -> bool:
        with self._errors(f"set expiry on key {key!r}"):
            meta = self._head(key)
            if meta is None:
                return False
            self._client.copy_object(
                Bucket=self.bucket,
                Key=self._k(key),
                CopySource={"Bucket": self.bucket, "Key": self._k(key)},
                Metadata={**meta, _EXPIRES_META: repr(_deadline(seconds))},
                MetadataDirective="REPLACE",
            )
        return True

    def _cleanup_expired(self) -> int:
        with self._errors("look for expired keys"):
            expired = [k for k in self._list("") if self._head(k) is None]
        return self._delete_many(expired, "delete expired keys")

    def _close(self) -> None:
        self._client.close()
