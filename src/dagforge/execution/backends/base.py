"""The backend contract: run callables, report completions, decide nothing.

A backend receives jobs from the engine (``submit``) and hands back completion events
(``wait``). It makes no scheduling decisions: ordering, admission, retries and skipping
all stay in the engine (DESIGN.md §3). ``capacity`` tells the engine how many jobs the
backend can run at once so the engine never queues work the backend cannot start —
that keeps the engine's priority order meaningful.
"""

from __future__ import annotations

from typing import Any


class Backend:
    """Base class of execution backends."""

    name = "backend"
    #: True when ``submit`` runs the job to completion before returning.
    synchronous = False

    def __init__(self) -> None:
        self.worker_names: list[str] = []

    @property
    def capacity(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        """Prepare workers; called once per run before the first submit."""

    def submit(self, job: tuple) -> Any:
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[tuple]:
        """Block until at least one completion (or ``timeout``); return all available."""
        raise NotImplementedError

    async def wait_async(self, timeout: float | None) -> list[tuple]:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.wait, timeout)

    @staticmethod
    def select(value: Any, output: str) -> Any:
        """One output of a Task node's value; remote backends return a remote handle."""
        return value[output]

    def abandon(self, idx: int, attempt: int) -> None:
        """Give up on a running job (timeout, interrupt); free its slot if possible."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop workers; ``wait=False`` leaves running jobs behind."""
