"""The function the fencing tests register: which replica's thread ran it."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def whose(gate: str = "", entered: str = "", **_: object) -> dict:
    """Note the running thread in ``entered``, wait (at most 30 s) for the file ``gate``,
    then answer the thread's ident (the platform runs a sequential run on the
    dispatcher's own thread, so the ident says which replica ran the node)."""
    ident = threading.get_ident()
    if entered:
        Path(entered).mkdir(parents=True, exist_ok=True)
        Path(entered, str(ident)).write_text("")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"thread": ident}
