"""The measurement records of a profile: one node's, one edge's, and the run's summary.

:class:`TaskMetrics` (the five numbers dagprofiler stores per node, plus where and when
it ran), :class:`EdgeMetrics` (the data that crossed an edge, in bits and bytes) and
:class:`ProfileMetrics` (``profile.metrics``, shaped like dagprofiler's ``DAGMetrics``).
:class:`~dagforge.profiling.profile.Profile` holds and writes them;
``dagforge.profiling.profile`` re-exports all three.

Invariants:
- ``TaskMetrics.seed_dict()`` is exactly dagprofiler 0.1.0's entry (``task`` + three
  timings + bytes as integers); what dagforge adds is in ``extras_dict()`` only, so the
  file's ``execution_metrics`` entries stay readable by dagprofiler.
- ``EdgeMetrics.bits`` is what the file stores; ``bytes`` is always ``bits / 8``.
- Records are compared by what they write (``to_dict()``), not by identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagforge.profiling._format import _TIMINGS, _num, _round

__all__ = ["EdgeMetrics", "ProfileMetrics", "TaskMetrics"]


class TaskMetrics:
    """Measurements of one node: the seed's five numbers plus where and when it ran.

    ``stats`` (aggregated profiles only) maps each timing key to
    ``{"median", "min", "max"}``; the plain attributes then hold the medians.
    """

    __slots__ = (
        "task",
        "compute_time_ms",
        "serialize_time_ms",
        "deserialize_time_ms",
        "bytes_in",
        "bytes_out",
        "status",
        "worker",
        "start_ms",
        "end_ms",
        "attempts",
        "runs",
        "stats",
    )

    def __init__(
        self,
        task: str,
        compute_time_ms: float = 0.0,
        serialize_time_ms: float = 0.0,
        deserialize_time_ms: float = 0.0,
        bytes_in: int = 0,
        bytes_out: int = 0,
        *,
        status: str | None = None,
        worker: str | None = None,
        start_ms: float | None = None,
        end_ms: float | None = None,
        attempts: int | None = None,
        runs: int | None = None,
        stats: dict[str, dict[str, float]] | None = None,
    ):
        self.task = task
        self.compute_time_ms = float(compute_time_ms)
        self.serialize_time_ms = float(serialize_time_ms)
        self.deserialize_time_ms = float(deserialize_time_ms)
        self.bytes_in = _num(bytes_in)
        self.bytes_out = _num(bytes_out)
        self.status = status
        self.worker = worker
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.attempts = attempts
        self.runs = runs
        self.stats = stats

    @property
    def total_time_ms(self) -> float:
        return self.compute_time_ms + self.serialize_time_ms + self.deserialize_time_ms

    def to_dict(self) -> dict[str, Any]:
        """The seed's entry (``task`` + five numbers), then dagforge's extras when set."""
        out = self.seed_dict()
        out.update(self.extras_dict())
        return out

    def seed_dict(self) -> dict[str, Any]:
        """Exactly dagprofiler's entry: ``task``, three timings, bytes as integers."""
        out: dict[str, Any] = {"task": self.task}
        for key in _TIMINGS:
            out[key] = _round(getattr(self, key))
        out["bytes_in"] = round(self.bytes_in)
        out["bytes_out"] = round(self.bytes_out)
        return out

    def extras_dict(self) -> dict[str, Any]:
        """What dagforge adds to an entry (written under the top-level ``"dagforge"``)."""
        out: dict[str, Any] = {}
        for key in ("status", "worker", "start_ms", "end_ms", "attempts", "runs"):
            value = getattr(self, key)
            if value is not None:
                out[key] = _round(value) if isinstance(value, float) else value
        for key in ("bytes_in", "bytes_out"):
            value = getattr(self, key)
            if not float(value).is_integer():
                out[key] = _round(value)
        if self.stats is not None:
            out["stats"] = {k: {s: _round(v) for s, v in d.items()} for k, d in self.stats.items()}
        return out

    @property
    def loop_idx(self) -> int:
        """dagprofiler's loop index of the entry (dagforge names loop instances instead)."""
        return 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], task: str | None = None) -> TaskMetrics:
        name = task if task is not None else data["task"]
        return cls(
            name,
            data.get("compute_time_ms", 0.0),
            data.get("serialize_time_ms", 0.0),
            data.get("deserialize_time_ms", 0.0),
            data.get("bytes_in", 0),
            data.get("bytes_out", 0),
            status=data.get("status"),
            worker=data.get("worker"),
            start_ms=data.get("start_ms"),
            end_ms=data.get("end_ms"),
            attempts=data.get("attempts"),
            runs=data.get("runs"),
            stats={k: dict(v) for k, v in data["stats"].items()} if "stats" in data else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskMetrics):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"TaskMetrics({self.task!r}, compute_time_ms={self.compute_time_ms:.3f}, "
            f"bytes_in={self.bytes_in}, bytes_out={self.bytes_out})"
        )


class EdgeMetrics:
    """Data that crossed one edge: ``bits`` (what the JSON stores) and ``bytes``.

    dagprofiler's names are aliases: ``size_bits``, ``size_bytes`` and ``data_fields``
    (the routed output names when known, else empty, as after dagprofiler's own load).
    """

    __slots__ = ("source", "target", "bits", "data_fields")

    def __init__(self, source: str, target: str, bits: float, data_fields: Sequence[str] = ()):
        self.source = source
        self.target = target
        self.bits = _num(bits)
        self.data_fields = list(data_fields)

    @property
    def size_bits(self) -> float:
        return self.bits

    @property
    def size_bytes(self) -> float:
        return self.bytes

    def to_dict(self) -> dict[str, Any]:
        """dagprofiler's edge entry."""
        return {
            "source": self.source,
            "target": self.target,
            "data_fields": list(self.data_fields),
            "size_bytes": self.size_bytes,
            "size_bits": self.size_bits,
        }

    @property
    def bytes(self) -> float:
        b = self.bits / 8
        return int(b) if float(b).is_integer() else b

    @property
    def key(self) -> str:
        return f"{self.source}->{self.target}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EdgeMetrics):
            return NotImplemented
        return (self.source, self.target, self.bits) == (other.source, other.target, other.bits)

    def __repr__(self) -> str:
        return f"EdgeMetrics({self.source!r} -> {self.target!r}, bits={self.bits})"


class ProfileMetrics:
    """``profile.metrics``: the seed's quickstart numbers, shaped like dagprofiler's
    ``DAGMetrics`` (``task_metrics`` and ``edge_metrics`` are lists)."""

    __slots__ = ("total_time_ms", "node_weights", "edge_weights", "task_metrics", "edge_metrics")

    def __init__(
        self,
        total_time_ms: float,
        node_weights: dict[str, float],
        edge_weights: dict[str, float],
        task_metrics: Sequence[TaskMetrics] = (),
        edge_metrics: Sequence[EdgeMetrics] = (),
    ):
        self.total_time_ms = total_time_ms
        self.node_weights = node_weights
        self.edge_weights = edge_weights
        self.task_metrics: list[TaskMetrics] = list(task_metrics)
        self.edge_metrics: list[EdgeMetrics] = list(edge_metrics)

    def to_dict(self) -> dict[str, Any]:
        """dagprofiler's ``DAGMetrics.to_dict()`` shape."""
        return {
            "task_metrics": [m.seed_dict() for m in self.task_metrics],
            "edge_metrics": [e.to_dict() for e in self.edge_metrics],
            "node_weights": dict(self.node_weights),
            "edge_weights": dict(self.edge_weights),
            "total_time_ms": self.total_time_ms,
        }

    def __repr__(self) -> str:
        return (
            f"ProfileMetrics(total_time_ms={self.total_time_ms:.3f}, "
            f"node_weights={self.node_weights}, edge_weights={self.edge_weights})"
        )
