"""``ExecutionResult`` and ``NodeResult``: what a run leaves behind.

A run keeps its per-node facts in flat arrays (status bytes, values, start/end times,
worker ids) so a million-node run stays cheap; ``NodeResult`` objects are built on
demand when a node is looked up. Times are ``time.perf_counter()`` seconds; ``start``
and ``end`` of a ``NodeResult`` are relative to the run's start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dagforge import _seams
from dagforge import states as S
from dagforge.errors import ExecutionError, UnknownNodeError


class Attempt:
    """One try of a node: when it ran, on which worker, and how it ended."""

    __slots__ = ("end", "error", "number", "start", "status", "worker")

    def __init__(
        self,
        number: int,
        start: float,
        end: float,
        worker: str,
        status: str,
        error: BaseException | None,
    ):
        self.number = number
        self.start = start
        self.end = end
        self.worker = worker
        self.status = status
        self.error = error

    def __repr__(self) -> str:
        return f"<Attempt {self.number} {self.status} on {self.worker}>"


class NodeResult:
    """The outcome of one node: status, value, error with traceback, timing, worker."""

    __slots__ = (
        "attempts",
        "end",
        "error",
        "logs",
        "metrics",
        "name",
        "reason",
        "start",
        "status",
        "traceback",
        "value",
        "worker",
    )

    def __init__(
        self,
        name: str,
        status: str,
        value: Any = None,
        error: BaseException | None = None,
        traceback: str | None = None,
        start: float | None = None,
        end: float | None = None,
        worker: str | None = None,
        reason: str | None = None,
        attempts: list[Attempt] | None = None,
        metrics: Any = None,
        logs: Any = None,
    ):
        self.name = name
        self.status = status
        self.value = value
        self.error = error
        self.traceback = traceback
        self.start = start
        self.end = end
        self.worker = worker
        self.reason = reason
        self.attempts = attempts or []
        self.metrics = metrics
        self.logs = logs  # NodeLogs when the run captured logs (capture_logs=True), else None

    @property
    def outputs(self) -> Any:
        """Alias of ``value``: for Task nodes, the dict of declared outputs."""
        return self.value

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def __repr__(self) -> str:
        extra = f" error={self.error!r}" if self.error is not None else ""
        extra += f" reason={self.reason!r}" if self.reason else ""
        return f"<NodeResult {self.name!r} {self.status}{extra}>"


class _NodeResults(Mapping[str, NodeResult]):
    """A read-only mapping view that builds ``NodeResult`` objects on access."""

    __slots__ = ("_r",)

    def __init__(self, result: ExecutionResult):
        self._r = result

    def __getitem__(self, name: str) -> NodeResult:
        return self._r._node_result(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._r._names)

    def __len__(self) -> int:
        return len(self._r._names)

    def __contains__(self, name: object) -> bool:
        return name in self._r._index


class ExecutionResult:
    """Everything a run produced. ``results[name]`` gives a :class:`NodeResult`."""

    def __init__(
        self,
        *,
        names: list[str],
        index: dict[str, int],
        status: bytearray,
        values: list[Any],
        starts: list[float],
        ends: list[float],
        workers: list[int],
        worker_names: list[str],
        errors: dict[int, tuple[BaseException, str]],
        reasons: dict[int, str],
        attempts: dict[int, list[Attempt]],
        metrics: dict[int, Any],
        leaves: list[int],
        t0: float,
        t1: float,
        wall_start: float,
        run_status: str,
        backend: str,
        edge_bytes: dict | None,
        order: list[int],
        tracing: bool,
        interrupted: bool,
        dag: Any,
        logs: dict[str, Any] | None = None,
    ):
        self._names = names
        self._index = index
        self._status = status
        self._values = values
        self._starts = starts
        self._ends = ends
        self._workers = workers
        self._worker_names = worker_names
        self._errors = errors
        self._reasons = reasons
        self._attempts = attempts
        self._metrics = metrics
        self._leaves = leaves
        self._t0 = t0
        self._t1 = t1
        self.started_at = wall_start
        self.status = run_status
        self.backend = backend
        self.edge_bytes = edge_bytes or {}
        self._order = order
        self._tracing = tracing
        self.interrupted = interrupted
        self.dag = dag
        self._logs = logs

    # -- counts -------------------------------------------------------------------------

    def _count(self, state: int) -> int:
        return self._status.count(state)

    @property
    def succeeded(self) -> int:
        return self._count(S.SUCCEEDED)

    @property
    def failed(self) -> int:
        return self._count(S.FAILED) + self._count(S.TIMED_OUT)

    @property
    def skipped(self) -> int:
        return self._count(S.SKIPPED)

    @property
    def cancelled(self) -> int:
        return self._count(S.CANCELLED)

    @property
    def restored(self) -> int:
        """Nodes completed from the result cache / checkpoint instead of running."""
        return sum(1 for r in self._reasons.values() if r == "restored from the result cache")

    @property
    def timed_out(self) -> int:
        return self._count(S.TIMED_OUT)

    @property
    def ok(self) -> bool:
        return self.status == S.RUN_SUCCEEDED

    @property
    def duration(self) -> float:
        """Wall time of the run in seconds."""
        return self._t1 - self._t0

    @property
    def total_time_ms(self) -> float:
        return (self._t1 - self._t0) * 1000.0

    # -- per node ------------------------------------------------------------------------

    @property
    def results(self) -> Mapping[str, NodeResult]:
        return _NodeResults(self)

    def __getitem__(self, name: str) -> NodeResult:
        return self._node_result(name)

    def _node_result(self, name: str) -> NodeResult:
        try:
            i = self._index[name]
        except KeyError:
            raise UnknownNodeError(f"{name!r} is not a node of this run") from None
        return self._build(i)

    def _build(self, i: int) -> NodeResult:
        st = self._status[i]
        err = self._errors.get(i)
        start = self._starts[i]
        end = self._ends[i]
        # A node that ended succeeded/failed/timed out has times (0.0 is a real time on a
        # virtual clock); a cancelled one has them only if an attempt of it finished.
        settled = st in (S.SUCCEEDED, S.FAILED, S.TIMED_OUT)
        ran = settled or (st == S.CANCELLED and end > 0)
        w = self._workers[i]
        return NodeResult(
            self._names[i],
            S.NAMES[st],
            self._values[i] if st == S.SUCCEEDED else None,
            err[0] if err else None,
            err[1] if err else None,
            start - self._t0 if settled or (ran and start) else None,
            end - self._t0 if ran else None,
            self._worker_names[w] if ran and w >= 0 else None,
            self._reasons.get(i),
            self._attempts.get(i),
            self._metrics.get(i),
            self._logs.get(self._names[i]) if self._logs else None,
        )

    def names_with_status(self, status: str) -> list[str]:
        code = S.NAMES.index(status)
        return [n for n, s in zip(self._names, self._status, strict=True) if s == code]

    @property
    def failures(self) -> dict[str, BaseException]:
        """Failed (or timed-out) nodes and their exceptions."""
        return {
            self._names[i]: e
            for i, (e, _) in self._errors.items()
            if self._status[i] in (S.FAILED, S.TIMED_OUT)
        }

    @property
    def outputs(self) -> dict[str, Any]:
        """The values of the leaves that succeeded, by name."""
        return {
            self._names[i]: self._values[i] for i in self._leaves if self._status[i] == S.SUCCEEDED
        }

    @property
    def values(self) -> dict[str, Any]:
        """The value of every node that succeeded, by name."""
        return {
            n: v
            for n, v, s in zip(self._names, self._values, self._status, strict=True)
            if s == S.SUCCEEDED
        }

    @property
    def execution_order(self) -> list[str]:
        """Node names in the order they started."""
        return [self._names[i] for i in self._order]

    @property
    def workers(self) -> list[str]:
        return list(self._worker_names)

    def raise_for_failures(self) -> ExecutionResult:
        """Raise one ``ExecutionError`` listing every failed node; return self otherwise."""
        fails = self.failures
        if not fails and not self.interrupted:
            return self
        lines = []
        for name, exc in fails.items():
            lines.append(f"  {name}: {type(exc).__name__}: {exc}")
        skipped = self.skipped
        cancelled = self.cancelled
        head = f"{len(fails)} node(s) failed"
        if self.interrupted:
            head = "the run was interrupted; " + head
        tail = f" ({skipped} skipped, {cancelled} cancelled)" if skipped or cancelled else ""
        raise ExecutionError(head + tail + (":\n" + "\n".join(lines) if lines else ""), fails)

    def release_frames(self) -> ExecutionResult:
        """Drop the stack frames the nodes' exceptions hold (their formatted tracebacks,
        ``NodeResult.traceback``, stay); returns self.

        A failed node's exception keeps every frame of its traceback alive, with the
        failing function's locals — whatever it had loaded. A result kept long after
        its run (the platform holds its last runs' results) should not keep those.
        """
        errors = [err[0] for err in self._errors.values() if err]
        for attempts in self._attempts.values():
            errors.extend(a.error for a in attempts or () if a.error is not None)
        for error in errors:
            exc: BaseException | None = error
            seen: set[int] = set()
            while exc is not None and id(exc) not in seen:  # the cause/context chain
                seen.add(id(exc))
                exc.__traceback__ = None
                exc = exc.__cause__ or exc.__context__
        return self

    # -- observability -------------------------------------------------------------------

    @property
    def trace(self) -> Any:
        """A Chrome trace of the run (``.save(path)``) when ``enable_tracing=True``, else None."""
        if not self._tracing:
            return None
        return _seams.build_trace(self)  # profiling is a layer above: the one seam

    def report(self, path: Any, title: str | None = None, timeline: Any = None) -> Any:
        """Write one self-contained HTML file (DAG, Gantt, profile table; the resource
        timeline of ``timeline``, the run's ``ResourcePool``); its path."""
        return _seams.write_report(path, result=self, title=title, timeline=timeline)

    def summary(self) -> str:
        return (
            f"{self.status}: {self.succeeded} succeeded, {self.failed} failed, "
            f"{self.skipped} skipped, {self.cancelled} cancelled in {self.duration:.3f}s "
            f"on {self.backend}"
        )

    def __repr__(self) -> str:
        return f"<ExecutionResult {self.summary()}>"
