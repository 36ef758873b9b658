"""The ``threads`` backend: a fixed set of worker threads fed by one queue.

Concurrency hazards:
- ``_jobs`` and ``_done`` are ``queue.SimpleQueue``s: the engine thread is the only
  producer of ``_jobs`` and the only consumer of ``_done``.
- ``_running`` (worker id -> (idx, attempt)) is written by workers and read by the
  engine in ``abandon``; both hold ``_lock``.
- A Python thread cannot be killed. ``abandon`` (timeout, interrupt) retires the worker
  running that job — it exits once the job returns, and its late event is ignored by the
  engine's attempt check — and starts a replacement so capacity stays constant.
"""

from __future__ import annotations

import os
import queue
import threading

from dagforge.execution.backends.base import Backend
from dagforge.execution.worker import run_job

_STOP = None


class ThreadBackend(Backend):
    """Runs nodes on ``max_workers`` daemon threads."""

    name = "threads"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running: dict[int, tuple[int, int]] = {}
        self._retired: set[int] = set()
        self._threads: list[threading.Thread] = []

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

    def _work(self, wid: int) -> None:
        jobs, done, lock, running = self._jobs, self._done, self._lock, self._running
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            with lock:
                running[wid] = (job[0], job[1])
            event = run_job(job, wid)
            with lock:
                running.pop(wid, None)
                retired = wid in self._retired
            done.put(event)
            if retired:
                return

    def submit(self, job: tuple) -> None:
        self._jobs.put(job)

    def wait(self, timeout: float | None) -> list[tuple]:
        done = self._done
        try:
            events = [done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(done.get_nowait())
            except queue.Empty:
                return events

    def abandon(self, idx: int, attempt: int) -> None:
        with self._lock:
            for wid, running in self._running.items():
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
                stuck = {w for w in self._running}
            for wid, t in enumerate(self._threads):
                if wid not in stuck:
                    t.join(timeout=5)
