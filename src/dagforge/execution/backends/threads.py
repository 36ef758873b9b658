"""The ``threads`` backend: a fixed set of worker threads fed by one queue.

Completions are applied by the worker that produced them: a worker that finishes a job
takes the run's engine lock and, holding it, applies the event and dispatches what
became ready — so a chain of small tasks flows from worker to worker without waking the
engine thread for every node (waiting for the lock, held only for bookkeeping, is
cheaper than two thread hand-offs). Without an attached engine (``attach`` not called)
events go through the ``_done`` queue to the engine thread. Exactly one thread at a time
runs engine code, so the engine's single-owner invariants hold; callbacks may therefore
run on a worker thread, one at a time.

Concurrency hazards:
- Lock order: the run's engine lock, then this backend's ``_lock``; a worker never holds
  ``_lock`` while it takes the engine lock.
- ``_jobs`` and ``_done`` are ``queue.SimpleQueue``s; ``_running`` (worker id ->
  (idx, attempt)) is a dict whose single-key updates are atomic; ``abandon`` reads a
  snapshot of it under ``_lock``.
- A Python thread cannot be killed. ``abandon`` (timeout, interrupt) retires the worker
  running that job — it exits once the job returns, and its late event is ignored by the
  engine's attempt check — and starts a replacement so capacity stays constant.
- A worker that applied an event wakes the engine thread (a ``_WAKE`` on ``_done``) when
  the run may be over or a timer was set, because the engine thread sleeps until then.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

from dagforge.errors import RunArgumentError
from dagforge.execution.backends.base import Backend
from dagforge.execution.jobs import Event, Job, failed, run_job

_STOP = None
_WAKE = ("wake",)


class ThreadBackend(Backend):
    """Runs nodes on ``max_workers`` daemon threads."""

    name = "threads"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is None:
            max_workers = min(32, (os.cpu_count() or 1) + 4)
        self.max_workers = max_workers
        if self.max_workers < 1:
            raise RunArgumentError(f"max_workers must be >= 1, got {max_workers}")
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running: dict[int, tuple[int, int]] = {}
        self._retired: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._engine_lock: Any = None
        self._apply: Callable[[Event], bool] | None = None
        self._release: Callable[[int, int], None] | None = None

    @property
    def capacity(self) -> int:
        return self.max_workers

    def start(self) -> None:
        self._jobs = queue.SimpleQueue()
        self._done = queue.SimpleQueue()
        self.worker_names = []
        self._threads = []
        self._retired = set()
        for _ in range(self.max_workers):
            self._spawn()

    def _spawn(self) -> None:
        wid = len(self.worker_names)
        self.worker_names.append(f"thread-{wid}")
        t = threading.Thread(target=self._work, args=(wid,), name=f"dagforge-{wid}", daemon=True)
        self._threads.append(t)
        t.start()

    def attach(
        self,
        engine_lock: Any,
        apply: Callable[[Event], bool],
        release: Callable[[int, int], None] | None = None,
    ) -> None:
        """Let workers apply their own completions under ``engine_lock`` (see module doc).

        ``apply(event)`` applies one event and dispatches; it returns True when the
        engine thread must look (the run may be over, or a timer was set).
        ``release(idx, attempt)``, when given, returns the node's resources to the pool
        right after the call, outside the engine lock (the engine's serial section).
        """
        self._engine_lock = engine_lock
        self._apply = apply
        self._release = release

    def _work(self, wid: int) -> None:
        jobs, done, running, retired = self._jobs, self._done, self._running, self._retired
        engine_lock, apply, release = self._engine_lock, self._apply, self._release
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            running[wid] = (job.idx, job.attempt)
            try:
                event = run_job(job, wid)
            except BaseException as exc:  # KeyboardInterrupt/SystemExit from the node:
                # report it (the engine turns it into an interrupt) instead of dying silently
                now = perf_counter()
                event = failed(job.idx, job.attempt, exc, "", now, now, wid)
            del running[wid]
            # Two threads meet here. ``release`` runs OUTSIDE the engine lock: it pops
            # this attempt's entry of the run's ``held`` (atomic; nobody else touches a
            # running attempt's entry) and gives it to the pool under the pool's lock.
            # Then this worker takes the engine lock and, holding it, IS the engine:
            # ``apply`` runs the core (complete, fire timers, dispatch) on this thread.
            # Lock order: engine lock -> this backend's ``_lock`` (abandon, via the core)
            # -> the pool's lock; ``_lock`` is never held while taking the engine lock.
            if release is not None:
                release(job.idx, job.attempt)
            if apply is not None and engine_lock is not None and engine_lock.acquire():
                try:
                    wake = apply(event)
                finally:
                    engine_lock.release()
                if wake:
                    done.put(_WAKE)
            else:
                done.put(event)
            if wid in retired:
                return

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def wait(self, timeout: float | None) -> list[Event]:
        done = self._done
        try:
            first = done.get(timeout=timeout)
        except queue.Empty:
            return []
        events = [] if first is _WAKE else [first]
        while True:
            try:
                ev = done.get_nowait()
            except queue.Empty:
                return events
            if ev is not _WAKE:
                events.append(ev)

    def abandon(self, idx: int, attempt: int) -> None:
        with self._lock:
            for wid, running in list(self._running.items()):
                if running == (idx, attempt) and wid not in self._retired:
                    self._retired.add(wid)
                    break
            else:
                return
        self._spawn()

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._threads:
            self._jobs.put(_STOP)
        if wait:
            with self._lock:
                stuck = set(self._running)
            for wid, t in enumerate(self._threads):
                if wid not in stuck:
                    t.join(timeout=5)
