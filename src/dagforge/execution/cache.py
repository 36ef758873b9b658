"""Content-addressed result cache: skip nodes whose code and inputs did not change.

A node's key is the SHA-256 of (its code identity, the values of its ``config_deps``,
its input values). Code identity is the function's module, qualified name, bytecode and
constants, so editing a task invalidates its entries and, through the changed outputs,
those of everything downstream; an unchanged re-run executes nothing.

Entries are pickle files in a local directory the user chose. Only point ``cache=`` or
``checkpoint=`` at a directory you trust: loading a pickle can run code. A value or
input that cannot be pickled simply makes that node uncacheable (it runs every time).
A checkpoint is the same cache: a run that failed half-way, re-run with the same
directory, restores every node that succeeded and runs the rest.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from dagforge.tasks import Task

DEFAULT_DIR = ".dagforge-cache"
_MISS = object()


def code_identity(fn: Any) -> bytes:
    """Bytes that change when the task's code changes."""
    target = fn.compute if isinstance(fn, Task) else fn
    inner = getattr(target, "fn", None)  # FunctionTask / MapItem wrap a function
    parts: list[Any] = []
    for obj in (target, inner):
        if obj is None:
            continue
        f = getattr(obj, "__func__", obj)
        code = getattr(f, "__code__", None)
        parts.append(getattr(f, "__module__", "") or "")
        parts.append(getattr(f, "__qualname__", type(f).__qualname__))
        if code is not None:
            parts.append(code.co_code)
            parts.append(repr(code.co_consts).encode())
    k = getattr(target, "k", None)
    if k is not None:
        parts.append(str(k))
    return b"\0".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)


class ResultCache:
    """A directory of pickled node values keyed by content hash."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path or DEFAULT_DIR)
        self.path.mkdir(parents=True, exist_ok=True)

    def key(self, fn: Any, cfg_values: Any, args: Any, kwargs: Any) -> str | None:
        """The entry key, or None when the inputs cannot be hashed (not cacheable)."""
        try:
            payload = pickle.dumps((cfg_values, args, kwargs), protocol=5)
        except Exception:
            return None
        h = hashlib.sha256(code_identity(fn))
        h.update(payload)
        return h.hexdigest()

    def get(self, key: str) -> Any:
        """The cached value, or the module's ``_MISS`` sentinel."""
        file = self.path / key[:2] / key
        try:
            with open(file, "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError:
            return _MISS
        except Exception:  # a corrupt or stale entry is a miss, not an error
            return _MISS

    def put(self, key: str, value: Any) -> bool:
        """Store atomically (temp file + rename); False when the value cannot be pickled."""
        folder = self.path / key[:2]
        folder.mkdir(exist_ok=True)
        try:
            data = pickle.dumps(value, protocol=5)
        except Exception:
            return False
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, folder / key)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    @staticmethod
    def is_hit(value: Any) -> bool:
        return value is not _MISS
