"""The ``processes`` backend: one job at a time per worker process, over pipes.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies, the
whole pool breaks and every pending future fails, so we could not tell which node killed
it. Here each worker has its own pipe and its own job, so a death (``os._exit``,
SIGKILL, a segfault) fails exactly that node with ``WorkerLostError``; the worker is
replaced and the run goes on. A node past its ``timeout`` is killed the same way.

Jobs and results travel with cloudpickle, so lambdas and closures work. A node whose
function or arguments cannot be pickled fails alone (``SerializationError``) before it
reaches a worker; a result that cannot be pickled back fails its node the same way
instead of hanging. ``SystemExit`` in a node is that node's failure (the worker lives on).

With ``capture_logs=``, the node's capture wrapper records in the worker; what it
recorded travels back beside the event and is added to the run's capture here.

Concurrency hazards: only the engine thread calls this backend; the child processes
share nothing with it but their pipe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from dagforge.errors import RunArgumentError, SerializationError, WorkerLostError
from dagforge.execution.backends.base import Backend
from dagforge.execution.jobs import Event, Job, failed, merge_logs


def _child(read_fd: int, write_fd: int, wid: int) -> None:
    """Entry point of a worker process (``python -c`` with two inherited pipe fds)."""
    _worker_main(Connection(read_fd, writable=False), Connection(write_fd, readable=False), wid)


def _worker_main(conn: Connection, out: Connection, wid: int) -> None:
    import cloudpickle

    from dagforge.execution.jobs import run_job, take_logs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle
    functions: dict[int, Any] = {}  # token -> callable, sent once per worker
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        token, fn_bytes, job = cloudpickle.loads(data)
        if fn_bytes is not None:
            functions[token] = cloudpickle.loads(fn_bytes)
        job = job._replace(fn=functions[token])
        try:
            event = run_job(job, wid)
        except KeyboardInterrupt as exc:  # raised by the node: the engine interrupts the run
            now = time.perf_counter()
            event = failed(job.idx, job.attempt, exc, "", now, now, wid)
        logs = take_logs(job.fn)  # capture_logs=: what the node wrote, back to the engine
        try:
            payload = cloudpickle.dumps((event, logs))
        except Exception as exc:
            idx, attempt = event.idx, event.attempt
            err = SerializationError(
                f"node {job.name!r}: its result could not be sent back from the worker "
                f"process: {type(exc).__name__}: {exc}"
            )
            payload = cloudpickle.dumps(
                (failed(idx, attempt, err, "", event.t_start, event.t_end, wid), logs)
            )
        except BaseException:
            return
        out.send_bytes(payload)


class _Worker:
    __slots__ = ("conn", "inbox", "job", "process", "sent", "wid")

    def __init__(self, wid: int, process: Any, conn: Connection, inbox: Connection):
        self.wid = wid
        self.process = process
        self.conn = conn  # we write jobs here
        self.inbox = inbox  # events come back here; EOF means the process died
        self.job: Job | None = None
        self.sent: set[int] = set()  # function tokens this worker already holds


class ProcessBackend(Backend):
    """Runs nodes in ``max_workers`` child processes (spawned, not forked)."""

    name = "processes"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        if max_workers < 1:
            raise RunArgumentError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._backlog: list[Job] = []
        self._by_job: dict[tuple[int, int], _Worker] = {}
        self._functions: dict[int, tuple[bytes, Any]] = {}
        self._early: list[Event] = []

    @property
    def capacity(self) -> int:
        return self.max_workers

    def start(self) -> None:
        from dagforge.execution.shipping import ship_user_modules

        ship_user_modules(only_unimportable=True)  # e.g. a file loaded by path
        if not self._workers:
            for _ in range(self.max_workers):
                self._spawn()

    def _spawn(self) -> _Worker:
        wid = len(self.worker_names)
        self.worker_names.append(f"process-{wid}")
        # Workers are fresh interpreters started with ``-c``: unlike multiprocessing's
        # spawn they do not re-import the caller's __main__, so scripts without a
        # ``if __name__ == "__main__"`` guard work too.
        job_r, job_w = os.pipe()
        ev_r, ev_w = os.pipe()
        code = (
            "from dagforge.execution.backends.processes import _child; "
            f"_child({job_r}, {ev_w}, {wid})"
        )
        # The child sees the parent's import path, as multiprocessing's spawn arranges,
        # so functions pickled by reference (module-level ones) import there too.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            pass_fds=(job_r, ev_w),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(job_r)
        os.close(ev_w)
        w = _Worker(wid, proc, Connection(job_w, readable=False), Connection(ev_r, writable=False))
        self._workers.append(w)
        self._idle.append(w)
        return w

    def submit(self, job: Job) -> None:
        import cloudpickle

        if not self._idle:
            self._backlog.append(job)
            return
        w = self._idle.pop()
        w.job = job
        self._by_job[(job.idx, job.attempt)] = w
        try:
            # A node's function is pickled once per run and sent once per worker;
            # later jobs name it by token (its id, kept valid by holding the function).
            fn = job.fn
            token = id(fn)
            entry = self._functions.get(token)
            if entry is None:
                entry = self._functions[token] = (cloudpickle.dumps(fn), fn)
            fn_bytes = None if token in w.sent else entry[0]
            w.conn.send_bytes(cloudpickle.dumps((token, fn_bytes, job._replace(fn=None))))
            w.sent.add(token)
        except Exception as exc:  # the job itself cannot be pickled: only it fails
            from time import perf_counter

            self._by_job.pop((job.idx, job.attempt), None)
            w.job = None
            self._idle.append(w)
            err = SerializationError(
                f"node {job.name!r} cannot be sent to a worker process: {type(exc).__name__}: "
                f"{exc}; use a function cloudpickle can pickle (no locks, open files or "
                f"sockets in its closure or arguments)"
            )
            err.__cause__ = exc
            now = perf_counter()
            self._early.append(failed(job.idx, job.attempt, err, "", now, now, w.wid))
            if self._backlog:
                self.submit(self._backlog.pop(0))

    def wait(self, timeout: float | None) -> list[Event]:
        import cloudpickle

        if self._early:  # jobs that failed before reaching a worker
            early, self._early = self._early, []
            return early
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            if timeout:
                time.sleep(timeout)  # only a retry timer is pending
            return []
        inboxes = {w.inbox: w for w in busy}
        events: list[Event] = []
        for conn in wait(list(inboxes), timeout):
            w = inboxes[conn]  # type: ignore[index]
            if w.job is None:
                continue
            try:
                event, logs = cloudpickle.loads(w.inbox.recv_bytes())
            except (EOFError, OSError):
                events.append(self._lost(w))
                continue
            if logs is not None:  # the node's capture wrapper here holds the run's capture
                merge_logs(w.job.fn.capture, w.job.fn.name, logs)
            self._free(w)
            events.append(event)
        return events

    def _free(self, w: _Worker) -> None:
        if w.job is not None:
            self._by_job.pop((w.job.idx, w.job.attempt), None)
        w.job = None
        self._idle.append(w)
        if self._backlog:
            self.submit(self._backlog.pop(0))

    def _lost(self, w: _Worker) -> Event:
        """The worker died mid-job: fail that job and replace the worker."""
        from time import perf_counter

        job = w.job
        assert job is not None
        try:
            code = w.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            w.process.kill()
            code = w.process.wait(timeout=2)
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        err = WorkerLostError(
            f"the worker process running node {job.name!r} died ({how}); the node failed and "
            f"the worker was replaced"
        )
        self._retire(w)
        self._spawn()
        if self._backlog:
            self.submit(self._backlog.pop(0))
        now = perf_counter()
        return failed(job.idx, job.attempt, err, "", now, now, w.wid)

    def _retire(self, w: _Worker) -> None:
        if w.job is not None:
            self._by_job.pop((w.job.idx, w.job.attempt), None)
        w.job = None
        if w in self._workers:
            self._workers.remove(w)
        if w in self._idle:
            self._idle.remove(w)
        for conn in (w.conn, w.inbox):
            try:
                conn.close()
            except OSError:
                pass

    def abandon(self, idx: int, attempt: int) -> None:
        """Kill the process running that job (a timeout) and start a fresh one."""
        w = self._by_job.pop((idx, attempt), None)
        if w is None:
            self._backlog = [j for j in self._backlog if (j[0], j[1]) != (idx, attempt)]
            return
        w.process.kill()
        w.process.wait(timeout=5)
        self._retire(w)
        self._spawn()
        if self._backlog:
            self.submit(self._backlog.pop(0))

    def shutdown(self, wait: bool = True) -> None:
        for w in list(self._workers):
            busy = w.job is not None
            self._retire(w)  # closing the job pipe ends an idle worker's loop
            try:
                w.process.wait(timeout=2 if wait and not busy else 0.05)
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait(timeout=2)
        self._workers.clear()
        self._idle.clear()
        self._backlog.clear()
        self._by_job.clear()
        self._functions.clear()
        self._early.clear()
