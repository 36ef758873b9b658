"""The store contract: bytes by key, plus typed helpers and the key scheme.

A store keeps intermediate data — node outputs — by key, so that what a node produced
can be read by another thread, process, machine or HTTP function, and survives a
restart of the platform. Keys are ``/``-joined parts; dagforge's own keys are
``run/node/output`` (:func:`run_key`).

Every store implements the small abstract methods below; key validation, the
missing-key error, closed-store checks, ``expire_prefix`` and context-manager support
live here once.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from typing import Any

from dagforge.errors import StoreError
from dagforge.serializers import deserialize, get_serializer, is_trusted_only, serialize

__all__ = [
    "Store",
    "get_value",
    "put_value",
    "run_key",
    "validate_key",
    "validate_key_part",
]

_FORBIDDEN = ("/", "\\", "\x00")


def validate_key_part(part: str, what: str = "key part") -> str:
    """Check one part of a key: a non-empty string without ``/``, ``\\`` or NUL that
    does not start with ``.`` (so it is always a safe file name); returns it."""
    if not isinstance(part, str):
        raise StoreError(f"{what} must be a string, got {type(part).__name__} {part!r}")
    if not part:
        raise StoreError(f"{what} must not be empty")
    bad = [c for c in _FORBIDDEN if c in part]
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise StoreError(f"{what} {part!r} must not contain {shown}")
    if part.startswith("."):
        raise StoreError(f"{what} {part!r} must not start with '.'")
    return part


def validate_key(key: str) -> str:
    """Check a whole key (``/``-joined valid parts); returns it."""
    if not isinstance(key, str):
        raise StoreError(f"store key must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise StoreError("store key must not be empty")
    for part in key.split("/"):
        if not part:
            raise StoreError(
                f"store key {key!r} has an empty part (leading, trailing or double '/')"
            )
        validate_key_part(part, f"part {part!r} of store key {key!r}")
    return key


def run_key(run_id: str, node: str, output: str) -> str:
    """The key of one output of one node in one run: ``"run/node/output"``."""
    for what, part in (("run id", run_id), ("node name", node), ("output name", output)):
        validate_key_part(part, what)
    return f"{run_id}/{node}/{output}"


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or "\x00" in prefix:
        raise StoreError(f"key prefix must be a string without NUL, got {prefix!r}")
    return prefix


def _check_seconds(value: float | None, what: str, *, allow_zero: bool) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise StoreError(f"{what} must be a finite number of seconds, {bound}; got {value!r}")
    return float(value)


class Store(ABC):
    """Bytes by key. Subclasses implement the ``_``-methods; the public ones are here.

    ``shared`` is True for stores other processes or machines can write to (Redis,
    S3); values read from them are never unpickled unless the reader opted in.
    """

    shared: bool = False
    #: The URL :func:`dagforge.store.open_store` opens this store from.
    url: str = ""

    _closed: bool = False

    # --- public API ---------------------------------------------------------------------

    def put(self, key: str, data: bytes, ttl: float | None = None) -> None:
        """Store ``data`` under ``key``, replacing it; ``ttl`` seconds until it expires."""
        self._check_open()
        validate_key(key)
        ttl = _check_seconds(ttl, "ttl", allow_zero=False)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreError(
                f"put({key!r}) takes bytes, got {type(data).__name__}; use "
                "dagforge.store.put_value() to serialize a value"
            )
        self._put(key, bytes(data), ttl)

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; a missing or expired key is a :class:`StoreError`."""
        self._check_open()
        data = self._get(validate_key(key))
        if data is None:
            raise StoreError(f"key {key!r} not found in {self!r}")
        return data

    def exists(self, key: str) -> bool:
        self._check_open()
        return self._exists(validate_key(key))

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""
        self._check_open()
        return self._delete(validate_key(key))

    def keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix`` (a plain string prefix: use ``"run/"``)."""
        self._check_open()
        return sorted(self._keys(_check_prefix(prefix)))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; returns how many were removed.

        ``""`` removes every key of this store (within its own namespace prefix).
        """
        self._check_open()
        return self._delete_prefix(_check_prefix(prefix))

    def expire_prefix(self, prefix: str, after_seconds: float) -> int:
        """Let every key now under ``prefix`` expire ``after_seconds`` from now.

        This is the retention hook: when a run ends, the platform calls
        ``store.expire_prefix(f"{run_id}/", retention)``. ``0`` deletes at once.
        Returns the number of keys affected.
        """
        self._check_open()
        seconds = _check_seconds(after_seconds, "after_seconds", allow_zero=True)
        assert seconds is not None
        if seconds == 0:
            return self.delete_prefix(prefix)
        keys = self._keys(_check_prefix(prefix))
        return self._expire_keys(keys, seconds)

    def cleanup_expired(self) -> int:
        """Physically remove expired keys; returns how many. Stores whose server
        expires keys itself (Redis) have nothing to do and return 0."""
        self._check_open()
        return self._cleanup_expired()

    def close(self) -> None:
        """Release connections. Idempotent; any other call afterwards is an error."""
        if not self._closed:
            self._closed = True
            self._close()

    def describe(self) -> dict[str, Any]:
        """JSON-able connection info: enough for a remote function to reopen the store
        with ``open_store(info)`` (``info["url"]``), no secret beyond what the URL holds."""
        return {"type": type(self).__name__, "url": self.url, "shared": self.shared}

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # --- for subclasses -----------------------------------------------------------------

    @abstractmethod
    def _put(self, key: str, data: bytes, ttl: float | None) -> None: ...

    @abstractmethod
    def _get(self, key: str) -> bytes | None:
        """The bytes, or None when the key is missing or expired."""

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _delete(self, key: str) -> bool: ...

    @abstractmethod
    def _keys(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def _expire(self, key: str, seconds: float) -> bool:
        """Make ``key`` expire ``seconds`` from now; False if it is missing."""

    def _expire_keys(self, keys: list[str], seconds: float) -> int:
        return sum(self._expire(k, seconds) for k in keys)

    def _delete_prefix(self, prefix: str) -> int:
        return sum(self._delete(k) for k in self._keys(prefix))

    def _cleanup_expired(self) -> int:
        return 0

    def _close(self) -> None:
        return None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed")


def _deadline(ttl: float | None) -> float | None:
    """Wall-clock expiry time for a ttl (wall clock: other processes read it too)."""
    return None if ttl is None else time.time() + ttl


# --- typed helpers ---------------------------------------------------------------------------


def put_value(
    store: Store, key: str, value: Any, serializer: Any = "json", *, ttl: float | None = None
) -> int:
    """Serialize ``value`` and store it under ``key``; returns the stored size in bytes."""
    data = serialize(value, serializer, context=f"key {key!r}")
    store.put(key, data, ttl)
    return len(data)


def get_value(
    store: Store, key: str, serializer: Any = "json", *, allow_pickle: bool = False
) -> Any:
    """Read and deserialize the value under ``key``.

    A ``trusted_only`` serializer (pickle-like) on a shared store is refused unless
    ``allow_pickle=True``: loading it would run code chosen by whoever wrote the key.
    """
    ser = get_serializer(serializer)
    if store.shared and is_trusted_only(ser) and not allow_pickle:
        name = getattr(ser, "name", type(ser).__name__)
        raise StoreError(
            f"refusing to load key {key!r} from shared store {store!r} with serializer "
            f"{name!r}: it can run code chosen by anyone who can write to the store. Use "
            "a data-only serializer ('json', 'numpy-safe'), or pass allow_pickle=True if "
            "you trust every writer of this store"
        )
    return deserialize(store.get(key), ser, context=f"key {key!r} of {store!r}")
