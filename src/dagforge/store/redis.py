"""``RedisStore``: intermediate data in a Redis database, shared between machines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dagforge.errors import StoreError
from dagforge.store.base import Store

__all__ = ["RedisStore"]

_BATCH = 500


def _glob_escape(text: str) -> str:
    """Escape Redis MATCH glob characters so a prefix matches literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore(Store):
    """Keys in one Redis database via redis-py; ``ttl`` is Redis's own ``PX`` expiry.

    ``url`` is any redis-py URL (``redis://[:password@]host:port/db``, ``rediss://``,
    ``unix://``); the address is never hard-coded. ``prefix`` (also ``?prefix=`` in the
    URL) is prepended to every key so several deployments, or other applications, can
    share one database: ``keys()`` and ``delete_prefix("")`` then stay inside it.
    Connections are made lazily; an unreachable server is a :class:`StoreError` naming
    the address on the first operation. Extra keyword arguments go to
    ``redis.Redis.from_url`` (timeouts default to 5 s and retries to two quick ones).
    """

    shared = True

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "", **redis_kwargs: Any
    ):
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise StoreError("RedisStore needs redis-py: pip install 'dagforge[redis]'") from exc
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", prefix)
        client_url = urlunsplit(parts._replace(query=urlencode(query)))
        public_query = {**query, "prefix": self.prefix} if self.prefix else query
        self.url = urlunsplit(parts._replace(query=urlencode(public_query)))
        self._safe_url = self.url
        if parts.password:
            self._safe_url = self.url.replace(f":{parts.password}@", ":***@", 1)
        redis_kwargs.setdefault("socket_connect_timeout", 5)
        redis_kwargs.setdefault("socket_timeout", 5)
        redis_kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
        try:
            self._redis = redis.Redis.from_url(client_url, **redis_kwargs)
            pool = self._redis.connection_pool  # unknown URL parameters fail here, not later
            pool.connection_class(**pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"invalid Redis URL {self._safe_url!r}: {exc}") from exc
        kw = self._redis.connection_pool.connection_kwargs
        if "path" in kw:
            self.address = f"unix:{kw['path']} db {kw.get('db', 0)}"
        else:
            self.address = (
                f"{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)} db {kw.get('db', 0)}"
            )
        self._errors_base = redis.RedisError

    def __repr__(self) -> str:
        return f"RedisStore({self._safe_url!r})"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": self.address, "prefix": self.prefix}

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._errors_base as exc:
            raise StoreError(
                f"Redis at {self.address} ({self._safe_url}) failed to {action}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _scan(self, prefix: str) -> list[str]:
        n = len(self.prefix)
        match = _glob_escape(self.prefix + prefix) + "*"
        with self._errors(f"list keys under {prefix!r}"):
            return [k.decode("utf-8")[n:] for k in self._redis.scan_iter(match=match, count=1000)]

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        px = None if ttl is None else max(1, round(ttl * 1000))
        with self._errors(f"write key {key!r}"):
            self._redis.set(self._k(key), data, px=px)

    def _get(self, key: str) -> bytes | None:
        with self._errors(f"read key {key!r}"):
            value = self._redis.get(self._k(key))
        if isinstance(value, str):  # a client made with decode_responses=True
            raise StoreError(
                f"RedisStore {self._safe_url!r} read text for key {key!r}: values are bytes, "
                "so the client must not be created with decode_responses=True"
            )
        return value

    def _exists(self, key: str) -> bool:
        with self._errors(f"check key {key!r}"):
            return bool(self._redis.exists(self._k(key)))

    def _delete(self, key: str) -> bool:
        with self._errors(f"delete key {key!r}"):
            return bool(self._redis.delete(self._k(key)))

    def _keys(self, prefix: str) -> list[str]:
        return self._scan(prefix)

    def _delete_prefix(self, prefix: str) -> int:
        keys = [self._k(k) for k in self._scan(prefix)]
        removed = 0
        with self._errors(f"delete keys under {prefix!r}"):
            for i in range(0, len(keys), _BATCH):
                removed += self._redis.delete(*keys[i : i + _BATCH])
        return removed

    def _expire(self, key: str, seconds: float) -> bool:
        return self._expire_keys([key], seconds) == 1

    def _expire_keys(self, keys: list[str], seconds: float) -> int:
        px = max(1, round(seconds * 1000))
        done = 0
        with self._errors(f"set expiry on {len(keys)} key(s)"):
            for i in range(0, len(keys), _BATCH):
                pipe = self._redis.pipeline(transaction=False)
                for k in keys[i : i + _BATCH]:
                    pipe.pexpire(self._k(k), px)
                done += sum(bool(r) for r in pipe.execute())
        return done

    def _close(self) -> None:
        self._redis.close()
