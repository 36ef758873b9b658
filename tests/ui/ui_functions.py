"""Functions the UI / observability tests register by import path (--allow-module ui_functions)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("ui_functions")


def start(x: int = 0, **_: object) -> dict:
    print(f"starting with {x}")
    return {"x": x}


def work(x: int = 0, delay: float = 0.0, **_: object) -> dict:
    time.sleep(delay)
    log.warning("worked on %s", x)
    return {"x": x + 1}


def finish(x: int = 0, **_: object) -> dict:
    return {"x": x * 10}


def explode(x: int = 0, **_: object) -> dict:
    print("about to explode", x)
    print("stderr line", file=sys.stderr)
    log.error("explode sees %s", x)
    raise ValueError(f"explode refused {x}")


def hold(x: int = 0, gate: str = "", **_: object) -> dict:
    """Wait (at most 30 s) for the file ``gate``: a long run the tests can cancel."""
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"x": x}
