"""Functions of the resource tests (--allow-module resource_functions): each notes when
it starts and ends in the file ``log`` and may wait for the file ``gate``."""

from __future__ import annotations

import time
from pathlib import Path


def _held(name: str, log: str, gate: str) -> dict:
    if log:
        with open(log, "a") as fh:
            fh.write(f"{name} start {time.monotonic()!r}\n")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if log:
        with open(log, "a") as fh:
            fh.write(f"{name} end {time.monotonic()!r}\n")
    return {}


def start(**_: object) -> dict:
    return {}


def left(log: str = "", gate: str = "", **_: object) -> dict:
    return _held("left", log, gate)


def right(log: str = "", gate: str = "", **_: object) -> dict:
    return _held("right", log, gate)


def solo(log: str = "", gate: str = "", run: str = "", **_: object) -> dict:
    return _held(f"solo-{run}", log, gate)


def spans(log: Path) -> dict[str, tuple[float, float]]:
    """``{name: (start, end)}`` from the file the functions wrote."""
    out: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        name, what, t = line.split()
        out.setdefault(name, [0.0, 0.0])[0 if what == "start" else 1] = float(t)
    return {k: (v[0], v[1]) for k, v in out.items()}
