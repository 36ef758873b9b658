"""Functions the platform tests register by import path."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _mark(marker_dir: str, node: str, x: object) -> None:
    """Record one call of ``node`` in ``marker_dir`` (counts invocations across restarts)."""
    if marker_dir:
        Path(marker_dir).mkdir(parents=True, exist_ok=True)
        Path(marker_dir, f"{node}-{os.getpid()}-{time.time_ns()}").write_text(str(x))


def double(x: int = 0, marker_dir: str = "", **_: object) -> dict:
    _mark(marker_dir, "double", x)
    return {"x": x * 2}


def add_one(x: int = 0, marker_dir: str = "", **_: object) -> dict:
    _mark(marker_dir, "add_one", x)
    return {"x": x + 1}


def slow_count(
    x: int = 0, marker_dir: str = "", delay: float = 0.0, gate: str = "", **_: object
) -> dict:
    """Sleep ``delay``, wait (at most 30 s) for the file ``gate``, then record the call."""
    time.sleep(delay)
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    _mark(marker_dir, "slow_count", x)
    return {"x": x + 1}


def boom(x: int = 0, **_: object) -> dict:
    raise ValueError(f"boom on {x}")


def gated(x: int = 0, gate: str = "", **_: object) -> dict:
    """Wait (at most 30 s) until the file ``gate`` exists: holds a worker deterministically."""
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"x": x}


def nan_out(x: int = 0, **_: object) -> dict:
    """An output that is not JSON: the node must fail naming the key."""
    return {"ok": x, "ratio": float("nan")}
