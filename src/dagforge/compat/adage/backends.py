"""adage's backends (``adage.backends``) as dagforge backends.

A backend here only says *where* nodes run; the engine schedules. ``MultiProcBackend(n)``
runs nodes in ``n`` worker processes (dagforge's ``processes`` backend, tasks shipped with
cloudpickle), ``ThreadBackend(n)`` on threads, ``InlineBackend()`` one at a time on the
calling thread, ``DaskBackend(address)`` on a Dask cluster (adage's "distributed").
"""

from __future__ import annotations

from typing import Any

__all__ = ["DaskBackend", "InlineBackend", "MultiProcBackend", "ThreadBackend"]


class _Backend:
    def __init__(self, **executor_options: Any):
        self.executor_options = executor_options

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.executor_options}>"


class MultiProcBackend(_Backend):
    def __init__(self, poolsize: int):
        super().__init__(backend="processes", max_workers=int(poolsize))


class ThreadBackend(_Backend):
    def __init__(self, poolsize: int = 4):
        super().__init__(backend="threads", max_workers=int(poolsize))


class InlineBackend(_Backend):
    def __init__(self) -> None:
        super().__init__(backend="inline")


class DaskBackend(_Backend):
    def __init__(self, address: str | None = None, **options: Any):
        super().__init__(backend="dask", address=address, **options)
