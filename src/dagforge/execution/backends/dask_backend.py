"""The ``dask`` backend: run nodes on a Dask distributed cluster; data stays on workers.

The engine still decides what runs when (priorities, exclusivity, ``max_concurrency``,
the resource pool, rules); this backend only submits each admitted job with
``client.submit`` — one Dask task per node.

What moves where:
- A node runs ``execution.worker.run_job`` *on a Dask worker*, so compute time, output
  checks and profiling measurements are taken there. The task's result is the node's
  value (a failure re-raises the node's exception, so Dask knows it failed). When and
  where it ran, and its measured sizes, stay in a small table on the worker that the
  backend collects with one ``client.run`` call when the run ends.
- The engine keeps the value *future*; children receive futures as arguments, so Dask
  moves data worker to worker, never through the client. Task nodes get each input via
  ``select`` = a ``getitem`` task on the parent's future.
- With a client dagforge created (``backend="dask"``, ``address=``) the values are
  fetched when the run ends and the client is closed. With a client or ``DaskBackend``
  you pass in, ``result.values``/``outputs`` stay futures: fetch them with
  :meth:`DaskBackend.gather` or ``future.result()``.
- The engine keeps up to ``capacity`` nodes in flight (16 per worker thread by
  default), so workers never idle waiting for the next admission; Dask orders what is
  queued by the dagforge priority passed with each task. Per-node ``resources=`` become
  Dask worker resources (``{"gpu": 1}`` only lands on workers started with
  ``--resources gpu=1``).

Faults: Dask recomputes what a killed worker held; a node whose worker keeps dying
becomes ``KilledWorker`` after Dask's ``allowed-failures`` and fails with
``WorkerLostError``. An unreachable or lost scheduler raises ``BackendError`` naming the
address.

Concurrency hazards: Dask runs done-callbacks on its own callback thread; they only put
events on ``_done`` (a ``SimpleQueue``). Everything else runs on the engine's thread.
"""

from __future__ import annotations

import operator
import queue
import traceback
from time import perf_counter
from typing import Any

from dagforge.errors import BackendError, WorkerLostError
from dagforge.execution import states as S
from dagforge.execution.backends.base import Backend

# Per worker process: task key -> (wall start, wall end, where, metrics), handed to the
# client at the end of a run by ``_collect``. Written only by that worker's task threads.
_RAN: dict[str, tuple] = {}


def _remote(job: tuple) -> Any:
    """Run one node on the Dask worker; remember how it went; return its value."""
    import threading
    import time

    from distributed import get_worker

    from dagforge.execution.worker import run_job

    try:
        worker = get_worker()
        where = f"{worker.address}/{threading.current_thread().name}"
        key = worker.get_current_task()
    except ValueError:  # not on a worker
        where, key = f"local/{threading.current_thread().name}", None
    _, _, ok, value, err, _tb, t0, t1, _, metrics = run_job(job, 0)
    if key is not None:
        end = time.time()
        _RAN[str(key)] = (end - (t1 - t0), end, where, metrics)
    if not ok:
        raise err
    return value


def _collect(keys: list[str]) -> dict[str, tuple]:
    """On a worker: hand over (and forget) what ``_remote`` recorded for ``keys``."""
    return {k: _RAN.pop(k) for k in keys if k in _RAN}


class DaskBackend(Backend):
    """Submit nodes to a Dask cluster: ``DaskBackend(client)`` or ``DaskBackend(address=...)``.

    With neither, a ``LocalCluster`` with ``n_workers`` worker processes is started for
    the run and closed after it.
    """

    name = "dask"

    def __init__(
        self,
        client: Any = None,
        *,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        capacity: int | None = None,
        in_flight_per_thread: int = 16,
    ):
        super().__init__()
        self._client = client
        self._own_client = client is None
        self._cluster: Any = None
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._capacity = capacity
        self.in_flight_per_thread = in_flight_per_thread
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._futures: dict[tuple[int, int], Any] = {}
        self._keys: dict[str, int] = {}
        self._worker_ids: dict[str, int] = {}
        self.run_opts: Any = None

    # -- connection ------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._connect()
        return self._client

    def _connect(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - the dask extra is missing
            raise BackendError(
                "the dask backend needs dask.distributed: pip install 'dagforge[dask]'"
            ) from exc
        if self.address is None:
            try:
                self._cluster = LocalCluster(
                    n_workers=self.n_workers or 2,
                    threads_per_worker=self.threads_per_worker,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = Client(self._cluster)
            except Exception as exc:
                raise BackendError(f"could not start a local Dask cluster: {exc}") from exc
            return
        try:
            self._client = Client(self.address, timeout="10s")
        except Exception as exc:
            raise BackendError(
                f"cannot reach the Dask scheduler at {self.address}: {type(exc).__name__}: {exc}"
            ) from exc

    def _where(self) -> str:
        if self.address:
            return self.address
        try:
            return self._client.scheduler.address
        except Exception:
            return "the local cluster"

    @property
    def capacity(self) -> int:
        if self._capacity:
            return self._capacity
        try:
            threads = sum(self.client.nthreads().values())
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"lost the Dask scheduler at {self._where()}: {exc}") from exc
        return max(1, threads) * self.in_flight_per_thread

    def worker_id(self, where: str) -> int:
        wid = self._worker_ids.get(where)
        if wid is None:
            wid = self._worker_ids[where] = len(self.worker_names)
            self.worker_names.append(where)
        return wid

    # -- the backend contract ---------------------------------------------------------------

    def start(self) -> None:
        self._done = queue.SimpleQueue()
        self._futures = {}
        self._keys = {}
        client = self.client
        if client.status not in ("running", "connecting", "newly-created"):
            raise BackendError(f"the Dask client for {self._where()} is {client.status}")

    def submit(self, job: tuple) -> None:
        idx, attempt, name = job[0], job[1], job[6]
        key = f"dagforge-{name}-{attempt}-{id(self):x}"
        kwargs: dict[str, Any] = {"key": key, "pure": False}
        opts = self.run_opts[idx] if self.run_opts is not None else None
        if opts is not None:
            if opts.resources:
                kwargs["resources"] = dict(getattr(opts.resources, "resources", opts.resources))
            if opts.priority:
                kwargs["priority"] = opts.priority
        try:
            future = self.client.submit(_remote, job, **kwargs)
        except Exception as exc:
            raise BackendError(f"could not submit node {name!r} to {self._where()}: {exc}") from exc
        self._futures[(idx, attempt)] = future
        self._keys[key] = idx
        future.add_done_callback(lambda f, job=job: self._finished(job, f))

    def _finished(self, job: tuple, future: Any) -> None:
        """Runs on Dask's callback thread: turn the future's state into an engine event."""
        idx, attempt, name = job[0], job[1], job[6]
        now = perf_counter()
        if future.status == "finished":
            self._done.put((idx, attempt, True, future, None, None, now, now, -1, None))
            return
        tb = ""
        try:
            exc = future.exception()
            if exc is not None:
                tb = "".join(traceback.format_tb(future.traceback()))
        except BaseException as lost:  # cancelled, or the scheduler went away
            exc = lost
        if _is_killed_worker(exc):
            exc = WorkerLostError(
                f"node {name!r} kept killing its Dask worker (Dask gave up after its "
                f"allowed-failures): {exc}"
            )
        elif exc is None or future.status == "cancelled":
            exc = BackendError(f"node {name!r} was cancelled on {self._where()}")
        self._done.put((idx, attempt, False, None, exc, tb, now, now, -1, None))

    def wait(self, timeout: float | None) -> list[tuple]:
        done = self._done
        try:
            events = [done.get(timeout=timeout)]
        except queue.Empty:
            return self._check_alive()
        while True:
            try:
                events.append(done.get_nowait())
            except queue.Empty:
                break
        for ev in events:
            self._futures.pop((ev[0], ev[1]), None)
        return events

    def _check_alive(self) -> list[tuple]:
        client = self._client
        if client is not None and client.status in ("closed", "closing"):
            raise BackendError(f"lost the connection to the Dask scheduler at {self._where()}")
        return []

    def select(self, value: Any, output: str) -> Any:  # type: ignore[override]
        return self.client.submit(operator.getitem, value, output, pure=False)

    def abandon(self, idx: int, attempt: int) -> None:
        future = self._futures.pop((idx, attempt), None)
        if future is not None:
            future.cancel()

    def shutdown(self, wait: bool = True) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()

    # -- end of run ------------------------------------------------------------------------

    def finalize(self, run: Any) -> None:
        """Collect where and when nodes ran; on a client dagforge created, also fetch
        the values and close it (a user's client keeps its futures and stays open)."""
        if self._client is None:
            return
        self._collect_ran(run)
        if not self._own_client:
            return
        from distributed import Future

        idx = [i for i, v in enumerate(run.values) if isinstance(v, Future)]
        if idx:
            try:
                fetched = self._client.gather([run.values[i] for i in idx], errors="skip")
            except Exception as exc:
                raise BackendError(f"could not fetch results from {self._where()}: {exc}") from exc
            for i, value in zip(idx, fetched, strict=False):
                run.values[i] = value
        self.close()

    def _collect_ran(self, run: Any) -> None:
        keys, self._keys = self._keys, {}
        if not keys:
            return
        try:
            per_worker = self._client.run(_collect, list(keys))
        except Exception:
            return  # timings are best effort; results do not depend on them
        ran = (S.SUCCEEDED, S.FAILED, S.TIMED_OUT)
        for table in per_worker.values():
            for key, (w0, w1, where, metrics) in table.items():
                i = keys.get(key)
                if i is None or run.status[i] not in ran:
                    continue
                run.starts[i] = run.t0 + (w0 - run.wall_start)
                run.ends[i] = run.t0 + (w1 - run.wall_start)
                run.workers[i] = self.worker_id(where)
                if metrics is not None:
                    run.metrics[i] = metrics

    def close(self) -> None:
        """Close the client and any local cluster this backend started."""
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def gather(self, result: Any) -> dict[str, Any]:
        """Fetch the values of every succeeded node of ``result`` to this process."""
        futures = result.values
        fetched = self.client.gather(list(futures.values()))
        return dict(zip(futures, fetched, strict=True))


def _is_killed_worker(exc: BaseException | None) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, KilledWorker)
