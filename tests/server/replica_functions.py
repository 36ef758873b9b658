"""Functions of the replica test: each call appends one line to a shared file, last
thing before it returns, so the file counts the calls of every node of every run."""

from __future__ import annotations

import os
import time


def _append(log: str, tag: str, node: str) -> None:
    if log:
        with open(log, "a") as fh:  # O_APPEND: concurrent writers never interleave a line
            fh.write(f"{tag} {node} {os.getpid()}\n")


def first(x: int = 0, log: str = "", tag: str = "", **_: object) -> dict:
    _append(log, tag, "first")
    return {"x": x + 1}


def second(x: int = 0, log: str = "", tag: str = "", delay: float = 0.0, **_: object) -> dict:
    time.sleep(delay)
    _append(log, tag, "second")
    return {"x": x * 10}


def third(x: int = 0, log: str = "", tag: str = "", **_: object) -> dict:
    _append(log, tag, "third")
    return {"x": x + 3}


def flaky(x: int = 0, log: str = "", tag: str = "", fail_flag: str = "", **_: object) -> dict:
    """Fails while the file ``fail_flag`` exists (a retry after it is removed succeeds)."""
    _append(log, tag, "flaky")
    if fail_flag and os.path.exists(fail_flag):
        raise RuntimeError(f"{fail_flag} exists")
    return {"x": x + 100}


def hold(x: int = 0, gate: str = "", log: str = "", tag: str = "", **_: object) -> dict:
    """Wait (at most 30 s) until the file ``gate`` exists: occupies a worker."""
    deadline = time.monotonic() + 30
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    _append(log, tag, "hold")
    return {"x": x}
