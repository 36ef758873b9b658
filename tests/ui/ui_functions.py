"""Functions the UI / observability tests register by import path (--allow-module ui_functions)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("ui_functions")


def start(x: int = 0, **_: object) -> dict:
    CALLS["start"] = CALLS.get("start", 0) + 1
    print(f"starting with {x}")
    return {"x": x}


CALLS: dict[str, int] = {}


def _wait(gate: str) -> None:
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def work(x: int = 0, gate: str = "", **_: object) -> dict:
    """Waits (at most 30 s) for the file ``gate`` when one is given."""
    _wait(gate)
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
    _wait(gate)
    return {"x": x}


def flaky(x: int = 0, fixed: str = "", **_: object) -> dict:
    """Fails until the file ``fixed`` exists (a failure a retry can get past)."""
    print("flaky sees", x)
    if not Path(fixed).exists():
        raise RuntimeError(f"flaky: {fixed} does not exist yet")
    return {"x": x + 100}


def tick(x: int = 0, **_: object) -> dict:
    return {"x": x + 1}
