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

This module holds the :class:`Profile` class (its views, JSON reading and writing,
comparisons and exports) and the functions that need it: :func:`run_profile`,
:func:`seed_everything`, :func:`rank_costs_from_profile`. The records a profile holds
are in ``metrics.py`` (:class:`TaskMetrics`, :class:`EdgeMetrics`,
:class:`ProfileMetrics`), the format's value rules in ``_format.py``, the building of a
profile from a result or from repeated runs in ``_building.py``, and dagprofiler's
``compare`` dict (:func:`compare_dict`) in ``dagprofiler_compare.py``; every one of those
public names is importable from here too.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagforge.errors import CycleError, ProfileError, RunArgumentError, UnknownNodeError
from dagforge.profiling import _building
from dagforge.profiling._format import DAGPROFILER_FORMAT_VERSION, _int, _jsonable, _num, _round
from dagforge.profiling.dagprofiler_compare import compare_dict
from dagforge.profiling.metrics import EdgeMetrics, ProfileMetrics, TaskMetrics
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
        return _building.from_result(cls, result, seed)

    @classmethod
    def aggregate(cls, profiles: Sequence[Profile]) -> Profile:
        """One profile of repeated runs of the same DAG: medians in the seed's keys.

        Each node's timings carry ``stats`` {median, min, max}; bytes and edge weights
        are medians; ``metadata.runs`` says how many runs; ``aggregate.total_time_ms``
        holds the total's median/min/max.
        """
        return _building.aggregate(cls, profiles)

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


def _topological(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """The structure's order by the one topological sort, :meth:`DAG.topological_order`."""
    try:
        return topological_names(nodes, edges)
    except CycleError as exc:
        cycle = " -> ".join(exc.cycle)
        raise ProfileError(f"$.dag_structure.edges: the edges form a cycle {cycle}") from None
