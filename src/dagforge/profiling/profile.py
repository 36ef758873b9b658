"""``Profile``: what one profiled run (or several) measured, in dagprofiler's JSON format.

A profile is a reader's record of an :class:`~dagforge.execution.result.ExecutionResult`:
the structure that ran, the static cost model (``node_weights``, instructions from
``estimate_instructions(cfg)``), the data volumes (``edge_weights``, **bits** = 8 x the
bytes that crossed each edge) and the measured timings. It is the contract with
schedulers, so ``to_dict()`` writes exactly the keys of ``seeds/000_*`` and ``load``
reads what dagprofiler 0.1.0 wrote.

Invariants:
- ``nodes`` / ``edges`` / weights / metrics are consistent: every weight and metric names
  a node or edge of ``nodes`` / ``edges`` (checked by :func:`validate_profile` on load).
- Every node of the structure has an ``execution_metrics`` entry (zeros when it did not
  run), and every edge has a weight (0 when nothing crossed it).
- ``execution_metrics`` is written as dagprofiler's *list* of entries, one per node in
  ``nodes`` order, each carrying its node name under ``"task"``; a dict keyed by node
  name is accepted on load.
- **The file is a contract with dagprofiler 0.1.0**: its own ``Profile.load`` reads what
  ``save()`` writes and its JSON Schema accepts it. So each ``execution_metrics`` entry
  holds exactly dagprofiler's keys (``task`` + the five numbers, bytes as integers),
  weights are integers, and ``metadata`` carries ``dagprofiler_version``. What dagforge
  adds per node (``status``, ``worker``, ``start_ms``/``end_ms``, ``attempts``, ``runs``,
  ``stats``) and exact non-integral weights live in a top-level ``"dagforge"`` object
  that dagprofiler ignores; dagforge merges it back on load. Older dagforge files (extras
  inside the entries) still load. (Why the list: it is what dagprofiler writes and what SAGA's
  profile adapter reads; a dict would break those readers. In memory the metrics are a
  dict keyed by node name.)
- Aggregated profiles (``Profile.aggregate``) keep the seed's keys holding the
  **medians**; min/median/max live in an extra ``stats`` object per entry and in a
  top-level ``aggregate`` object.
- ``save`` is atomic: a temp file in the target directory, fsync, ``os.replace``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform as _platform
import socket
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagforge.errors import CycleError, ProfileError, RunArgumentError, UnknownNodeError
from dagforge.profiling.schema import normalise_task_names, validate_profile
from dagforge.scheduling.order import topological_names

__all__ = [
    "EdgeMetrics",
    "Profile",
    "ProfileMetrics",
    "TaskMetrics",
    "compare_dict",
    "rank_costs_from_profile",
    "run_profile",
]

#: The dagprofiler release whose format ``save()`` writes (``metadata.dagprofiler_version``).
DAGPROFILER_FORMAT_VERSION = "0.1.0"

_TIMINGS = ("compute_time_ms", "serialize_time_ms", "deserialize_time_ms")
_SEED_KEYS = (*_TIMINGS, "bytes_in", "bytes_out")


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


class Profile:
    """A profile: structure, cost model, data volumes and timings of a run.

    Build one with :meth:`from_result` (or :func:`run_profile`), read one with
    :meth:`load`, write it with :meth:`save`.
    """

    __slots__ = (
        "metadata",
        "configuration",
        "nodes",
        "edges",
        "execution_order",
        "node_weights",
        "edge_weights",
        "execution_metrics",
        "total_time_ms",
        "aggregate_stats",
        "extra",
        "result",
    )

    def __init__(
        self,
        *,
        nodes: Sequence[str],
        edges: Iterable[tuple[str, str]] = (),
        node_weights: Mapping[str, float] | None = None,
        edge_weights: Mapping[str, float] | None = None,
        execution_metrics: Mapping[str, TaskMetrics] | None = None,
        execution_order: Sequence[str] | None = None,
        configuration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        total_time_ms: float = 0.0,
        aggregate_stats: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        result: Any = None,
    ):
        self.nodes: list[str] = list(nodes)
        self.edges: list[tuple[str, str]] = [(s, t) for s, t in edges]
        nw = dict(node_weights or {})
        self.node_weights: dict[str, float] = {n: _num(nw.get(n, 0)) for n in self.nodes}
        ew = dict(edge_weights or {})
        self.edge_weights: dict[str, float] = {
            f"{s}->{t}": _num(ew.get(f"{s}->{t}", 0)) for s, t in self.edges
        }
        em = dict(execution_metrics or {})
        self.execution_metrics: dict[str, TaskMetrics] = {
            n: em.get(n) or TaskMetrics(n) for n in self.nodes
        }
        self.execution_order: list[str] = list(execution_order or [])
        self.configuration: dict[str, Any] = dict(configuration or {})
        self.metadata: dict[str, Any] = dict(metadata or {})
        if "timestamp" not in self.metadata:  # as dagprofiler's Profile does
            self.metadata["timestamp"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.total_time_ms = float(total_time_ms)
        self.aggregate_stats: dict[str, Any] | None = (
            dict(aggregate_stats) if aggregate_stats else None
        )
        self.extra: dict[str, Any] = dict(extra or {})
        self.result = result

    # -- convenient views -----------------------------------------------------------

    @property
    def metrics(self) -> ProfileMetrics:
        return ProfileMetrics(
            self.total_time_ms,
            self.node_weights,
            self.edge_weights,
            [self.execution_metrics[n] for n in self.nodes],
            list(self.edge_metrics.values()),
        )

    @property
    def config(self) -> Any:
        """The run's configuration as a :class:`~dagforge.config.Config` (dagprofiler's name)."""
        from dagforge.config import Config

        return Config(self.configuration)

    @property
    def dag_structure(self) -> dict[str, Any]:
        """dagprofiler's ``dag_structure`` dict: nodes, edges, execution order."""
        return {
            "nodes": list(self.nodes),
            "edges": [{"source": s, "target": t} for s, t in self.edges],
            "execution_order": list(self.execution_order),
        }

    @property
    def seed(self) -> int | None:
        return self.metadata.get("seed")

    @property
    def runs(self) -> int:
        return int(self.metadata.get("runs", 1))

    @property
    def edge_metrics(self) -> dict[tuple[str, str], EdgeMetrics]:
        return {(s, t): EdgeMetrics(s, t, self.edge_weights[f"{s}->{t}"]) for s, t in self.edges}

    def task_metrics(self, name: str) -> TaskMetrics:
        try:
            return self.execution_metrics[name]
        except KeyError:
            raise UnknownNodeError(f"{name!r} is not a node of this profile") from None

    def compute_times(self) -> dict[str, float]:
        """Measured ``compute_time_ms`` per node."""
        return {n: m.compute_time_ms for n, m in self.execution_metrics.items()}

    def successors(self) -> dict[str, list[str]]:
        succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        for s, t in self.edges:
            succ[s].append(t)
        return succ

    def __repr__(self) -> str:
        return (
            f"<Profile nodes={len(self.nodes)} edges={len(self.edges)} "
            f"total_time_ms={self.total_time_ms:.3f} runs={self.runs}>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_result(cls, result: Any, seed: int | None = None) -> Profile:
        """A profile of one finished run (an ``ExecutionResult``).

        Measured numbers come from the run's ``NodeMetrics`` when it was executed with
        ``profile=True``; otherwise compute time is the node's wall time and bytes are 0.
        """
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

    @classmethod
    def aggregate(cls, profiles: Sequence[Profile]) -> Profile:
        """One profile of repeated runs of the same DAG: medians in the seed's keys.

        Each node's timings carry ``stats`` {median, min, max}; bytes and edge weights
        are medians; ``metadata.runs`` says how many runs; ``aggregate.total_time_ms``
        holds the total's median/min/max.
        """
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
                k: statistics.median(p.node_weights[k] for p in profiles)
                for k in first.node_weights
            },
            edge_weights={
                k: statistics.median(p.edge_weights[k] for p in profiles)
                for k in first.edge_weights
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

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: the seed's keys, in the seed's order."""
        metadata = _jsonable(self.metadata)
        metadata.setdefault("dagprofiler_version", DAGPROFILER_FORMAT_VERSION)
        out: dict[str, Any] = {
            "metadata": metadata,
            "configuration": _jsonable(self.configuration),
            "dag_structure": self.dag_structure,
            "node_weights": {k: _int(v) for k, v in self.node_weights.items()},
            "edge_weights": {k: _int(v) for k, v in self.edge_weights.items()},
            "execution_metrics": [self.execution_metrics[n].seed_dict() for n in self.nodes],
            "total_time_ms": _round(self.total_time_ms),
        }
        if self.aggregate_stats:
            out["aggregate"] = _jsonable(self.aggregate_stats)
        ours: dict[str, Any] = {}
        per_node = {n: self.execution_metrics[n].extras_dict() for n in self.nodes}
        per_node = {n: d for n, d in per_node.items() if d}
        if per_node:
            ours["execution_metrics"] = per_node
        for key in ("node_weights", "edge_weights"):
            exact = {k: _round(v) for k, v in getattr(self, key).items() if _int(v) != v}
            if exact:
                ours[key] = exact
        if ours:
            out["dagforge"] = ours
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, validate: bool = True, source: str | None = None
    ) -> Profile:
        """Read a parsed profile (dagforge's or dagprofiler's); validated unless told not."""
        data = normalise_task_names(data)
        if validate:
            validate_profile(data, source=source)
        structure = data["dag_structure"]
        raw = data["execution_metrics"]
        ours = data.get("dagforge")
        ours = ours if isinstance(ours, Mapping) else {}
        more = ours.get("execution_metrics")
        more = more if isinstance(more, Mapping) else {}
        entries = {e["task"]: e for e in raw} if isinstance(raw, list) else dict(raw)
        metrics = {
            k: TaskMetrics.from_dict({**e, **more.get(k, {})}, task=k) for k, e in entries.items()
        }
        node_weights = {**data["node_weights"], **ours.get("node_weights", {})}
        edge_weights = {**data["edge_weights"], **ours.get("edge_weights", {})}
        known = {
            "metadata",
            "configuration",
            "dag_structure",
            "node_weights",
            "edge_weights",
            "execution_metrics",
            "total_time_ms",
            "aggregate",
            "dagforge",
        }
        return cls(
            nodes=structure["nodes"],
            edges=[(e["source"], e["target"]) for e in structure["edges"]],
            node_weights=node_weights,
            edge_weights=edge_weights,
            execution_metrics=metrics,
            execution_order=structure["execution_order"],
            configuration=data["configuration"],
            metadata=data["metadata"],
            total_time_ms=data["total_time_ms"],
            aggregate_stats=data.get("aggregate"),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile as JSON atomically (temp file + ``os.replace``); returns the path."""
        return atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        """Read and validate a profile file; a :class:`ProfileError` names the JSON path."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProfileError(f"{p}: no such profile file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{p}: cannot read the profile: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""
            raise ProfileError(
                f"{p}: $: not valid JSON{hint} at line {exc.lineno} column {exc.colno}: "
                f"{exc.msg}; re-create it with Profile.save() or `dagforge profile`"
            ) from exc
        return cls.from_dict(data, source=str(p))

    # -- comparisons and exports ----------------------------------------------------------

    def compare(self, other: Profile) -> Any:
        """Differences from this profile to ``other`` (a :class:`ProfileDiff`)."""
        from dagforge.profiling.compare import compare_profiles

        return compare_profiles(self, other)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph``: ``weight`` = instructions on nodes, bits on edges."""
        import networkx as nx

        g = nx.DiGraph()
        for name in self.nodes:
            m = self.execution_metrics[name]
            g.add_node(
                name,
                weight=self.node_weights[name],
                compute_time_ms=m.compute_time_ms,
                bytes_out=m.bytes_out,
            )
        for s, t in self.edges:
            bits = self.edge_weights[f"{s}->{t}"]
            g.add_edge(s, t, weight=bits, bytes=bits / 8)
        g.graph["total_time_ms"] = self.total_time_ms
        g.graph["configuration"] = dict(self.configuration)
        return g

    def critical_path(self, costs: Mapping[str, float] | None = None) -> tuple[list[str], float]:
        """Longest path by measured compute time (or ``costs``): ``(nodes, total)``."""
        weight = dict(costs) if costs is not None else self.compute_times()
        succ = self.successors()
        order = _topological(self.nodes, self.edges)
        best: dict[str, float] = {}
        nxt: dict[str, str | None] = {}
        for u in reversed(order):
            tail, pick = 0.0, None
            for v in succ[u]:
                if pick is None or best[v] > tail:
                    tail, pick = best[v], v
            best[u] = float(weight.get(u, 0.0)) + tail
            nxt[u] = pick
        if not best:
            return [], 0.0
        start = max(order, key=lambda n: best[n])
        path: list[str] = []
        cur: str | None = start
        while cur is not None:
            path.append(cur)
            cur = nxt[cur]
        return path, best[start]


def compare_dict(a: Profile, b: Profile) -> dict[str, Any]:
    """dagprofiler 0.1.0's ``Profile.compare`` result: a dict, differences ``a - b``.

    ``{"config_diff": {key: {"self", "other"}}, "node_weight_diff": {node: {"self",
    "other", "diff", "pct"}}, "edge_weight_diff": {...}, "time_diff_ms": float}``; only
    entries that differ are listed; ``pct`` is ``inf`` when ``b``'s weight is 0.
    """

    def weights(mine: Mapping[str, float], theirs: Mapping[str, float]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in sorted(set(mine) | set(theirs)):
            w1, w2 = mine.get(key, 0), theirs.get(key, 0)
            if w1 != w2:
                pct = (w1 - w2) / w2 * 100 if w2 else float("inf")
                out[key] = {"self": w1, "other": w2, "diff": w1 - w2, "pct": pct}
        return out

    config_diff = {}
    for key in sorted(set(a.configuration) | set(b.configuration)):
        v1, v2 = a.configuration.get(key), b.configuration.get(key)
        if v1 != v2:
            config_diff[key] = {"self": v1, "other": v2}
    return {
        "config_diff": config_diff,
        "node_weight_diff": weights(a.node_weights, b.node_weights),
        "edge_weight_diff": weights(a.edge_weights, b.edge_weights),
        "time_diff_ms": a.total_time_ms - b.total_time_ms,
    }


# --- engine hook -----------------------------------------------------------------------


def rank_costs_from_profile(profile: Any) -> dict[str, float]:
    """Per-node costs for the engine's upward ranks: measured ``compute_time_ms``.

    ``profile`` is a :class:`Profile`, a parsed dict or a path. Nodes without a measured
    time are left out, so the engine falls back to ``estimate_instructions``.
    """
    if isinstance(profile, str | os.PathLike):
        profile = Profile.load(profile)
    elif isinstance(profile, Mapping):
        profile = Profile.from_dict(profile)
    elif not isinstance(profile, Profile):
        raise ProfileError(
            f"expected a Profile, a profile dict or a path to guide the ranking, got "
            f"{type(profile).__name__}"
        )
    return {
        n: m.compute_time_ms for n, m in profile.execution_metrics.items() if m.compute_time_ms > 0
    }


# --- running ---------------------------------------------------------------------------


def seed_everything(seed: int | None) -> None:
    """Seed Python's ``random`` and, when importable, numpy's global generator."""
    if seed is None:
        return
    import random

    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is None:
        try:
            import numpy
        except ImportError:
            return
        np = numpy
    np.random.seed(seed % (2**32))


def run_profile(
    dag: Any,
    seed: int | None = None,
    runs: int = 1,
    backend: Any = "inline",
    *,
    tasks: Mapping[str, Any] | None = None,
    run_inputs: Mapping[str, Any] | None = None,
    check: bool = True,
    on_run: Callable[[int, Any], None] | None = None,
    **executor_kwargs: Any,
) -> Profile:
    """Run ``dag`` ``runs`` times with profiling on and return its :class:`Profile`.

    Before each run, ``seed`` seeds ``random`` and numpy's global generator, so runs
    with the same seed route identical data. With ``runs > 1`` the result is
    :meth:`Profile.aggregate` of the runs. ``check=True`` raises the run's
    ``ExecutionError`` when a node failed. ``on_run(i, result)`` is called after each
    run (progress bars). Other keywords go to ``Executor`` (``max_workers=``, ...).
    """
    from dagforge.execution.executor import Executor

    if runs < 1:
        raise RunArgumentError(f"runs must be >= 1, got {runs}")
    executor_kwargs.setdefault("enable_tracing", True)
    executor_kwargs["profile"] = True
    profiles = []
    for i in range(runs):
        seed_everything(seed)
        result = Executor(dag, backend=backend, seed=seed, **executor_kwargs).execute(
            tasks, run_inputs=run_inputs
        )
        if check:
            result.raise_for_failures()
        profiles.append(Profile.from_result(result, seed=seed))
        if on_run is not None:
            on_run(i, result)
    return profiles[0] if runs == 1 else Profile.aggregate(profiles)


# --- helpers -----------------------------------------------------------------------------


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically, with the umask's default mode (not 0600)."""
    from dagforge._files import atomic_write

    return Path(atomic_write(path, text, mkdir=True))


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


def _num(value: Any) -> Any:
    """ints stay ints; integral floats become ints; numpy scalars become Python numbers."""
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _int(value: Any) -> int:
    """A weight as dagprofiler's schema wants it: an integer."""
    return round(value)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON values; numpy scalars via ``.item()``; anything else by ``repr``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return repr(value)


def _topological(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """The structure's order by the one topological sort, :meth:`DAG.topological_order`."""
    try:
        return topological_names(nodes, edges)
    except CycleError as exc:
        cycle = " -> ".join(exc.cycle)
        raise ProfileError(f"$.dag_structure.edges: the edges form a cycle {cycle}") from None
