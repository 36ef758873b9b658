"""Execution backends. Heavy ones (processes, asyncio, dask) are imported on use."""

from __future__ import annotations

from typing import Any

from dagforge.errors import RunArgumentError
from dagforge.execution.backends.base import Backend

BACKENDS = ("inline", "threads", "processes", "asyncio", "dask")


def make_backend(spec: Any, *, max_workers: int | None = None, **options: Any) -> Backend:
    """A backend from a name (``"inline"``, ``"threads"``, ...) or a ``Backend`` instance."""
    if isinstance(spec, Backend):
        return spec
    if spec in (None, "inline"):
        from dagforge.execution.backends.inline import InlineBackend

        return InlineBackend()
    if spec == "threads":
        from dagforge.execution.backends.threads import ThreadBackend

        return ThreadBackend(max_workers)
    if spec == "processes":
        from dagforge.execution.backends.processes import ProcessBackend

        return ProcessBackend(max_workers)
    if spec == "asyncio":
        from dagforge.execution.backends.asyncio_backend import AsyncioBackend

        return AsyncioBackend(max_workers)
    if isinstance(spec, str) and (spec == "dask" or spec.startswith("dask://")):
        from dagforge.execution.backends.dask_backend import DaskBackend

        address = options.get("address")
        if spec.startswith("dask://"):
            address = "tcp://" + spec[len("dask://") :]
        return DaskBackend(address=address, n_workers=max_workers)
    raise RunArgumentError(
        f"unknown backend {spec!r}; choose one of {', '.join(BACKENDS)} or pass a Backend instance"
    )
