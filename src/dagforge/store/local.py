"""``LocalDirStore``: keys as files in nested directories under one root — the embedded default.

Layout ("v2", the only one written), for key ``a/b/c`` under the root ``R``:

- the value is the file ``R/a/b/.v.c``: the last part of the key is a file in the
  directory of the other parts (a one-part key ``a`` is ``R/.v.a``);
- a ttl is the sidecar ``R/a/b/.e.c`` (wall-clock epoch seconds, ``repr`` of a float);
- a write goes to a temporary ``.t.<pid>-<thread>-<n>`` in the same directory first.

Old layout ("v1", written by earlier versions, read as it is; no migration step): key
``a/b/c`` is the directory ``R/a/b/c`` holding ``.value`` and ``.expires`` (its
temporaries were ``.value.<pid>-<thread>-<n>.tmp``).

Invariants:

1. Key parts never start with ``.`` (``validate_key_part``), so every directory under
   ``R`` is a key part and every file is the store's own. The name prefixes ``.v.``,
   ``.e.``, ``.t.``, ``.value`` and ``.expires`` never overlap, so a value, a sidecar
   and a temporary file of either layout are never mistaken for one another: a listing
   never reports an in-flight temporary file as a key, and the directory of key
   ``a/b/c`` (``R/a/b``) never collides with the value file of key ``a/b``
   (``R/a/.v.b``) — a key and a longer key under it both exist.
2. A key exists in v2 exactly when its ``.v.`` file does; its ``.e.`` sidecar counts
   only then (a stray one, left by a failed write, is ignored and cleaned up).
3. A v2 entry shadows the v1 entry of the same key, alive or expired: while
   ``R/a/b/.v.c`` exists, ``R/a/b/c/.value`` is never returned, listed or expired.
   Removing a key (``delete``, an expired read, ``cleanup_expired``) removes both
   entries, so a stale v1 value never reappears.
4. Values and sidecars are replaced with :func:`os.replace`: a reader sees the old bytes
   or the new ones, never a torn file.
5. Directories are made on demand and pruned when they become empty (up to, not
   including, the root). A write that finds a directory pruned under it (a concurrent
   delete, another process, an ``rmtree`` of the root) makes it again and retries.
6. The directories a store made or found are remembered (a bounded set), so a put makes
   only the directories that are new, one ``mkdir`` each, and a directory made by that
   put holds no old sidecar to remove; a remembered directory that is gone makes the
   write fail with ``FileNotFoundError``, which drops the memory and retries.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dagforge._files import atomic_write
from dagforge.errors import StoreError
from dagforge.store.base import Store, _deadline, validate_key_part

__all__ = ["LocalDirStore"]

_V = ".v."  # v2 value file:    <dir>/.v.<last part>
_E = ".e."  # v2 ttl sidecar:   <dir>/.e.<last part>
_T = ".t."  # temporary file of an atomic write (either layout)
_OLD_VALUE = ".value"  # v1: <dir>/<last part>/.value
_OLD_EXPIRES = ".expires"  # v1: <dir>/<last part>/.expires
_MADE_LIMIT = 4096  # directories remembered as existing (LocalDirStore._makedirs)
_ATTEMPTS = 3  # a write retried after a concurrent prune of its directory


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _expired(sidecar: str, now: float) -> bool:
    """True when ``sidecar`` holds a deadline at or before ``now``."""
    try:
        with open(sidecar, "rb") as f:
            return float(f.read()) <= now
    except (OSError, ValueError):  # no sidecar (or an unreadable one): no expiry
        return False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class LocalDirStore(Store):
    """Each key is a file under ``path``: ``run/node/output`` is ``<path>/run/node/.v.output``.

    The last part of a key is a file in the directory of its other parts, so a run of
    three nodes with one output each makes four directories (the run's, one per node)
    and three files. Key parts never start with ``.``, so a key and a longer key under
    it (``a/b`` is ``<path>/a/.v.b``, ``a/b/c`` is ``<path>/a/b/.v.c``) never collide.
    Writes go to a temporary file ``.t.<unique>`` in the same directory (never listed as
    a key) and are moved into place with :func:`os.replace`, so a reader sees the old
    bytes or the new ones, never a torn file; ``fsync=True`` also flushes them to disk
    before the move (slower, survives power loss).

    A ttl is written to a sidecar file ``.e.<last part>`` beside the value (wall-clock
    epoch seconds). Reads treat an expired key as missing and remove it;
    :meth:`cleanup_expired` walks the whole tree and removes every expired key — call it
    periodically (the platform's housekeeping does).

    A data directory written by an earlier version (each key a directory holding
    ``.value`` and ``.expires``) is read as it is: every method sees both layouts, a
    key written now shadows the same key in the old layout, and removing a key removes
    both. The module docstring states the layout's invariants.
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

    def _where(self, key: str) -> tuple[str, str]:
        """The directory holding ``key``'s files, and the key's last part."""
        head, _, leaf = key.rpartition("/")
        if not head:
            return self._root, leaf
        return os.path.join(self._root, *head.split("/")), leaf

    def _alive(self, d: str, leaf: str, now: float) -> bool:
        if os.path.isfile(os.path.join(d, _V + leaf)):  # v2 shadows v1, alive or not
            return not _expired(os.path.join(d, _E + leaf), now)
        old = os.path.join(d, leaf)
        return os.path.isfile(os.path.join(old, _OLD_VALUE)) and not _expired(
            os.path.join(old, _OLD_EXPIRES), now
        )

    def _remove(self, d: str, leaf: str) -> None:
        """Remove both layouts' files of the key ``leaf`` in ``d``, then prune."""
        _unlink(os.path.join(d, _V + leaf))
        _unlink(os.path.join(d, _E + leaf))
        self._remove_old(os.path.join(d, leaf))

    def _remove_old(self, old: str) -> None:
        """Remove the v1 entry in directory ``old`` (never a v2 file), then prune."""
        _unlink(os.path.join(old, _OLD_VALUE))
        _unlink(os.path.join(old, _OLD_EXPIRES))
        self._prune(old)

    def _prune(self, d: str) -> None:
        """Remove ``d`` and its parents while they are empty, up to (not) the root."""
        root, made = self._root, self._made
        while d != root and len(d) > len(root):
            try:
                os.rmdir(d)
            except FileNotFoundError:  # a v2-only key has no directory of its own
                pass
            except OSError:  # not empty (or not ours to remove): stop here
                break
            made.discard(d)  # removed, or gone already
            d = os.path.dirname(d)

    def _failed(self, action: str, key: str, exc: OSError) -> StoreError:
        return StoreError(f"{self!r} cannot {action} key {key!r}: {exc}")

    def _write_file(self, d: str, target: str, data: bytes) -> None:
        """Write to a unique ``.t.`` temporary in ``d`` (the directory of ``target``),
        then rename it over ``target``."""
        atomic_write(target, data, fsync=self.fsync, tmp_prefix=os.path.join(d, _T))

    # --- the contract -------------------------------------------------------------------

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        # The hot path of every stored node output: plain os calls, no pathlib objects,
        # and one ``mkdir`` per directory that is actually new (see ``_makedirs``).
        d, leaf = self._where(key)
        nested = d != self._root
        for attempt in range(_ATTEMPTS):  # a concurrent delete may prune the directory
            try:
                if nested:
                    fresh = self._makedirs(d)
                else:  # a one-part key lives in the root, which may have been removed
                    fresh = False
                    if attempt:
                        os.makedirs(d, exist_ok=True)
                expires = os.path.join(d, _E + leaf)
                if ttl is not None:
                    self._write_file(d, expires, repr(_deadline(ttl)).encode())
                elif not fresh:  # a directory made just now holds no old sidecar
                    _unlink(expires)
                self._write_file(d, os.path.join(d, _V + leaf), data)
                return
            except FileNotFoundError as exc:
                self._made.clear()  # something we remembered was pruned: forget it all
                if attempt == _ATTEMPTS - 1:
                    raise self._failed("write", key, exc) from exc
            except OSError as exc:
                raise self._failed("write", key, exc) from exc

    def _makedirs(self, d: str) -> bool:
        """Make directory ``d`` and its missing parents; True when ``d`` itself was made now.

        The directories this store made or found are remembered (``self._made``,
        bounded): a remembered ``d`` costs no system call at all, and a new ``d`` one
        ``mkdir``, with no ``stat`` of its parents (``os.makedirs`` checks every parent
        on every call). A remembered directory that was removed since (a delete prunes
        empty directories, so may another process) makes the write into it, or the
        ``mkdir`` under it, fail with ``FileNotFoundError``; then the parents are made
        the slow way and the memory is dropped."""
        made = self._made
        if d in made:
            return False
        parent = os.path.dirname(d)
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

    def _get(self, key: str) -> bytes | None:
        d, leaf = self._where(key)
        try:
            try:
                data = _read(os.path.join(d, _V + leaf))
            except FileNotFoundError:  # no v2 entry: the v1 one, if any
                old = os.path.join(d, leaf)
                if _expired(os.path.join(old, _OLD_EXPIRES), time.time()):
                    self._remove_old(old)  # not a v2 value a concurrent put just made
                    return None
                try:
                    return _read(os.path.join(old, _OLD_VALUE))
                except FileNotFoundError:
                    return None
            if _expired(os.path.join(d, _E + leaf), time.time()):
                self._remove(d, leaf)
                return None
            return data
        except OSError as exc:
            raise self._failed("read", key, exc) from exc

    def _exists(self, key: str) -> bool:
        d, leaf = self._where(key)
        return self._alive(d, leaf, time.time())

    def _delete(self, key: str) -> bool:
        d, leaf = self._where(key)
        existed = self._alive(d, leaf, time.time())
        try:
            self._remove(d, leaf)
        except OSError as exc:
            raise self._failed("delete", key, exc) from exc
        return existed

    def _keys(self, prefix: str) -> list[str]:
        *dirs, partial = prefix.split("/")
        try:  # a prefix whose complete parts are not valid key parts matches no key
            for part in dirs:
                validate_key_part(part)
        except StoreError:
            return []
        now, root = time.time(), self._root
        top = os.path.join(root, *dirs)
        cut = len(root) + 1
        new: dict[str, bool] = {}  # v2 keys -> alive (an expired one still shadows v1)
        old: list[str] = []  # alive v1 keys
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath == top:  # below the prefix's last, partial part only
                dirnames[:] = [n for n in dirnames if n.startswith(partial)]
            rel = dirpath[cut:].replace(os.sep, "/") if dirpath != root else ""
            names = set(filenames)
            for name in filenames:
                if name.startswith(_V):
                    leaf = name[len(_V) :]
                    key = f"{rel}/{leaf}" if rel else leaf
                    if key.startswith(prefix):
                        sidecar = _E + leaf
                        new[key] = not (
                            sidecar in names and _expired(os.path.join(dirpath, sidecar), now)
                        )
            if _OLD_VALUE in names and rel and rel.startswith(prefix):
                expired = _OLD_EXPIRES in names and _expired(
                    os.path.join(dirpath, _OLD_EXPIRES), now
                )
                if not expired:
                    old.append(rel)
        return [k for k, alive in new.items() if alive] + [k for k in old if k not in new]

    def _expire(self, key: str, seconds: float) -> bool:
        d, leaf = self._where(key)
        now = time.time()
        deadline = repr(_deadline(seconds)).encode()
        try:
            if os.path.isfile(os.path.join(d, _V + leaf)):  # the live entry is v2
                if _expired(os.path.join(d, _E + leaf), now):
                    return False
                self._write_file(d, os.path.join(d, _E + leaf), deadline)
                return True
            old = os.path.join(d, leaf)
            if not os.path.isfile(os.path.join(old, _OLD_VALUE)) or _expired(
                os.path.join(old, _OLD_EXPIRES), now
            ):
                return False
            self._write_file(old, os.path.join(old, _OLD_EXPIRES), deadline)
            return True
        except FileNotFoundError:  # deleted (and its directory pruned) just now
            return False
        except OSError as exc:
            raise self._failed("expire", key, exc) from exc

    def _cleanup_expired(self) -> int:
        now, removed, root = time.time(), 0, self._root
        cut = len(root) + 1
        # bottom-up: a v1 key directory (R/a/b/c) is seen before the directory holding
        # the v2 entry that may shadow it (R/a/b)
        for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
            names = set(filenames)
            key = ""
            try:
                if _OLD_EXPIRES in names and dirpath != root:
                    key = dirpath[cut:].replace(os.sep, "/")
                    if _expired(os.path.join(dirpath, _OLD_EXPIRES), now):
                        parent, leaf = os.path.split(dirpath)
                        # a v1 entry shadowed by a v2 one is no key of its own (the v2
                        # entry, if expired, is counted when its directory comes)
                        shadowed = os.path.isfile(os.path.join(parent, _V + leaf))
                        removed += _OLD_VALUE in names and not shadowed
                        self._remove_old(dirpath)
                for name in filenames:
                    if not name.startswith(_E):
                        continue
                    leaf = name[len(_E) :]
                    rel = dirpath[cut:].replace(os.sep, "/") if dirpath != root else ""
                    key = f"{rel}/{leaf}" if rel else leaf
                    if not _expired(os.path.join(dirpath, name), now):
                        continue
                    if os.path.isfile(os.path.join(dirpath, _V + leaf)):
                        removed += 1
                        self._remove(dirpath, leaf)  # and the stale v1 entry under it
                    else:  # a stray sidecar (a write failed after writing it)
                        _unlink(os.path.join(dirpath, name))
                        self._prune(dirpath)
            except OSError as exc:
                raise self._failed("clean up expired", key, exc) from exc
        return removed
