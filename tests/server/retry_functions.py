"""Functions of the redrive (retry) tests: each call appends its node's name to ``log``."""

from __future__ import annotations

import time
from pathlib import Path


def _called(log: str, node: str) -> None:
    if log:
        with open(log, "a") as fh:
            fh.write(node + "\n")


def first(x: int = 0, log: str = "", **_: object) -> dict:
    _called(log, "first")
    return {"x": x + 1}


def flaky(x: int = 0, log: str = "", marker: str = "", **_: object) -> dict:
    """Fails the first time (no ``marker`` file yet: it writes it), succeeds after."""
    _called(log, "flaky")
    if marker and not Path(marker).exists():
        Path(marker).write_text("failed once")
        raise RuntimeError("flaky fails the first time")
    return {"x": x * 10}


def last(x: int = 0, log: str = "", gate: str = "", **_: object) -> dict:
    """Waits (at most 30 s) for the file ``gate`` when one is named."""
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    _called(log, "last")
    return {"x": x + 5}


def quick(x: int = 0, log: str = "", **_: object) -> dict:
    _called(log, "quick")
    return {"y": x * 2}


def held(x: int = 0, log: str = "", gate: str = "", **_: object) -> dict:
    """Logs ``held`` when it starts, waits (at most 30 s) for ``gate``, logs ``held-done``."""
    _called(log, "held")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    _called(log, "held-done")
    return {"x": x + 5}


def join(x: int = 0, y: int = 0, log: str = "", **_: object) -> dict:
    _called(log, "join")
    return {"sum": x + y}
