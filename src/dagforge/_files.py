"""One atomic file write for every file dagforge produces (profiles, traces, stores, cache).

The data goes to a temporary name in the target's directory and is renamed over the
target with :func:`os.replace`, so a reader sees the old file or the new one, never a
half-written one. The temporary file is created with mode ``0o666`` filtered by the
process umask — the mode any ``open(path, "w")`` would give — not ``mkstemp``'s
``0o600``, so another account (a scheduler reading ``profile.json``) can read what the
umask allows it to.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["atomic_write"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_counter = iter(range(1 << 62))


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = True, mkdir: bool = False
) -> str:
    """Write ``data`` (``str`` is UTF-8 encoded) to ``path`` atomically; returns the path."""
    target = os.fspath(path)
    if mkdir:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = f"{target}.{os.getpid()}-{threading.get_ident()}-{next(_counter)}.tmp"
    try:
        fd = os.open(tmp, _FLAGS, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
