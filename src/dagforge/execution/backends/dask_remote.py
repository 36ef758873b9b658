"""What runs on a Dask worker for the ``dask`` backend, and reading its failures back.

``_remote`` is the Dask task of one node: it runs ``execution.jobs.run_job`` there,
checks the value can leave the worker, and records when/where it ran (and, with
``capture_logs=``, what the node wrote) in a per-worker table, ``_RAN``, that the
backend collects with one ``client.run(_collect, ...)`` when the run ends.
``node_error`` turns a failed future back into the node's error. Separate from
:mod:`dagforge.execution.backends.dask_backend` (the client side) so that each has one
job; both import only what the worker has.
"""

from __future__ import annotations

import traceback
from typing import Any

from dagforge.errors import BackendError, SerializationError, WorkerLostError
from dagforge.execution.jobs import Job, take_logs

# Per worker process: task key -> (wall start, wall end, where, metrics, logs), handed to the
# client at the end of a run by ``_collect``. Written only by that worker's task threads.
_RAN: dict[str, tuple] = {}


def _remote(head: tuple, fn: Any, args: Any, kwargs: Any, check: bool = True) -> Any:
    """Run one node on the Dask worker; remember how it went; return its value.

    ``fn`` is the node's callable, or its cloudpickle bytes when the user's modules are
    shipped by value (Dask itself pickles by reference whatever plain pickle can).
    ``args``/``kwargs`` travel as Dask arguments, so parent futures arrive as values.
    """
    import threading
    import time

    from distributed import get_worker

    from dagforge.execution.jobs import run_job

    try:
        worker = get_worker()
        where = f"{worker.address}/{threading.current_thread().name}"
        key = worker.get_current_task()
    except ValueError:  # not on a worker
        where, key = f"local/{threading.current_thread().name}", None
    if type(fn) is bytes:
        fn = _loaded(fn)
    job = Job(*head[:3], fn, args, kwargs, *head[3:])  # type: ignore[call-arg]  # head: 6 fields
    try:
        _, _, ok, value, err, _tb, t0, t1, _, metrics = run_job(job, 0)
    except KeyboardInterrupt as exc:  # raised by the node itself
        t0 = t1 = time.perf_counter()
        ok, value, err, metrics = False, None, exc, None
    if ok and check and type(value) not in _PLAIN:
        err = _unsendable(job.name, value)
        ok = err is None
    if key is not None:
        end = time.time()
        logs = take_logs(fn)  # capture_logs=: what the node wrote here, for the engine
        _RAN[str(key)] = (end - (t1 - t0), end, where, metrics, logs)
    if not ok:
        if not isinstance(err, Exception):
            raise _Raised(err)  # type: ignore[arg-type]  # SystemExit/KeyboardInterrupt must not end Dask thread
        raise err
    return value


class _Raised(Exception):
    """Carries a node's ``SystemExit``/``KeyboardInterrupt`` out of a Dask worker."""

    def __init__(self, error: BaseException):
        super().__init__(repr(error))
        self.error = error

    def __reduce__(self) -> tuple:
        return (_Raised, (self.error,))


# Values Dask always serializes; anything else is test-serialized on the worker.
_PLAIN = frozenset({int, float, str, bytes, bool, type(None), complex})


def _unsendable(name: str, value: Any) -> BaseException | None:
    """A ``SerializationError`` when Dask could not move ``value`` off this worker.

    Checked where the value was made, so the one node fails instead of the transfer to a
    child or the final fetch (which would lose every result). Pickle protocol 5 with a
    buffer callback: large buffers (numpy, bytes-like) are not copied by the check.
    """
    from distributed.protocol.pickle import dumps

    try:
        dumps(value, buffer_callback=[].append)
    except Exception as exc:
        return SerializationError(
            f"node {name!r} returned a {type(value).__name__} that Dask cannot serialize, so "
            f"it could never leave the worker: {type(exc).__name__}: {exc}; return plain data "
            f"(or make the type picklable)"
        )
    return None


# Per worker process: recently loaded callables by their pickled bytes (bounded).
_LOADED: dict[bytes, Any] = {}


def _loaded(data: bytes) -> Any:
    fn = _LOADED.get(data)
    if fn is None:
        import cloudpickle

        if len(_LOADED) >= 256:
            _LOADED.clear()
        fn = _LOADED[data] = cloudpickle.loads(data)
    return fn


def _collect(keys: list[str]) -> dict[str, tuple]:
    """On a worker: hand over (and forget) what ``_remote`` recorded for ``keys``."""
    return {k: _RAN.pop(k) for k in keys if k in _RAN}


def node_error(
    name: str, future: Any, where: str, alone: bool = False
) -> tuple[BaseException, str]:
    """The error (and remote traceback) a failed or cancelled node future stands for."""
    tb = ""
    try:
        exc = future.exception()
        if exc is not None:
            tb = "".join(traceback.format_tb(future.traceback()))
    except BaseException as lost:  # cancelled, or the scheduler went away
        exc = lost
    if isinstance(exc, _Raised):
        return exc.error, tb
    if _is_killed_worker(exc):
        err: BaseException = WorkerLostError(
            f"node {name!r} kept killing its Dask worker"
            + (", also when re-run on its own" if alone else "")
            + f" (Dask gave up after its allowed-failures): {exc}"
        )
        err.__cause__ = exc
        return err, tb
    if exc is None or future.status == "cancelled":
        return BackendError(f"node {name!r} was cancelled on the Dask cluster at {where}"), tb
    return exc, tb


def _is_killed_worker(exc: BaseException | None) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, KilledWorker)
