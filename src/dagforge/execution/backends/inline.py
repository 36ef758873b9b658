"""The ``inline`` backend: run each node on the caller's thread, one at a time.

Deterministic: with the same graph and priorities, nodes run in the same order every
time. ``submit`` returns the completion event directly, so no queue is involved.
"""

from __future__ import annotations

import time

from dagforge.execution.backends.base import Backend
from dagforge.execution.jobs import Event, Job, run_job


class InlineBackend(Backend):
    """Runs nodes synchronously in the calling thread."""

    name = "inline"
    synchronous = True

    def __init__(self) -> None:
        super().__init__()
        self.worker_names = ["main"]

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, job: Job) -> Event:
        return run_job(job, 0)

    def wait(self, timeout: float | None) -> list[Event]:
        # Nothing is ever in flight; the engine only waits here for a retry timer.
        if timeout:
            time.sleep(timeout)
        return []
