"""The ``dask`` backend: run nodes on a Dask distributed cluster; data stays on workers.

The engine still decides what runs when (priorities, exclusivity, ``max_concurrency``,
the resource pool, rules); this backend only submits each admitted job with
``client.submit`` — one Dask task per node, keyed ``dagforge-<node>-<attempt>-<run>``.

What moves where:
- A node runs ``execution.jobs.run_job`` *on a Dask worker*, so compute time, output
  checks and profiling measurements are taken there. The task's result is the node's
  value (a failure re-raises the node's exception, so Dask knows it failed). When and
  where it ran, and its measured sizes, stay in a small table on the worker that the
  backend collects with one ``client.run`` call when the run ends (one Dask task per
  node instead of three: a (value, meta) pair would need a getitem task for the value
  and a transfer of the meta per node). Until then, completion events carry the
  client's clock and no worker. With ``capture_logs=``, what a node wrote on its worker
  (``backends/dask_remote.py``) comes back the same way, into the run's capture.
- The engine keeps the value *future*; children receive futures as arguments, so Dask
  moves data worker to worker, never through the client. Task nodes get each input via
  ``select`` = a ``getitem`` task on the parent's future.
- With a client dagforge created (``backend="dask"``, ``address=``) the values are
  fetched when the run ends and the client is closed. With a client or ``DaskBackend``
  you pass in, ``result.values``/``outputs`` stay futures: fetch them with
  :meth:`DaskBackend.gather` or ``future.result()``, or pass ``gather=True``.
- The engine keeps up to ``capacity`` nodes in flight (16 per worker thread by
  default), so workers never idle waiting for the next admission; Dask orders what is
  queued by the dagforge priority passed with each task. Per-node ``resources=`` become
  Dask worker resources (``{"gpu": 1}`` only lands on workers started with
  ``--resources gpu=1``); a requirement no worker declares fails its node with
  ``ResourceError`` instead of waiting forever (``worker_resources=`` narrows or turns
  off the mapping, for pool-only resources such as licences).

Faults: Dask recomputes what a killed worker held; a node whose worker keeps dying
becomes ``KilledWorker`` after Dask's ``allowed-failures`` and fails with
``WorkerLostError``. An unreachable or lost scheduler raises ``BackendError`` naming the
address (Dask cancels every future when the scheduler connection drops).

Concurrency hazards: Dask runs done-callbacks on its own callback thread; they only put
events on ``_done`` (a ``SimpleQueue``) and read ``_abandoned`` (a set the engine thread
only adds to). Everything else runs on the engine's thread.
"""

from __future__ import annotations

import operator
import queue
import uuid
from collections.abc import Collection
from functools import partial
from time import perf_counter
from typing import Any

from dagforge.errors import BackendError, ResourceError, SerializationError, WorkerLostError
from dagforge.execution.backends.base import Backend
from dagforge.execution.backends.dask_remote import (
    _remote,
    node_error,
)
from dagforge.execution.backends.dask_results import DaskResults
from dagforge.execution.jobs import Event, Job, done, failed

# How often a waiting engine checks that the client is still connected.
_POLL = 0.5


class _Lost:
    """Marker event: Dask cancelled a node we did not abandon while the client was down."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Suspect:
    """Marker event: a node's worker died under it; re-run it alone before blaming it."""

    __slots__ = ("job",)

    def __init__(self, job: Job):
        self.job = job


class DaskBackend(DaskResults, Backend):
    """Submit nodes to a Dask cluster: ``DaskBackend(client)`` or ``DaskBackend(address=...)``.

    Args:
        client: a ``distributed.Client`` (or a scheduler address string).
        address: the scheduler to connect to (``tcp://host:8786``); with neither, a
            ``LocalCluster`` of ``n_workers`` worker processes is started for the run
            and closed after it. Connecting gives up after Dask's
            ``distributed.comm.timeouts.connect`` (30 s by default).
        threads_per_worker: threads of each worker of that local cluster.
        capacity: how many nodes the engine may keep submitted at once; default
            ``in_flight_per_thread`` x the cluster's worker threads.
        worker_resources: map per-node ``resources=`` onto Dask worker resources:
            ``True`` (all), ``False`` (none: the engine's pool only) or a collection of
            resource names to map.
        gather: fetch every value to this process when the run ends; default only when
            dagforge created the client.
        ship_modules: send the functions of the user's own modules (scripts and project
            packages not installed in site-packages) by value, so a scheduler and workers
            that cannot import them still run them (default on; off pickles them by
            reference, which needs them importable on the scheduler and every worker).
        check_results: test-serialize each node's value on its worker, so a value Dask
            cannot move fails that node alone (``SerializationError``) instead of the
            transfer to a child or the final fetch.
    """

    name = "dask"
    #: a success holds a future until ``finalize`` fetches its value; a fetch that fails
    #: revises it to failed (``Core._revise``, the one transition out of SUCCEEDED)
    provisional = True

    def __init__(
        self,
        client: Any = None,
        *,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        capacity: int | None = None,
        in_flight_per_thread: int = 16,
        worker_resources: bool | Collection[str] = True,
        gather: bool | None = None,
        ship_modules: bool = True,
        check_results: bool = True,
    ):
        super().__init__()
        if isinstance(client, str):
            client, address = None, client
        self._client = client
        self._own_client = client is None
        self._cluster: Any = None
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._capacity = capacity
        self.in_flight_per_thread = in_flight_per_thread
        self.worker_resources = worker_resources
        self.fetch_values = self._own_client if gather is None else gather
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._futures: dict[tuple[int, int], Any] = {}
        self._abandoned: set[str] = set()
        self._keys: dict[str, int] = {}
        self._worker_ids: dict[str, int] = {}
        self._declared: list[dict[str, float]] | None = None
        self._token = ""
        #: The run's per-node options; set by the engine before ``start``.
        self.run_opts: Any = None
        #: The run's conditional edges ``{(source, target): when}``, when the engine
        #: hands them over: those sources' values are fetched so ``when`` sees values.
        self.run_conditions: Any = None
        self._resolve: set[int] = set()
        self.ship_modules = ship_modules
        self.check_results = check_results
        # Values fetched because a rule, map or spec step read them: (idx, key) -> value.
        self._concrete: dict[tuple[int, Any], Any] = {}  # (node, Dask key) -> value
        # Nodes that died with their worker wait to be re-run one at a time (see _probe).
        self._suspects: list[Job] = []
        self._probing: tuple[int, int] | None = None
        self._jobs: dict[int, Job] = {}  # the last job submitted per node
        self._pickled: dict[int, tuple[bytes, Any]] = {}

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
            from dagforge.execution.backends._main_guard import (
                GUARD_MESSAGE,
                unguarded_main_line,
            )

            where = unguarded_main_line()
            if where is not None:
                raise BackendError(GUARD_MESSAGE.format(file=where[0], line=where[1]))
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
            self._client = Client(self.address)  # timeout: distributed.comm.timeouts.connect
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
        self._abandoned = set()
        self._keys = {}
        self._declared = None
        self._resolve = {u for u, _ in (self.run_conditions or ())}
        self._concrete = {}
        self._suspects = []
        self._probing = None
        self._jobs = {}
        self._pickled = {}
        # Keys are unique per run: Dask returns the existing future for a key it still
        # holds, so a second run must never reuse the first run's keys.
        self._token = uuid.uuid4().hex[:12]
        client = self.client
        if client.status not in ("running", "connecting", "newly-created"):
            raise BackendError(f"the Dask client for {self._where()} is {client.status}")
        if self.ship_modules:
            from dagforge.execution.shipping import ship_user_modules

            ship_user_modules()

    def _submit_kwargs(self, job: Job) -> dict[str, Any] | BaseException:
        """Dask submit options for a job, or the error that fails it before it runs."""
        idx, attempt, name = job.idx, job.attempt, job.name
        key = f"dagforge-{name}-{attempt}-{self._token}"
        kwargs: dict[str, Any] = {"key": key, "pure": False}
        opts = self.run_opts[idx] if self.run_opts is not None else None
        if opts is not None:
            if opts.resources and self.worker_resources:
                placed = self._placement(name, opts.resources)
                if isinstance(placed, BaseException):
                    return placed
                if placed:
                    kwargs["resources"] = placed
            if opts.priority:
                kwargs["priority"] = opts.priority
        return kwargs

    def _placement(self, name: str, resources: Any) -> dict[str, float] | BaseException:
        """The Dask worker resources of a node; an error when no worker could run it."""
        amounts = dict(getattr(resources, "resources", resources))
        wanted = self.worker_resources
        if wanted is not True:
            amounts = {k: v for k, v in amounts.items() if k in wanted}  # type: ignore[operator]
        if not amounts:
            return amounts
        for refresh in (False, True):
            if self._declared is None or refresh:
                try:
                    workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
                except Exception as exc:
                    return BackendError(
                        f"could not ask the Dask scheduler at {self._where()} for its "
                        f"workers' resources: {exc}"
                    )
                self._declared = [dict(w.get("resources") or {}) for w in workers]
            if any(all(d.get(k, 0) >= v for k, v in amounts.items()) for d in self._declared):
                return amounts
        declared = sorted({k for d in self._declared or () for k in d})
        return ResourceError(
            f"node {name!r} needs Dask worker resources {amounts}, but no worker of the "
            f"cluster at {self._where()} declares that much (declared: {declared or 'none'}); "
            f"start workers with `dask worker ... --resources "
            f'"{",".join(f"{k}={v:g}" for k, v in amounts.items())}"`, or keep these '
            f"resources to the engine's pool with DaskBackend(worker_resources=False) or "
            f"worker_resources=[names to map]"
        )

    def submit(self, job: Job) -> None:
        future = self._send(job)
        if future is not None:
            future.add_done_callback(partial(self._finished, job, False))

    def _send(self, job: Job, alone: bool = False) -> Any:
        """Submit one job to Dask; None when it failed before reaching Dask (event queued)."""
        idx, attempt, name = job.idx, job.attempt, job.name
        kwargs = self._submit_kwargs(job)
        if isinstance(kwargs, BaseException):
            now = perf_counter()
            self._done.put(failed(idx, attempt, kwargs, "", now, now, -1))
            return None
        if alone:
            kwargs["key"] = f"dagforge-{name}-alone-{attempt}-{self._token}"
        try:
            future = self.client.submit(_remote, *self._parts(job), **kwargs)
        except Exception as exc:
            import pickle

            if isinstance(exc, (pickle.PicklingError, TypeError, AttributeError)):
                # This node's function or arguments cannot be pickled: it alone fails.
                now = perf_counter()
                err = SerializationError(
                    f"node {name!r} cannot be sent to the Dask cluster: {type(exc).__name__}: {exc}"
                )
                self._done.put(failed(idx, attempt, err, "", now, now, -1))
                return None
            raise BackendError(f"could not submit node {name!r} to {self._where()}: {exc}") from exc
        self._futures[(idx, attempt)] = future
        self._jobs[idx] = job
        self._keys[kwargs["key"]] = idx
        return future

    def _parts(self, job: Job) -> tuple:
        """``_remote``'s arguments for a job; the callable cloudpickled once per run."""
        fn = job.fn
        if self.ship_modules:
            token = id(fn)
            entry = self._pickled.get(token)
            if entry is None:
                import cloudpickle

                entry = self._pickled[token] = (cloudpickle.dumps(fn), fn)  # holds fn: id stays
            fn = entry[0]
        return ((*job[:3], *job[6:]), fn, job.args, job.kwargs, self.check_results)

    def _finished(self, job: Job, alone: bool, future: Any) -> None:
        """Runs on Dask's callback thread: turn the future's state into an engine event."""
        idx, attempt, name = job.idx, job.attempt, job.name
        now = perf_counter()
        status = future.status
        if status == "finished":
            value = future
            if idx in self._resolve:  # a `when=` condition reads it on the engine's side
                try:
                    value = future.result()
                except BaseException as exc:
                    err = BackendError(
                        f"could not fetch the value of node {name!r}, which a conditional "
                        f"edge needs, from {self._where()}: {exc}"
                    )
                    self._done.put(failed(idx, attempt, err, "", now, now, -1))
                    return
            self._done.put(done(idx, attempt, value, now, now, -1, None))
            return
        if status == "cancelled":
            if future.key in self._abandoned:
                return  # the engine gave up on it (timeout, interrupt)
            if self._client is None or self._client.status != "running":
                self._done.put(_Lost(name))
                return
        error, tb = node_error(name, future, self._where(), alone)
        if not alone and isinstance(error, WorkerLostError):
            # A worker that died took every task it held with it; the culprit is found
            # by re-running each such node on its own (``_probe``).
            self._done.put(_Suspect(job))
            return
        self._done.put(failed(idx, attempt, error, tb, now, now, -1))

    def wait(self, timeout: float | None) -> list[Event]:
        done = self._done
        deadline = None if timeout is None else perf_counter() + timeout
        while True:
            step = _POLL if deadline is None else max(0.0, min(_POLL, deadline - perf_counter()))
            try:
                first = done.get(timeout=step)
                break
            except queue.Empty:
                self._check_alive()
                if deadline is not None and perf_counter() >= deadline:
                    return []
        events = [first]
        while True:
            try:
                events.append(done.get_nowait())
            except queue.Empty:
                break
        futures = self._futures
        out = []
        for ev in events:
            if type(ev) is _Lost:
                self._give_up(
                    f"lost the connection to the Dask scheduler at {self._where()} while node "
                    f"{ev.name!r} was running; the run cannot go on"
                )
            if type(ev) is _Suspect:
                if (ev.job.idx, ev.job.attempt) in futures:  # not abandoned meanwhile
                    self._suspects.append(ev.job)
                continue
            if self._probing == (ev.idx, ev.attempt):
                self._probing = None
            futures.pop((ev.idx, ev.attempt), None)
            out.append(ev)
        self._probe()
        return out

    def _probe(self) -> None:
        """Re-run one suspect at a time: the node that kills its worker dies again and
        fails; a sibling that only shared the dying worker succeeds."""
        while self._probing is None and self._suspects:
            job = self._suspects.pop(0)
            ident = (job.idx, job.attempt)
            if ident not in self._futures:
                continue  # abandoned (timeout, interrupt) while it waited
            future = self._send(job, alone=True)
            if future is None:
                continue
            self._probing = ident
            future.add_done_callback(partial(self._finished, job, True))

    def _check_alive(self) -> None:
        client = self._client
        if client is not None and client.status in ("closed", "closing"):
            self._give_up(f"lost the connection to the Dask scheduler at {self._where()}")

    def _give_up(self, message: str) -> None:
        """End the run: close what dagforge opened (no ``finalize`` follows), then raise."""
        if self._own_client:
            try:
                self.close()
            except Exception:
                pass
        raise BackendError(message)

    def select(self, value: Any, output: str) -> Any:  # type: ignore[override]
        from distributed import Future

        if not isinstance(value, Future):  # e.g. restored from a cache
            return value[output]
        return self.client.submit(operator.getitem, value, output, pure=False)

    def abandon(self, idx: int, attempt: int) -> None:
        future = self._futures.pop((idx, attempt), None)
        if future is not None:
            self._abandoned.add(future.key)
            future.cancel()
        if self._probing == (idx, attempt):
            self._probing = None
            self._probe()

    def shutdown(self, wait: bool = True) -> None:
        futures = list(self._futures.values())
        self._futures.clear()
        for future in futures:
            self._abandoned.add(future.key)
        if futures and self._client is not None and self._client.status == "running":
            try:
                self._client.cancel(futures)
            except Exception:
                pass  # the cluster is going away anyway

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
        from distributed import Future

        values = result.values
        names = [n for n, v in values.items() if isinstance(v, Future)]
        fetched = self.client.gather([values[n] for n in names])
        out = dict(values)
        out.update(zip(names, fetched, strict=True))
        return out
