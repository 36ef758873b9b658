"""The backend contract: run callables, report completions, decide nothing.

A backend receives :class:`~dagforge.execution.jobs.Job` records from the engine
(``submit``) and hands back :class:`~dagforge.execution.jobs.Event` records (``wait``).
It makes no scheduling decisions: ordering, admission, retries and skipping all stay in
the engine (DESIGN.md §3). ``capacity`` tells the engine how many jobs the backend can
run at once so the engine never queues work the backend cannot start — that keeps the
engine's priority order meaningful.

:class:`ExecutionBackend` is the contract (a ``typing.Protocol``); :class:`Backend` is
the base class every built-in backend derives from, with the defaults.

Who calls what, from which thread:

- ``start``, ``submit``, ``abandon``, ``finalize`` and ``shutdown`` are called by
  whichever thread is the engine at that moment (the thread running ``Run.run`` —
  or, on the threads backend, a worker holding the run's engine lock); never two at
  once.
- ``wait`` / ``wait_async`` are called by the driver thread only, *without* the engine
  lock (so workers may apply their own completions meanwhile, see ``attach``).
- ``capacity``, ``name``, ``synchronous``, ``worker_names`` and ``select`` are read by
  the engine at any time; they do not change during a run (``worker_names`` may grow
  when a backend replaces a worker).

Optional hooks, looked up with ``getattr`` (a backend may define any of them):

- ``clock``: the backend's own clock (see ``Run``: virtual time for simulators);
- ``attach(engine_lock, apply, release)``: the backend's workers apply completions
  themselves under ``engine_lock`` (the threads backend);
- ``run_opts`` / ``run_conditions``: set by the engine before ``start`` (remote
  backends map node options and see conditional edges);
- ``finalize(run)``, ``materialize(run, i)``, ``resolve(value)``: fetch remote values
  before the result is built, for the cache, and for cache keys (Dask).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from dagforge.execution.jobs import Event, Job


@runtime_checkable
class ExecutionBackend(Protocol):
    """What the engine needs of a backend (see the module docstring for threads)."""

    #: shown in results and messages ("inline", "threads", ...)
    name: str
    #: True when ``submit`` runs the job to completion and returns its event
    synchronous: bool
    #: one display name per worker; an event's ``worker`` indexes it
    worker_names: list[str]

    @property
    def capacity(self) -> int:
        """How many jobs may run at once (the engine never submits more)."""
        ...

    def start(self) -> None:
        """Prepare workers; called once per run before the first ``submit``."""
        ...

    def submit(self, job: Job) -> Any:
        """Start ``job``; a synchronous backend returns its ``Event``, others return at
        once and report it through ``wait``."""
        ...

    def wait(self, timeout: float | None) -> list[Event]:
        """Block until at least one completion or ``timeout`` seconds (None: no limit);
        return every event available (``[]`` when the timeout came first)."""
        ...

    async def wait_async(self, timeout: float | None) -> list[Event]:
        """``wait`` for the asyncio driver."""
        ...

    def abandon(self, idx: int, attempt: int) -> None:
        """Give up on a running job (timeout, interrupt) and free its slot; a late event
        of it may still come and is ignored (its attempt number is stale)."""
        ...

    def select(self, value: Any, output: str) -> Any:
        """One output of a Task node's value (remote backends: a remote handle)."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop workers; ``wait=False`` leaves running jobs behind."""
        ...


class Backend:
    """Base class of execution backends: the defaults of :class:`ExecutionBackend`."""

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

    def submit(self, job: Job) -> Any:
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[Event]:
        """Block until at least one completion (or ``timeout``); return all available."""
        raise NotImplementedError

    async def wait_async(self, timeout: float | None) -> list[Event]:
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
