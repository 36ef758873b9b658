"""One atomic file write for every file dagforge produces (profiles, traces, stores, cache).

The data goes to a temporary name in the target's directory and is renamed over the
target with :func:`os.replace`, so a reader sees the old file or the new one, never a
half-written one. The temporary file is created with mode ``0o666`` filtered by the
process umask — the mode any ``open(path, "w")`` would give — not ``mkstemp``'s
``0o600``, so another account (a scheduler reading ``profile.json``) can read what the
umask allows it to.

The temporary name is ``<target>.<pid>-<thread>-<n>.tmp`` unless the caller passes
``tmp_prefix`` (a store whose directory listing must never mistake a temporary file for
data picks a prefix no data file can have): then it is ``<tmp_prefix><pid>-<thread>-<n>``.
Either way it is unique per process, thread and write, so concurrent writers of one
target never share a temporary file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["atomic_write"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_counter = iter(range(1 << 62))


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    fsync: bool = True,
    mkdir: bool = False,
    tmp_prefix: str | None = None,
) -> str:
    """Write ``data`` (``str`` is UTF-8 encoded) to ``path`` atomically; returns the path.

    ``tmp_prefix``: the temporary file's path up to its unique suffix; it must lie in
    the target's directory (a rename is atomic only within one filesystem)."""
    target = os.fspath(path)
    if mkdir:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    unique = f"{os.getpid()}-{threading.get_ident()}-{next(_counter)}"
    tmp = f"{target}.{unique}.tmp" if tmp_prefix is None else tmp_prefix + unique
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
