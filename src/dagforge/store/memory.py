"""``MemoryStore``: a thread-safe dict, for tests and single-process runs."""

from __future__ import annotations

import threading
import time

from dagforge.store.base import Store, _deadline

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Bytes in a dict guarded by a lock. Nothing outlives the process, and each
    ``MemoryStore()`` (each ``open_store("memory://")``) is a new, empty store.

    Expired keys vanish from every read at once; their memory is freed by the next
    ``keys()``, ``delete_prefix()`` or :meth:`cleanup_expired`.
    """

    shared = False
    url = "memory://"

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _alive(entry: tuple[bytes, float | None] | None, now: float) -> bool:
        return entry is not None and (entry[1] is None or entry[1] > now)

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        with self._lock:
            self._data[key] = (data, _deadline(ttl))

    def _get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
            return entry[0] if entry is not None and self._alive(entry, time.time()) else None

    def _exists(self, key: str) -> bool:
        with self._lock:
            return self._alive(self._data.get(key), time.time())

    def _delete(self, key: str) -> bool:
        with self._lock:
            return self._alive(self._data.pop(key, None), time.time())

    def _keys(self, prefix: str) -> list[str]:
        self._cleanup_expired()
        with self._lock:
            return [k for k in self._data if k.startswith(prefix)]

    def _delete_prefix(self, prefix: str) -> int:
        self._cleanup_expired()
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for k in doomed:
                del self._data[k]
        return len(doomed)

    def _expire(self, key: str, seconds: float) -> bool:
        with self._lock:
            entry = self._data.get(key)
            if not self._alive(entry, time.time()):
                return False
            assert entry is not None
            self._data[key] = (entry[0], _deadline(seconds))
            return True

    def _cleanup_expired(self) -> int:
        now = time.time()
        with self._lock:
            doomed = [k for k, e in self._data.items() if not self._alive(e, now)]
            for k in doomed:
                del self._data[k]
        return len(doomed)

    def _close(self) -> None:
        with self._lock:
            self._data.clear()
