"""Pictures of runs and graphs: a Gantt chart per worker, and the DAG itself.

``gantt(result_or_profile_or_simulation, path=None)`` draws one row per worker and one
bar per node attempt, coloured by status; ``draw_dag(dag, path=None, result=None,
profile=None)`` draws the graph in layers by topological depth (no networkx needed),
nodes coloured by status, edge widths proportional to the data that crossed them.

Both return a ``matplotlib.figure.Figure`` and, given ``path``, save it in the format
its suffix names (``.png``, ``.svg``, ``.pdf``). Figures are built with the Agg canvas
directly — pyplot and its global figure registry are never touched, so nothing leaks
and no display is needed. matplotlib is the ``plot`` extra, imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagforge.errors import ReportError

__all__ = ["STATUS_COLORS", "STATUS_HATCHES", "draw_dag", "gantt", "layered_layout"]

STATUS_COLORS: dict[str, str] = {
    "succeeded": "#52b788",
    "failed": "#e63946",
    "timed_out": "#9d0208",
    "cancelled": "#f4a261",
    "skipped": "#c0c0c0",
    "pending": "#e9ecef",
    "predicted": "#4895ef",
    "unknown": "#adb5bd",
}
_FORMATS = {".png", ".svg", ".pdf"}


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # a missing extra stays an ImportError, a clearer one
        raise ImportError(
            "dagforge.profiling.plot needs matplotlib: pip install 'dagforge[plot]'"
        ) from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str] | None) -> None:
    if path is None:
        return
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _FORMATS:
        raise ReportError(
            f"cannot tell the image format of {str(p)!r}: use a .png, .svg or .pdf suffix"
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format=suffix[1:], dpi=120)


# --- Gantt -------------------------------------------------------------------------------


def _bars(source: Any) -> tuple[list[tuple[str, str, float, float, str]], list[str], str]:
    """``(bars, rows, unit)``; a bar is ``(worker, node, start, end, status)``."""
    from dagforge.profiling.profile import Profile
    from dagforge.scheduling.simulate import Simulation

    if isinstance(source, Simulation):
        bars = [(w, n, s, e, "predicted") for n, w, s, e in source.entries]
        rows = [f"worker-{i}" for i in range(source.workers)]
        return bars, rows, source.unit
    if isinstance(source, Profile):
        if source.result is not None:
            return _bars(source.result)
        metrics = [source.execution_metrics[n] for n in source.nodes]
        if any(m.start_ms is not None for m in metrics):
            bars = [
                (m.worker or "?", m.task, m.start_ms, m.end_ms, m.status or "succeeded")
                for m in metrics
                if m.start_ms is not None and m.end_ms is not None
            ]
            rows = list(source.metadata.get("workers") or [])
            return bars, rows, "ms"
        # A profile without positions (dagprofiler's): lay nodes end to end.
        order = source.execution_order or source.nodes
        t = 0.0
        bars = []
        for name in order:
            d = source.execution_metrics[name].compute_time_ms
            bars.append(("sequential", name, t, t + d, "succeeded"))
            t += d
        return bars, ["sequential"], "ms"
    if hasattr(source, "results") and hasattr(source, "execution_order"):
        bars = []
        for name, nr in source.results.items():
            if nr.attempts:
                for a in nr.attempts:
                    bars.append((a.worker or "?", name, a.start * 1e3, a.end * 1e3, a.status))
            elif nr.start is not None and nr.end is not None:
                bars.append((nr.worker or "?", name, nr.start * 1e3, nr.end * 1e3, nr.status))
        return bars, list(source.workers), "ms"
    raise ReportError(
        f"gantt() takes an ExecutionResult, a Profile or a Simulation, got {type(source).__name__}"
    )


#: Hatches that mark a bar's status when the colours name the nodes.
STATUS_HATCHES: dict[str, str] = {
    "succeeded": "",
    "predicted": "",
    "failed": "xxx",
    "timed_out": "xxx",
    "cancelled": "///",
    "skipped": "...",
    "pending": "",
    "unknown": "",
}
_MAX_NODE_COLOURS = 20  # tab20; past that, bars are coloured by status and labelled


def gantt(
    source: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    width: float = 10.0,
    labels: bool = True,
) -> Any:
    """A Gantt chart, one row per worker; returns the Figure (saved when ``path``).

    Every bar can be identified: with up to 20 distinct nodes each node has its own
    colour, named in a legend placed outside the plot (right of it), and a bar's status
    other than success is shown by a hatch, listed in the same legend; with more nodes
    the bars are coloured by status and each bar wide enough carries its name. Bars wide
    enough are also labelled in place (``labels=False`` turns that off).
    """
    bars, rows, unit = _bars(source)
    for w, *_ in bars:
        if w not in rows:
            rows.append(w)
    from dagforge.scheduling.simulate import Simulation

    if not isinstance(source, Simulation):  # a prediction shows its idle workers too
        rows = [r for r in rows if any(b[0] == r for b in bars)] or rows
    rows = rows or ["(no worker)"]
    names = list(dict.fromkeys(b[1] for b in bars))
    by_node = 0 < len(names) <= _MAX_NODE_COLOURS
    palette: dict[str, Any] = {}
    if by_node:
        from matplotlib import colormaps

        cmap = colormaps["tab20"]
        palette = {n: cmap(i % 20) for i, n in enumerate(names)}
    fig = _figure(width, 1.4 + 0.55 * max(len(rows), min(len(names), 12) * 0.45))
    ax = fig.add_subplot()
    y = {r: i for i, r in enumerate(rows)}
    end = max((b[3] for b in bars), default=1.0) or 1.0
    for worker, name, start, stop, status in bars:
        dur = max(stop - start, end * 2e-3)
        if by_node:
            color = palette[name]
            hatch = STATUS_HATCHES.get(status, "")
        else:
            color = STATUS_COLORS.get(status, STATUS_COLORS["unknown"])
            hatch = ""
        ax.barh(
            y[worker],
            dur,
            left=start,
            height=0.6,
            color=color,
            hatch=hatch or None,
            edgecolor="#333333",
            linewidth=0.6,
        )
        if labels and dur > end * 0.008 * max(len(name), 3):
            ax.text(
                start + dur / 2, y[worker], name, ha="center", va="center", fontsize=8, clip_on=True
            )
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel(f"time ({unit})")
    ax.set_title(title or f"{len(bars)} node runs on {len(rows)} worker(s)")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    statuses = sorted({b[4] for b in bars})
    if by_node:
        handles = [Patch(facecolor=palette[n], edgecolor="#333333", label=n) for n in names]
        marked = [s for s in statuses if STATUS_HATCHES.get(s)]
        handles += [
            Patch(facecolor="white", edgecolor="#333333", hatch=STATUS_HATCHES[s], label=s)
            for s in marked
        ]
    else:
        handles = [
            Patch(color=STATUS_COLORS.get(s, STATUS_COLORS["unknown"]), label=s) for s in statuses
        ]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            fontsize=8,
            title="node" if by_node else "status",
            title_fontsize=8,
        )
    _save(fig, path)
    return fig


# --- the graph ----------------------------------------------------------------------------


def layered_layout(
    nodes: Sequence[str], edges: Sequence[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """Positions by topological depth: ``y = -depth``; within a layer, nodes sorted by
    the mean x of their parents (fewer crossings) and spread evenly around 0."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    indeg = dict.fromkeys(nodes, 0)
    for s, t in edges:
        succ[s].append(t)
        pred[t].append(s)
        indeg[t] += 1
    depth = dict.fromkeys(nodes, 0)
    queue = [n for n in nodes if not indeg[n]]
    k = 0
    while k < len(queue):
        u = queue[k]
        k += 1
        for v in succ[u]:
            depth[v] = max(depth[v], depth[u] + 1)
            indeg[v] -= 1
            if not indeg[v]:
                queue.append(v)
    layers: dict[int, list[str]] = {}
    for n in nodes:
        layers.setdefault(depth[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for d in sorted(layers):
        layer = layers[d]
        if d:
            rank = {n: i for i, n in enumerate(layer)}

            def bary(n: str, rank: dict[str, int] = rank) -> tuple[float, int]:
                xs = [pos[p][0] for p in pred[n] if p in pos]
                return (sum(xs) / len(xs) if xs else 0.0, rank[n])

            layer = sorted(layer, key=bary)
        offset = (len(layer) - 1) / 2
        for i, n in enumerate(layer):
            pos[n] = (i - offset, -float(d))
    return pos


def draw_dag(
    dag: Any,
    path: str | os.PathLike[str] | None = None,
    result: Any = None,
    profile: Any = None,
    *,
    title: str | None = None,
    labels: bool | None = None,
) -> Any:
    """The DAG in layers; nodes coloured by status (``result``), edge width by weight
    (``profile`` bits, else the result's bytes). ``dag`` may also be a Profile."""
    from dagforge.profiling.profile import Profile

    if isinstance(dag, Profile):
        profile = profile or dag
        nodes, edges = list(dag.nodes), list(dag.edges)
    else:
        nodes, edges = list(dag.nodes), list(dag.edges)
    status: Mapping[str, str] = {}
    if result is not None:
        status = {n: r.status for n, r in result.results.items()}
    elif profile is not None:
        status = {n: m.status for n, m in profile.execution_metrics.items() if m.status}
    weights: dict[tuple[str, str], float] = {}
    if profile is not None:
        weights = {(s, t): float(profile.edge_weights.get(f"{s}->{t}", 0)) for s, t in edges}
    elif result is not None and result.edge_bytes:
        weights = {e: 8.0 * b for e, b in result.edge_bytes.items()}
    pos = layered_layout(nodes, edges)
    n_layers = int(-min((p[1] for p in pos.values()), default=0)) + 1
    widest = max((sum(1 for p in pos.values() if p[1] == -d) for d in range(n_layers)), default=1)
    fig = _figure(min(max(4.0, 1.4 * widest + 1), 40), min(max(3.0, 1.2 * n_layers + 1), 40))
    ax = fig.add_subplot()
    top = max(weights.values(), default=0.0)
    show_labels = labels if labels is not None else len(nodes) <= 200
    for s, t in edges:
        w = weights.get((s, t), 0.0)
        lw = 0.8 + (5.2 * w / top if top > 0 else 0.0)
        span = pos[s][1] - pos[t][1]
        # An edge skipping layers bends, so it does not hide behind the nodes between.
        style = (
            "arc3,rad=0.35"
            if span > 1 and pos[s][0] == pos[t][0]
            else ("arc3,rad=0.15" if span > 1 else "arc3")
        )
        ax.annotate(
            "",
            xy=pos[t],
            xytext=pos[s],
            arrowprops={
                "arrowstyle": "-|>",
                "lw": lw,
                "color": "#555555",
                "shrinkA": 16,
                "shrinkB": 16,
                "alpha": 0.8,
                "connectionstyle": style,
            },
        )
    colors = [
        STATUS_COLORS.get(status.get(n, "pending"), STATUS_COLORS["unknown"])
        if status
        else "#a9d6e5"
        for n in nodes
    ]
    xs = [pos[n][0] for n in nodes]
    ys = [pos[n][1] for n in nodes]
    if show_labels:
        for n, c in zip(nodes, colors, strict=True):
            ax.text(
                pos[n][0],
                pos[n][1],
                n,
                ha="center",
                va="center",
                fontsize=9,
                zorder=4,
                bbox={"boxstyle": "round,pad=0.5", "fc": c, "ec": "#333333"},
            )
    else:
        ax.scatter(xs, ys, s=60, c=colors, edgecolors="#333333", linewidths=0.5, zorder=3)
    if status:
        from matplotlib.patches import Patch

        seen = sorted(set(status.values()))
        ax.legend(
            handles=[
                Patch(color=STATUS_COLORS.get(s, STATUS_COLORS["unknown"]), label=s) for s in seen
            ],
            loc="best",
            fontsize=8,
        )
    ax.set_xlim(min(xs, default=0) - 1, max(xs, default=0) + 1)
    ax.set_ylim(min(ys, default=0) - 0.7, 0.7)
    ax.set_axis_off()
    label = f"{len(nodes)} nodes, {len(edges)} edges"
    if weights:
        label += " (edge width ~ bits)"
    ax.set_title(title or label)
    _save(fig, path)
    return fig
