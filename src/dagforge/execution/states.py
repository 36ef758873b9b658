"""Node and run lifecycles: defined in :mod:`dagforge.states` and re-exported here.

They live a layer below the engine (DESIGN.md §2) so that rules can read node states
without importing the engine; engine-side code may keep importing them from here.
"""

from __future__ import annotations

from dagforge.states import (
    ALLOWED,
    CANCELLED,
    FAILED,
    NAMES,
    PENDING,
    READY,
    RETRY_WAIT,
    RUN_CANCELLED,
    RUN_CREATED,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TERMINAL,
    TIMED_OUT,
    check_run_transition,
    illegal,
)

__all__ = [
    "ALLOWED",
    "CANCELLED",
    "FAILED",
    "NAMES",
    "PENDING",
    "READY",
    "RETRY_WAIT",
    "RUNNING",
    "RUN_CANCELLED",
    "RUN_CREATED",
    "RUN_FAILED",
    "RUN_RUNNING",
    "RUN_SUCCEEDED",
    "SKIPPED",
    "SUCCEEDED",
    "TERMINAL",
    "TIMED_OUT",
    "check_run_transition",
    "illegal",
]
