"""How a :class:`~dagforge.profiling.profile.Profile` is built: from one finished run, or
from repeated runs of one DAG (the bodies of ``Profile.from_result`` and
``Profile.aggregate``, which call these with their own class).

Invariants:
- A node's weight is its task's ``estimate_instructions(cfg)`` (0 without one); a cost
  model that raises or returns anything but a finite number >= 0 is a
  :class:`~dagforge.errors.ProfileError` naming the node.
- Every node of the run gets a :class:`~dagforge.profiling.metrics.TaskMetrics`; measured
  numbers come from the run's ``NodeMetrics`` when it was profiled, else compute time is
  the node's wall time and bytes are 0.
- An aggregate keeps the seed's keys holding the medians, min/median/max in ``stats``;
  only profiles of one structure aggregate.
- The metadata always carries ``dagprofiler_version`` (the format's release), dagforge's
  own version, the seed, and the host and Python that ran.
- ``Profile`` is only named for type checkers: the caller passes its class in, so this
  module never imports ``profile.py`` (which imports it).
"""

from __future__ import annotations

import datetime as _dt
import math
import platform as _platform
import socket
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dagforge.errors import ProfileError
from dagforge.profiling._format import _TIMINGS, DAGPROFILER_FORMAT_VERSION, _num
from dagforge.profiling.metrics import TaskMetrics

if TYPE_CHECKING:
    from dagforge.profiling.profile import Profile


def from_result(cls: type[Profile], result: Any, seed: int | None = None) -> Profile:
    """:meth:`Profile.from_result <dagforge.profiling.profile.Profile.from_result>`,
    building an instance of ``cls``."""
    dag = result.dag
    results = result.results
    nodes = list(results)
    known = set(nodes)
    edges = [(s, t) for s, t in dag.edges if s in known and t in known]
    have = set(edges)
    for s, t in result.edge_bytes or {}:
        if (s, t) not in have and s in known and t in known:
            edges.append((s, t))
            have.add((s, t))
    cfg = getattr(dag, "config", None)
    node_weights = {}
    for name in nodes:
        task = dag.task(name) if name in dag else None
        node_weights[name] = _estimate(name, task, cfg)
    edge_bytes = result.edge_bytes or {}
    edge_weights = {f"{s}->{t}": 8 * int(edge_bytes.get((s, t), 0)) for s, t in edges}
    metrics = {}
    for name in nodes:
        nr = results[name]
        m = nr.metrics
        ran = nr.start is not None and nr.end is not None
        start_ms = nr.start * 1000.0 if ran else None
        end_ms = nr.end * 1000.0 if ran else None
        if m is not None:
            tm = TaskMetrics(
                name, m.compute_ms, m.serialize_ms, m.deserialize_ms, m.bytes_in, m.bytes_out
            )
        else:
            tm = TaskMetrics(name, (end_ms - start_ms) if ran else 0.0)  # type: ignore[operator]
        tm.status = nr.status
        tm.worker = nr.worker
        tm.start_ms = start_ms
        tm.end_ms = end_ms
        tm.attempts = max(1, len(nr.attempts)) if ran else len(nr.attempts)
        metrics[name] = tm
    metadata = _metadata(getattr(result, "started_at", None), seed)
    metadata["backend"] = getattr(result, "backend", None)
    metadata["status"] = getattr(result, "status", None)
    metadata["workers"] = list(getattr(result, "workers", []) or [])
    return cls(
        nodes=nodes,
        edges=edges,
        node_weights=node_weights,
        edge_weights=edge_weights,
        execution_metrics=metrics,
        execution_order=list(dict.fromkeys(result.execution_order)),
        configuration=cfg.to_dict() if cfg is not None else {},
        metadata=metadata,
        total_time_ms=result.total_time_ms,
        result=result,
    )


def aggregate(cls: type[Profile], profiles: Sequence[Profile]) -> Profile:
    """:meth:`Profile.aggregate <dagforge.profiling.profile.Profile.aggregate>`,
    building an instance of ``cls``."""
    profiles = list(profiles)
    if not profiles:
        raise ProfileError("Profile.aggregate() needs at least one profile")
    first = profiles[0]
    for i, p in enumerate(profiles[1:], start=1):
        if set(p.nodes) != set(first.nodes) or set(p.edges) != set(first.edges):
            raise ProfileError(
                f"profile #{i} has a different structure from profile #0 "
                f"({first.compare(p).structure_summary()}); aggregate runs of one DAG only"
            )
    n = len(profiles)
    metrics = {}
    for name in first.nodes:
        entries = [p.execution_metrics[name] for p in profiles]
        stats = {}
        for key in _TIMINGS:
            values = [getattr(e, key) for e in entries]
            stats[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
        base = entries[0]
        metrics[name] = TaskMetrics(
            name,
            compute_time_ms=stats["compute_time_ms"]["median"],
            serialize_time_ms=stats["serialize_time_ms"]["median"],
            deserialize_time_ms=stats["deserialize_time_ms"]["median"],
            bytes_in=statistics.median(e.bytes_in for e in entries),
            bytes_out=statistics.median(e.bytes_out for e in entries),
            status=base.status,
            worker=base.worker,
            start_ms=base.start_ms,
            end_ms=base.end_ms,
            attempts=base.attempts,
            runs=n,
            stats=stats,
        )
    totals = [p.total_time_ms for p in profiles]
    metadata = dict(first.metadata)
    metadata["runs"] = n
    return cls(
        nodes=first.nodes,
        edges=first.edges,
        node_weights={
            k: statistics.median(p.node_weights[k] for p in profiles) for k in first.node_weights
        },
        edge_weights={
            k: statistics.median(p.edge_weights[k] for p in profiles) for k in first.edge_weights
        },
        execution_metrics=metrics,
        execution_order=first.execution_order,
        configuration=first.configuration,
        metadata=metadata,
        total_time_ms=statistics.median(totals),
        aggregate_stats={
            "runs": n,
            "total_time_ms": {
                "median": statistics.median(totals),
                "min": min(totals),
                "max": max(totals),
            },
        },
        extra=first.extra,
        result=profiles[-1].result,
    )


def _estimate(name: str, task: Any, cfg: Any) -> float:
    fn = getattr(task, "estimate_instructions", None)
    if task is None or not callable(fn):
        return 0
    try:
        value = fn(cfg)
    except Exception as exc:
        raise ProfileError(
            f"node {name!r}: estimate_instructions(cfg) raised {type(exc).__name__}: {exc}; "
            f"fix the cost model or the config it reads"
        ) from exc
    value = _num(value or 0)
    if not isinstance(value, int | float) or value < 0 or not math.isfinite(value):
        raise ProfileError(
            f"node {name!r}: estimate_instructions(cfg) returned {value!r}; it must be a "
            f"finite number >= 0"
        )
    return value


def _metadata(started_at: float | None, seed: int | None) -> dict[str, Any]:
    when = (
        _dt.datetime.fromtimestamp(started_at, _dt.UTC) if started_at else _dt.datetime.now(_dt.UTC)
    )
    return {
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dagprofiler_version": DAGPROFILER_FORMAT_VERSION,
        "dagforge_version": _version(),
        "seed": seed,
        "hostname": socket.gethostname(),
        "python": _platform.python_version(),
        "platform": _platform.platform(),
    }


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("dagforge")
    except Exception:
        import dagforge

        return str(getattr(dagforge, "__version__", "0+unknown"))
