"""The ``dask`` backend: run nodes on a Dask distributed cluster; data stays on workers.

The engine still decides what runs when (priorities, exclusivity, ``max_concurrency``,
the resource pool, rules); this backend only submits each job with ``client.submit``.

What moves where:
- A node runs ``execution.worker.run_job`` *on a Dask worker*, so compute time, output
  checks and profiling measurements are taken there. It returns ``(value, meta)``;
  two tiny ``getitem`` tasks split that into a value future and a meta future. Only the
  meta (status, timings, worker, sizes — small) travels to the client.
- The engine keeps the value *future*; children receive futures as arguments, so Dask
  moves data worker to worker. ``result.values``/``outputs`` hold futures: fetch them
  with :meth:`DaskBackend.gather` (or ``future.result()``).
- Task nodes get each input via ``select`` = a ``getitem`` future on the parent's value.
- Per-node ``resources=`` become Dask worker resources (``{"gpu": 1}`` only lands on
  workers started with ``--resources gpu=1``); node ``priority`` becomes Dask priority.

Faults: Dask recomputes what a killed worker held; a node whose worker keeps dying
becomes ``KilledWorker`` after Dask's ``allowed-failures`` and fails with
``WorkerLostError``. A scheduler that cannot be reached raises ``BackendError`` naming
the address.

Concurrency hazards: Dask runs done-callbacks on its own callback thread; they only put
events on ``_done`` (a ``SimpleQueue``). Everything else runs on the engine's thread.
"""

from __future__ import annotations

import operator
import queue
from time import perf_counter
from typing import Any

from dagforge.errors import BackendError, WorkerLostError
from dagforge.execution.backends.base import Backend


def _remote(job: tuple) -> tuple[Any, tuple]:
    """Run one node on the Dask worker; return (value, meta without the value)."""
    import threading

    from distributed import get_worker

    from dagforge.execution.worker import run_job

    try:
        where = f"{get_worker().address}/{threading.current_thread().name}"
    except ValueError:  # not on a worker (e.g. Client(asynchronous) local execution)
        where = f"local/{threading.current_thread().name}"
    ev = run_job(job, 0)
    _, _, ok, value, err, tb, t0, t1, _, metrics = ev
    return value, (ok, err, tb, t0, t1, where, metrics)


class DaskBackend(Backend):
    """Submit nodes to a Dask cluster: ``DaskBackend(client)`` or ``DaskBackend(address=...)``.

    With neither, a ``LocalCluster`` with ``n_workers`` worker processes is started and
    closed with the run.
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
    ):
        super().__init__()
        self._client = client
        self._own_client = client is None
        self._cluster = None
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._capacity = capacity
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._futures: dict[tuple[int, int], Any] = {}
        self._worker_ids: dict[str, int] = {}
        self._t_offset = 0.0
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

    @property
    def capacity(self) -> int:
        if self._capacity:
            return self._capacity
        try:
            threads = sum(self.client.nthreads().values())
        except Exception as exc:
            raise BackendError(f"lost the Dask scheduler at {self._where()}: {exc}") from exc
        return max(1, threads)

    def _where(self) -> str:
        if self.address:
            return self.address
        try:
            return self._client.scheduler.address
        except Exception:
            return "the local cluster"

    # -- the backend contract ---------------------------------------------------------------

    def start(self) -> None:
        self._done = queue.SimpleQueue()
        self._futures = {}
        client = self.client
        if client.status not in ("running", "connecting", "newly-created"):
            raise BackendError(f"the Dask client for {self._where()} is {client.status}")

    def worker_id(self, where: str) -> int:
        wid = self._worker_ids.get(where)
        if wid is None:
            wid = self._worker_ids[where] = len(self.worker_names)
            self.worker_names.append(where)
        return wid

    def submit(self, job: tuple) -> None:
        client = self.client
        idx, attempt = job[0], job[1]
        name = job[6]
        key = f"dagforge-{name}-{attempt}-{id(self):x}"
        kwargs: dict[str, Any] = {"key": key, "pure": False}
        opts = self.run_opts[idx] if self.run_opts is not None else None
        if opts is not None:
            if opts.resources:
                res = getattr(opts.resources, "resources", opts.resources)
                kwargs["resources"] = dict(res)
            if opts.priority:
                kwargs["priority"] = opts.priority
        try:
            pair = client.submit(_remote, job, **kwargs)
            value = client.submit(operator.getitem, pair, 0, key=key + "-value", pure=False)
            meta = client.submit(operator.getitem, pair, 1, key=key + "-meta", pure=False)
        except Exception as exc:
            raise BackendError(f"could not submit node {name!r} to {self._where()}: {exc}") from exc
        self._futures[(idx, attempt)] = (pair, value, meta)
        meta.add_done_callback(lambda f, job=job, value=value: self._finished(job, f, value))

    def _finished(self, job: tuple, meta_future: Any, value_future: Any) -> None:
        """Runs on Dask's callback thread: turn the meta into an engine event."""
        idx, attempt, name = job[0], job[1], job[6]
        now = perf_counter()
        try:
            ok, err, tb, t0, t1, where, metrics = meta_future.result()
            event = (
                idx,
                attempt,
                ok,
                value_future if ok else None,
                err,
                tb,
                t0,
                t1,
                where,
                metrics,
            )
        except BaseException as exc:
            lost = _is_killed_worker(exc)
            if lost:
                err = WorkerLostError(
                    f"node {name!r} kept killing its Dask worker (Dask gave up after its "
                    f"allowed-failures): {exc}"
                )
            else:
                err = BackendError(
                    f"node {name!r} could not complete on {self._where()}: "
                    f"{type(exc).__name__}: {exc}"
                )
            event = (idx, attempt, False, None, err, "", now, now, "?", None)
        self._done.put(event)

    def _normalise(self, ev: tuple) -> tuple:
        """Map the worker string to a worker id and remote clocks to ours."""
        idx, attempt, ok, value, err, tb, t0, t1, where, metrics = ev
        wid = self.worker_id(where) if isinstance(where, str) else where
        # Worker clocks (perf_counter) are not ours: keep durations, anchor ends at now.
        now = perf_counter()
        if isinstance(where, str) and where != "?":
            t0, t1 = now - (t1 - t0), now
        return (idx, attempt, ok, value, err, tb, t0, t1, wid, metrics)

    def wait(self, timeout: float | None) -> list[tuple]:
        done = self._done
        try:
            first = done.get(timeout=timeout)
        except queue.Empty:
            return self._check_alive()
        events = [self._normalise(first)]
        while True:
            try:
                events.append(self._normalise(done.get_nowait()))
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
        futures = self._futures.pop((idx, attempt), None)
        if futures is not None:
            for f in futures:
                f.cancel()

    def shutdown(self, wait: bool = True) -> None:
        for futures in self._futures.values():
            for f in futures:
                f.cancel()
        self._futures.clear()

    def finalize(self, run: Any) -> None:
        """At the end of a run on a client dagforge created, fetch values, then close.

        With a client (or ``DaskBackend``) the user passed in, values stay on the
        cluster as futures and the client stays open.
        """
        if not self._own_client or self._client is None:
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


def _is_killed_worker(exc: BaseException) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, KilledWorker)
