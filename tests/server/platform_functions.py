"""Functions the platform tests register by import path."""

from __future__ import annotations

import os
import time
from pathlib import Path


def double(x: int = 0, **_: object) -> dict:
    return {"x": x * 2}


def add_one(x: int = 0, **_: object) -> dict:
    return {"x": x + 1}


def slow_count(x: int = 0, marker_dir: str = "", delay: float = 0.0, **_: object) -> dict:
    """Sleep, then record one call in ``marker_dir`` (to count invocations across restarts)."""
    time.sleep(delay)
    if marker_dir:
        Path(marker_dir).mkdir(parents=True, exist_ok=True)
        Path(marker_dir, f"call-{os.getpid()}-{time.time_ns()}").write_text(str(x))
    return {"x": x + 1}


def boom(x: int = 0, **_: object) -> dict:
    raise ValueError(f"boom on {x}")


def gated(x: int = 0, gate: str = "", **_: object) -> dict:
    """Wait (at most 30 s) until the file ``gate`` exists: holds a worker deterministically."""
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"x": x}
