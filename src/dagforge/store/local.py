"""``LocalDirStore``: keys as nested directories under one root — the embedded default."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dagforge._files import atomic_write
from dagforge.errors import StoreError
from dagforge.store.base import Store, _deadline, validate_key_part

__all__ = ["LocalDirStore"]

_VALUE = ".value"
_EXPIRES = ".expires"
_MADE_LIMIT = 4096  # directories remembered as existing (LocalDirStore._makedirs)


class LocalDirStore(Store):
    """Each key is a directory under ``path``; its bytes are the file ``.value`` in it.

    ``run/node/output`` is stored as ``<path>/run/node/output/.value``, so a key and a
    longer key under it (``a/b`` and ``a/b/c``) never collide. Writes go to a temporary
    file in the same directory and are moved into place with :func:`os.replace`, so a
    reader sees the old bytes or the new ones, never a torn file; ``fsync=True`` also
    flushes them to disk before the move (slower, survives power loss).

    A ttl is written to a sidecar file ``.expires`` (wall-clock epoch seconds). Reads
    treat an expired key as missing and remove it; :meth:`cleanup_expired` walks the
    whole tree and removes every expired key — call it periodically (the platform's
    housekeeping does).
    """

    shared = False

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False):
        self.path = Path(path).expanduser().resolve()
        self.fsync = fsync
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {str(self.path)!r}: {exc}") from exc
        self.url = self.path.as_uri()
        self._root = str(self.path)
        self._made: set[str] = set()  # directories known to exist (see _makedirs)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": str(self.path)}

    # --- files ------------------------------------------------------------------------

    def _dir(self, key: str) -> Path:
        return self.path.joinpath(*key.split("/"))

    def _write(self, target: Path, data: bytes) -> None:
        atomic_write(target, data, fsync=self.fsync)

    @staticmethod
    def _expired(d: Path, now: float) -> bool:
        try:
            return float((d / _EXPIRES).read_text()) <= now
        except (OSError, ValueError):  # no sidecar (or an unreadable one): no expiry
            return False

    def _alive(self, d: Path) -> bool:
        return (d / _VALUE).is_file() and not self._expired(d, time.time())

    def _remove(self, d: Path) -> None:
        (d / _VALUE).unlink(missing_ok=True)
        (d / _EXPIRES).unlink(missing_ok=True)
        while d != self.path:  # prune now-empty directories up to the root
            try:
                d.rmdir()
            except OSError:
                break
            d = d.parent

    def _failed(self, action: str, key: str, exc: OSError) -> StoreError:
        return StoreError(f"{self!r} cannot {action} key {key!r}: {exc}")

    # --- the contract -------------------------------------------------------------------

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        # The hot path of every stored node output: plain os calls, no pathlib objects,
        # and one ``mkdir`` per directory that is actually new (see ``_makedirs``).
        d = os.path.join(self._root, *key.split("/"))
        for attempt in range(3):  # a concurrent delete may prune the directory under us
            try:
                fresh = self._makedirs(d)
                expires = os.path.join(d, _EXPIRES)
                if ttl is not None:
                    self._write_file(expires, repr(_deadline(ttl)).encode())
                elif not fresh:  # a directory made just now holds no old sidecar
                    try:
                        os.unlink(expires)
                    except FileNotFoundError:
                        pass
                self._write_file(os.path.join(d, _VALUE), data)
                return
            except FileNotFoundError as exc:
                self._made.clear()  # something we remembered was pruned: forget it all
                if attempt == 2:
                    raise self._failed("write", key, exc) from exc
            except OSError as exc:
                raise self._failed("write", key, exc) from exc

    def _makedirs(self, d: str) -> bool:
        """Make directory ``d`` and its missing parents; True when ``d`` itself was made now.

        The parents this store made or found are remembered (``self._made``, bounded), so
        the second node of a run costs one ``mkdir`` for its own directories and no
        ``stat`` of the run's: ``os.makedirs`` checks every parent on every call. A
        remembered parent that was removed since (a delete prunes empty directories, so
        may another process) makes ``mkdir`` fail with ``FileNotFoundError``; then the
        parents are made the slow way and the memory is dropped."""
        parent = os.path.dirname(d)
        made = self._made
        if parent != self._root and parent not in made:
            self._makedirs(parent)
        try:
            os.mkdir(d)
        except FileExistsError:
            fresh = False
        except FileNotFoundError:  # a remembered parent is gone (or the root itself)
            made.clear()
            os.makedirs(parent, exist_ok=True)
            try:
                os.mkdir(d)
            except FileExistsError:
                fresh = False
            else:
                fresh = True
        else:
            fresh = True
        if len(made) >= _MADE_LIMIT:
            made.clear()
        made.add(d)
        return fresh

    def _write_file(self, target: str, data: bytes) -> None:
        """Write to a unique temporary name beside ``target``, then rename over it."""
        atomic_write(target, data, fsync=self.fsync)

    def _get(self, key: str) -> bytes | None:
        d = self._dir(key)
        if self._expired(d, time.time()):
            self._remove(d)
            return None
        try:
            return (d / _VALUE).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._failed("read", key, exc) from exc

    def _exists(self, key: str) -> bool:
        return self._alive(self._dir(key))

    def _delete(self, key: str) -> bool:
        d = self._dir(key)
        existed = self._alive(d)
        self._remove(d)
        return existed

    def _keys(self, prefix: str) -> list[str]:
        *dirs, _ = prefix.split("/")
        try:  # a prefix whose complete parts are not valid key parts matches no key
            for part in dirs:
                validate_key_part(part)
        except StoreError:
            return []
        now = time.time()
        found = []
        for dirpath, dirnames, filenames in os.walk(self.path.joinpath(*dirs)):
            dirnames[:] = [n for n in dirnames if not n.startswith(".")]
            if _VALUE in filenames:
                d = Path(dirpath)
                key = d.relative_to(self.path).as_posix()
                if key.startswith(prefix) and not self._expired(d, now):
                    found.append(key)
        return found

    def _expire(self, key: str, seconds: float) -> bool:
        d = self._dir(key)
        if not self._alive(d):
            return False
        self._write(d / _EXPIRES, repr(_deadline(seconds)).encode())
        return True

    def _cleanup_expired(self) -> int:
        now, removed = time.time(), 0
        for dirpath, _dirnames, filenames in os.walk(self.path, topdown=False):
            d = Path(dirpath)
            if _EXPIRES in filenames and self._expired(d, now):
                removed += _VALUE in filenames
                self._remove(d)
        return removed
