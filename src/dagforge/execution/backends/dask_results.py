"""The end of a ``dask`` run on the client side: fetch values, collect where and when
nodes ran (and what they wrote, with ``capture_logs=``), and the values rules read.

A mixin of :class:`~dagforge.execution.backends.dask_backend.DaskBackend` (which holds
the client and the per-run tables named below), kept apart so each module has one job:
``dask_backend`` submits and waits, this one settles what came back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagforge.errors import BackendError
from dagforge.execution import states as S
from dagforge.execution.backends.dask_remote import _collect, _is_killed_worker, _remote
from dagforge.execution.jobs import merge_logs

if TYPE_CHECKING:
    from dagforge.execution.jobs import Job


class DaskResults:
    """Client-side end of a run (see the module docstring)."""

    _client: Any
    _keys: dict[str, int]  # Dask key -> node, of every job submitted this run
    _jobs: dict[int, Job]  # the last job submitted per node
    _token: str  # this run's part of every key
    _concrete: dict[tuple[int, Any], Any]  # (node, Dask key) -> value fetched for rules
    _own_client: bool
    fetch_values: bool

    if TYPE_CHECKING:  # defined by DaskBackend

        def _where(self) -> str: ...
        def _parts(self, job: Job) -> tuple: ...
        def worker_id(self, where: str) -> int: ...
        def close(self) -> None: ...

    def resolve(self, value: Any) -> Any:
        """``value`` in this process: a future's result, anything else as it is."""
        from distributed import Future

        if not isinstance(value, Future):
            return value
        try:
            return value.result()
        except Exception as exc:
            raise BackendError(
                f"could not fetch {value.key!r} from {self._where()}: {type(exc).__name__}: {exc}"
            ) from exc

    def materialize(self, run: Any, idx: int) -> Any:
        """The value of node ``idx`` in this process, for a rule, map or spec step to read.

        Fetched once per run and kept here; ``run.values`` keeps the future, so children
        still receive the data worker to worker.
        """
        from distributed import Future

        value = run.values[idx]
        if not isinstance(value, Future):
            return value
        key = (idx, value.key)
        if key in self._concrete:
            return self._concrete[key]
        try:
            concrete = value.result()
        except Exception as exc:
            raise BackendError(
                f"could not fetch the value of node {run.names[idx]!r}, which a rule reads, "
                f"from {self._where()}: {type(exc).__name__}: {exc}"
            ) from exc
        self._concrete[key] = concrete
        return concrete

    def finalize(self, run: Any) -> None:
        """Collect where and when nodes ran; fetch values if asked (always on a client
        dagforge created, which is then closed: a user's client stays open)."""
        if self._client is None:
            return
        try:
            self._collect_ran(run)
            if self.fetch_values:
                self._fetch(run)
        finally:
            if self._own_client:
                self.close()

    def _fetch(self, run: Any) -> None:
        from distributed import Future

        idx = [i for i, v in enumerate(run.values) if isinstance(v, Future)]
        if not idx:
            return
        try:
            fetched = self._client.gather([run.values[i] for i in idx])
        except Exception:
            fetched = None
        if fetched is not None:
            for i, value in zip(idx, fetched, strict=True):
                run.values[i] = value
            return
        if self._client.status != "running":
            raise BackendError(f"lost the Dask scheduler at {self._where()} fetching results")
        for i in idx:  # one bad value must not lose the others
            self._fetch_one(run, i)

    def _fetch_one(self, run: Any, i: int) -> None:
        """Fetch one value; a value lost with a dead worker is recomputed once, alone."""
        future = run.values[i]
        try:
            run.values[i] = future.result()
            return
        except Exception as exc:
            err: BaseException = exc
        job = self._jobs.get(i)
        if job is not None and _is_killed_worker(err):
            # It finished, then a worker another node killed took its value with it, and
            # Dask's recomputation was blamed for the deaths: compute it afresh.
            key = f"dagforge-{run.names[i]}-again-{job.attempt}-{self._token}"
            try:
                run.values[i] = self._client.submit(
                    _remote, *self._parts(job), key=key, pure=False
                ).result()
                return
            except Exception as exc:
                err = exc
        failure = BackendError(
            f"node {run.names[i]!r} finished, but its value could not be fetched from "
            f"{self._where()}: {type(err).__name__}: {err}"
        )
        failure.__cause__ = err
        run._revise(i, S.FAILED, error=(failure, ""))

    def _collect_ran(self, run: Any) -> None:
        keys, self._keys = self._keys, {}
        if not keys or self._client.status != "running":
            return
        try:
            per_worker = self._client.run(_collect, list(keys))
        except Exception:
            return  # timings are best effort; results do not depend on them
        ran = (S.SUCCEEDED, S.FAILED, S.TIMED_OUT)
        captured: list[tuple[int, int, dict]] = []  # (attempt, node, logs) for capture_logs=
        for table in per_worker.values():
            for key, (w0, w1, where, metrics, logs) in table.items():
                i = keys.get(key)
                if logs is not None and i is not None and run.capture is not None:
                    attempt = key[: -len(self._token) - 1].rsplit("-", 1)[1]
                    captured.append((int(attempt), i, logs))
                if i is None or run.status[i] not in ran:
                    continue
                if not key.endswith(f"-{run.attempt[i]}-{self._token}"):
                    continue  # an earlier attempt of a retried node
                run.starts[i] = run.t0 + (w0 - run.wall_start)
                run.ends[i] = run.t0 + (w1 - run.wall_start)
                run.workers[i] = self.worker_id(where)
                if metrics is not None:
                    run.metrics[i] = metrics
        for _, i, logs in sorted(captured, key=lambda c: c[:2]):  # attempts in order
            merge_logs(run.capture, run.names[i], logs)
