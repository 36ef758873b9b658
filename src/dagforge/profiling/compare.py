"""``ProfileDiff``: what changed from one profile to another.

``a.compare(b)`` reads "from a to b": ``delta = b - a`` and ``percent = 100 * delta / a``
(``None`` when ``a`` is 0 and ``b`` is not: a change from nothing has no percentage).
Configuration keys present on one side only show :data:`ABSENT` on the other.
Weights are compared on the nodes and edges both profiles share; the rest is reported
as structure added / removed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ABSENT", "ProfileDiff", "WeightDiff", "compare_profiles"]


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"

    def __bool__(self) -> bool:
        return False


#: Marks a configuration key missing on one side of a comparison.
ABSENT: Any = _Absent()


class WeightDiff:
    """One number before and after: ``delta`` (after - before) and ``percent``."""

    __slots__ = ("key", "before", "after")

    def __init__(self, key: str, before: float, after: float):
        self.key = key
        self.before = before
        self.after = after

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def percent(self) -> float | None:
        if self.before == 0:
            return 0.0 if self.after == 0 else None
        return 100.0 * (self.after - self.before) / abs(self.before)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "percent": self.percent,
        }

    def __repr__(self) -> str:
        return f"WeightDiff({self.key!r}, {self.before!r} -> {self.after!r})"

    def describe(self) -> str:
        pct = self.percent
        tail = "new" if pct is None else f"{pct:+.1f}%"
        return f"{_fmt(self.before)} -> {_fmt(self.after)} ({_fmt(self.delta, sign=True)}, {tail})"


class ProfileDiff:
    """Differences from profile ``a`` to profile ``b``."""

    __slots__ = (
        "config",
        "nodes_added",
        "nodes_removed",
        "edges_added",
        "edges_removed",
        "node_weights",
        "edge_weights",
        "compute_times",
        "total_time",
    )

    def __init__(
        self,
        *,
        config: dict[str, tuple[Any, Any]],
        nodes_added: list[str],
        nodes_removed: list[str],
        edges_added: list[tuple[str, str]],
        edges_removed: list[tuple[str, str]],
        node_weights: dict[str, WeightDiff],
        edge_weights: dict[str, WeightDiff],
        compute_times: dict[str, WeightDiff],
        total_time: WeightDiff,
    ):
        self.config = config
        self.nodes_added = nodes_added
        self.nodes_removed = nodes_removed
        self.edges_added = edges_added
        self.edges_removed = edges_removed
        self.node_weights = node_weights
        self.edge_weights = edge_weights
        self.compute_times = compute_times
        self.total_time = total_time

    @property
    def same_structure(self) -> bool:
        return not (
            self.nodes_added or self.nodes_removed or self.edges_added or self.edges_removed
        )

    @property
    def changed_node_weights(self) -> dict[str, WeightDiff]:
        return {k: d for k, d in self.node_weights.items() if d.changed}

    @property
    def changed_edge_weights(self) -> dict[str, WeightDiff]:
        return {k: d for k, d in self.edge_weights.items() if d.changed}

    def structure_summary(self) -> str:
        parts = []
        if self.nodes_added:
            parts.append(f"nodes added {self.nodes_added}")
        if self.nodes_removed:
            parts.append(f"nodes removed {self.nodes_removed}")
        if self.edges_added:
            parts.append(f"edges added {[f'{s}->{t}' for s, t in self.edges_added]}")
        if self.edges_removed:
            parts.append(f"edges removed {[f'{s}->{t}' for s, t in self.edges_removed]}")
        return "; ".join(parts) or "same structure"

    def rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """Table rows ``(section, key, before, after, delta, percent)`` of every change."""
        out: list[tuple[str, str, str, str, str, str]] = []
        for key, (a, b) in self.config.items():
            out.append(("config", key, _show(a), _show(b), "", ""))
        for n in self.nodes_added:
            out.append(("node added", n, "", n, "", ""))
        for n in self.nodes_removed:
            out.append(("node removed", n, n, "", "", ""))
        for s, t in self.edges_added:
            out.append(("edge added", f"{s}->{t}", "", f"{s}->{t}", "", ""))
        for s, t in self.edges_removed:
            out.append(("edge removed", f"{s}->{t}", f"{s}->{t}", "", "", ""))
        for section, diffs in (
            ("node weight", self.changed_node_weights),
            ("edge bits", self.changed_edge_weights),
            ("compute ms", self.compute_times),
        ):
            for key, d in diffs.items():
                out.append((section, key, *_nums(d)))
        out.append(("total ms", "total_time_ms", *_nums(self.total_time)))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "configuration": {
                k: {"before": None if a is ABSENT else a, "after": None if b is ABSENT else b}
                for k, (a, b) in self.config.items()
            },
            "nodes_added": list(self.nodes_added),
            "nodes_removed": list(self.nodes_removed),
            "edges_added": [f"{s}->{t}" for s, t in self.edges_added],
            "edges_removed": [f"{s}->{t}" for s, t in self.edges_removed],
            "node_weights": {k: d.to_dict() for k, d in self.node_weights.items()},
            "edge_weights": {k: d.to_dict() for k, d in self.edge_weights.items()},
            "compute_time_ms": {k: d.to_dict() for k, d in self.compute_times.items()},
            "total_time_ms": self.total_time.to_dict(),
        }

    def __str__(self) -> str:
        lines = ["Profile comparison (a -> b)"]
        if self.config:
            lines.append("  configuration:")
            for key, (a, b) in self.config.items():
                lines.append(f"    {key}: {_show(a)} -> {_show(b)}")
        else:
            lines.append("  configuration: identical")
        lines.append(f"  structure: {self.structure_summary()}")
        for title, diffs in (
            ("node weights (instructions)", self.changed_node_weights),
            ("edge weights (bits)", self.changed_edge_weights),
        ):
            if diffs:
                lines.append(f"  {title}:")
                for key, d in diffs.items():
                    lines.append(f"    {key}: {d.describe()}")
            else:
                lines.append(f"  {title}: identical")
        if self.compute_times:
            lines.append("  compute time (ms):")
            for key, d in self.compute_times.items():
                lines.append(f"    {key}: {d.describe()}")
        lines.append(f"  total time (ms): {self.total_time.describe()}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<ProfileDiff config={len(self.config)} structure={self.structure_summary()!r} "
            f"node_weights={len(self.changed_node_weights)} "
            f"edge_weights={len(self.changed_edge_weights)} total={self.total_time.delta:+.3f}ms>"
        )


def compare_profiles(a: Any, b: Any) -> ProfileDiff:
    """The differences from profile ``a`` to profile ``b``."""
    config: dict[str, tuple[Any, Any]] = {}
    for key in [*a.configuration, *(k for k in b.configuration if k not in a.configuration)]:
        va = a.configuration.get(key, ABSENT)
        vb = b.configuration.get(key, ABSENT)
        if va is ABSENT or vb is ABSENT or va != vb:
            config[key] = (va, vb)
    nodes_a, nodes_b = set(a.nodes), set(b.nodes)
    edges_a, edges_b = set(a.edges), set(b.edges)
    common_nodes = [n for n in a.nodes if n in nodes_b]
    common_edges = [e for e in a.edges if e in edges_b]
    keys = [f"{s}->{t}" for s, t in common_edges]
    return ProfileDiff(
        config=config,
        nodes_added=[n for n in b.nodes if n not in nodes_a],
        nodes_removed=[n for n in a.nodes if n not in nodes_b],
        edges_added=[e for e in b.edges if e not in edges_a],
        edges_removed=[e for e in a.edges if e not in edges_b],
        node_weights={n: WeightDiff(n, a.node_weights[n], b.node_weights[n]) for n in common_nodes},
        edge_weights={k: WeightDiff(k, a.edge_weights[k], b.edge_weights[k]) for k in keys},
        compute_times={
            n: WeightDiff(
                n,
                a.execution_metrics[n].compute_time_ms,
                b.execution_metrics[n].compute_time_ms,
            )
            for n in common_nodes
        },
        total_time=WeightDiff("total_time_ms", a.total_time_ms, b.total_time_ms),
    )


def _show(value: Any) -> str:
    return "<absent>" if value is ABSENT else repr(value)


def _fmt(value: float, sign: bool = False) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):+,}" if sign else f"{int(value):,}"
    return f"{value:+,.3f}" if sign else f"{value:,.3f}"


def _nums(d: WeightDiff) -> tuple[str, str, str, str]:
    pct = d.percent
    return (
        _fmt(d.before),
        _fmt(d.after),
        _fmt(d.delta, sign=True),
        "new" if pct is None else f"{pct:+.1f}%",
    )
