"""Pictures of a run as HTML/SVG: the DAG coloured by state, a Gantt chart per worker,
the profile tables — and one self-contained HTML report of a run.

``result.report("run.html")`` and ``dagforge report profile.json trace.json -o
run.html`` write a single file with everything inline (no script, no stylesheet or
font from anywhere else), so it opens from disk, in an e-mail attachment or on an
air-gapped machine. The dashboard (``/ui`` of ``dagforge serve``) draws with the same
functions.

Every name that reaches the page goes through :func:`html.escape` — node names are
user input. States are shown by colour *and* by text (a label under each node, a
legend), so the pictures do not rely on colour alone.

Big runs degrade instead of freezing a browser: a DAG over ``max_nodes`` nodes becomes
a table of counts by state (and by node family, ``name#3`` counting as ``name``), and a
Gantt chart over ``max_bars`` bars draws the longest ones and says how many it left out.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagforge.errors import ProfileError, ReportError

__all__ = [
    "Bar",
    "bars_from_result",
    "bars_from_trace",
    "dag_svg",
    "gantt_svg",
    "layout",
    "profile_tables",
    "report_html",
    "timeline_svg",
    "write_report",
]

STATE_COLOURS = {
    "pending": "#d9d9d9",
    "queued": "#d9d9d9",
    "ready": "#c6dbef",
    "running": "#6baed6",
    "retrying": "#fdae6b",
    "succeeded": "#74c476",
    "failed": "#fb6a4a",
    "timed_out": "#e6550d",
    "skipped": "#bdbdbd",
    "cancelled": "#9e9ac8",
}
STATE_MARKS = {  # a glyph per state, so state is never told by colour alone
    "pending": "○",
    "queued": "○",
    "ready": "◔",
    "running": "▶",
    "retrying": "↻",
    "succeeded": "✓",
    "failed": "✗",
    "timed_out": "⌛",
    "skipped": "-",
    "cancelled": "⊘",
}
MAX_NODES = 300
MAX_BARS = 3000

_e = html.escape


def _family(name: str) -> str:
    return name.split("#", 1)[0]


# -- the DAG --------------------------------------------------------------------------------


def layout(
    nodes: Sequence[str], edges: Iterable[tuple[str, str]]
) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Layered left-to-right layout: ``({node: (layer, row)}, layers, rows)``.

    Layer = longest path from a source (cycles, from loops in a spec, are broken at the
    back edge); rows ordered by the mean row of the parents (one barycentre sweep).
    """
    index = {n: i for i, n in enumerate(nodes)}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in edges:
        if s in index and t in index and s != t:
            succ[s].append(t)
            pred[t].append(s)
    # depth-first order marks back edges (loops) so layering terminates
    layer: dict[str, int] = {}
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            u, it = stack[-1]
            v = next(it, None)
            if v is None:
                state[u] = 2
                stack.pop()
            elif state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                state[v] = 1
                stack.append((v, iter(succ[v])))
    indeg = {n: sum(1 for p in pred[n] if (p, n) not in back) for n in nodes}
    ready = [n for n in nodes if indeg[n] == 0]
    for n in ready:
        layer[n] = 0
    k = 0
    while k < len(ready):
        u = ready[k]
        k += 1
        for v in succ[u]:
            if (u, v) in back:
                continue
            layer[v] = max(layer.get(v, 0), layer[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    for n in nodes:
        layer.setdefault(n, 0)
    by_layer: dict[int, list[str]] = {}
    for n in nodes:
        by_layer.setdefault(layer[n], []).append(n)
    row: dict[str, float] = {}
    for lay in sorted(by_layer):
        members = by_layer[lay]
        if lay:
            members.sort(
                key=lambda n: (
                    sum(row[p] for p in pred[n] if p in row) / max(len(pred[n]), 1)
                    if any(p in row for p in pred[n])
                    else index[n],
                    index[n],
                )
            )
        for r, n in enumerate(members):
            row[n] = r
    pos = {n: (layer[n], int(row[n])) for n in nodes}
    layers = max(by_layer) + 1 if by_layer else 0
    rows = max((len(m) for m in by_layer.values()), default=0)
    return pos, layers, rows


def _aggregate(states: Mapping[str, str]) -> dict[str, dict[str, int]]:
    fams: dict[str, dict[str, int]] = {}
    for name, st in states.items():
        counts = fams.setdefault(_family(name), {})
        counts[st] = counts.get(st, 0) + 1
    return fams


def summary_table(
    states: Mapping[str, str],
    total: int | None = None,
    limit: int = 50,
    lead: str | None = None,
) -> str:
    """Counts by state, then by node family (largest first): the view of a huge run."""
    counts: dict[str, int] = {}
    for st in states.values():
        counts[st] = counts.get(st, 0) + 1
    total = total if total is not None else len(states)
    head = " ".join(
        f'<span class="chip st-{_e(s)}">{_e(STATE_MARKS.get(s, "?"))} {_e(s)} {n}</span>'
        for s, n in sorted(counts.items())
    )
    fams = sorted(_aggregate(states).items(), key=lambda kv: -sum(kv[1].values()))
    rows = "".join(
        f"<tr><td>{_e(f)}</td><td>{sum(c.values())}</td><td>"
        + ", ".join(f"{_e(s)} {n}" for s, n in sorted(c.items()))
        + "</td></tr>"
        for f, c in fams[:limit]
    )
    more = f"<p>{len(fams) - limit} more node families not listed.</p>" if len(fams) > limit else ""
    return (
        f'<div class="dag-summary" data-nodes="{total}"><p>'
        + _e(
            lead
            or f"{total} nodes: too many to draw (over {MAX_NODES}); summarised by state "
            "and node family."
        )
        + f"</p><p>{head}</p>"
        f'<table class="grid"><tr><th>node family</th><th>instances</th><th>states</th></tr>'
        f"{rows}</table>{more}</div>"
    )


def dag_svg(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    states: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
    max_nodes: int = MAX_NODES,
    link: str | None = None,
) -> str:
    """The DAG as inline SVG, each node a box labelled with its name and state.

    ``states`` colour (and label) the nodes; ``notes`` add a second line (``x3``).
    ``link`` (a format string with ``{node}``) makes each node a link. Over
    ``max_nodes`` nodes the picture is replaced by :func:`summary_table`.
    """
    states = states or {}
    if len(nodes) > max_nodes:
        return summary_table({n: states.get(n, "pending") for n in nodes}, len(nodes))
    edges = list(edges)
    pos, layers, rows = layout(nodes, edges)
    w, h, gx, gy = 150, 40, 60, 22
    width = max(layers * (w + gx) + 20, 200)
    height = max(rows * (h + gy) + 20, 60)

    def xy(n: str) -> tuple[int, int]:
        lay, r = pos[n]
        return 10 + lay * (w + gx), 10 + r * (h + gy)

    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="DAG of {len(nodes)} nodes">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for s, t in edges:
        if s not in pos or t not in pos or s == t:
            continue
        x1, y1 = xy(s)
        x2, y2 = xy(t)
        if pos[t][0] <= pos[s][0]:  # a loop back: an arc above
            parts.append(
                f'<path class="edge back" d="M{x1 + w // 2},{y1} C{x1 + w // 2},{y1 - 30} '
                f'{x2 + w // 2},{y2 - 30} {x2 + w // 2},{y2}" fill="none" stroke="#999" '
                'stroke-dasharray="4 3" marker-end="url(#arrow)"/>'
            )
        else:
            parts.append(
                f'<line class="edge" x1="{x1 + w}" y1="{y1 + h // 2}" x2="{x2}" '
                f'y2="{y2 + h // 2}" stroke="#555" marker-end="url(#arrow)"/>'
            )
    for n in nodes:
        x, y = xy(n)
        st = states.get(n, "pending")
        label = n if len(n) <= 20 else n[:19] + "…"
        note = (notes or {}).get(n, "")
        box = (
            f'<g class="node st-{_e(st)}" data-node="{_e(n)}" data-state="{_e(st)}">'
            f"<title>{_e(n)}: {_e(st)}{(' ' + _e(note)) if note else ''}</title>"
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" '
            f'fill="{STATE_COLOURS.get(st, "#eee")}" stroke="#333"/>'
            f'<text x="{x + 8}" y="{y + 16}" font-size="12" font-family="sans-serif">'
            f"{_e(label)}</text>"
            f'<text class="state-label" x="{x + 8}" y="{y + 32}" font-size="11" '
            f'font-family="sans-serif">{_e(STATE_MARKS.get(st, "?"))} {_e(st)}'
            f"{(' ' + _e(note)) if note else ''}</text></g>"
        )
        if link:
            box = f'<a href="{_e(link.format(node=n))}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return "".join(parts)


# -- the Gantt chart -------------------------------------------------------------------------


class Bar(tuple):
    """``(node, worker, start_s, end_s, status)``: one attempt on one worker."""

    __slots__ = ()

    def __new__(cls, node: str, worker: str, start: float, end: float, status: str) -> Bar:
        return tuple.__new__(cls, (node, worker, float(start), float(end), status))


def bars_from_result(result: Any) -> list[Bar]:
    """One bar per attempt of every node that ran (times from the run's start)."""
    bars = []
    for name, nr in result.results.items():
        if nr.attempts:
            for a in nr.attempts:
                bars.append(Bar(name, a.worker or "?", a.start, a.end, a.status))
        elif nr.start is not None and nr.end is not None:
            bars.append(Bar(name, nr.worker or "?", nr.start, nr.end, nr.status))
    return bars


def bars_from_trace(trace: Mapping[str, Any]) -> list[Bar]:
    """Bars from a Chrome trace (``result.trace.to_dict()`` / a saved trace JSON)."""
    events = trace.get("traceEvents", []) if isinstance(trace, Mapping) else list(trace)
    names = {
        e.get("tid"): e.get("args", {}).get("name")
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    bars = []
    for e in events:
        if e.get("ph") != "X":
            continue
        args = e.get("args") or {}
        start = float(e.get("ts", 0)) / 1e6
        bars.append(
            Bar(
                str(args.get("node", e.get("name", "?"))),
                str(names.get(e.get("tid")) or f"track {e.get('tid')}"),
                start,
                start + float(e.get("dur", 0)) / 1e6,
                str(args.get("status", "succeeded")),
            )
        )
    return bars


def gantt_svg(bars: Sequence[Bar], max_bars: int = MAX_BARS, width: int = 900) -> str:
    """A Gantt chart: one lane per worker, one bar per attempt, coloured and titled by
    state. Over ``max_bars`` bars, only the longest are drawn (and the rest counted)."""
    if not bars:
        return '<p class="gantt-empty">No node has run yet.</p>'
    shown = list(bars)
    dropped = 0
    if len(shown) > max_bars:
        shown.sort(key=lambda b: b[3] - b[2], reverse=True)
        dropped = len(shown) - max_bars
        shown = shown[:max_bars]
    workers = sorted({b[1] for b in shown})
    lane = {wk: i for i, wk in enumerate(workers)}
    t0 = min(b[2] for b in shown)
    t1 = max(b[3] for b in shown)
    span = max(t1 - t0, 1e-9)
    left, lh = 140, 24
    plot = width - left - 10
    height = len(workers) * lh + 30
    parts = [
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="Gantt chart of {len(bars)} attempts">'
    ]
    for wk, i in lane.items():
        y = 5 + i * lh
        parts.append(
            f'<text x="4" y="{y + 16}" font-size="11" font-family="sans-serif">'
            f"{_e(wk[:22])}</text>"
            f'<line x1="{left}" y1="{y + lh - 1}" x2="{width - 10}" y2="{y + lh - 1}" '
            'stroke="#eee"/>'
        )
    for node, wk, start, end, st in shown:
        x = left + (start - t0) / span * plot
        bw = max((end - start) / span * plot, 1.0)
        y = 5 + lane[wk] * lh
        parts.append(
            f'<rect class="bar st-{_e(st)}" data-node="{_e(node)}" x="{x:.1f}" y="{y + 3}" '
            f'width="{bw:.1f}" height="{lh - 8}" fill="{STATE_COLOURS.get(st, "#999")}" '
            f'stroke="#333" stroke-width="0.5"><title>{_e(node)} on {_e(wk)}: {_e(st)}, '
            f"{(end - start) * 1000:.1f} ms (at {(start - t0) * 1000:.1f} ms)</title></rect>"
        )
    y = len(workers) * lh + 22
    parts.append(
        f'<text x="{left}" y="{y}" font-size="11" font-family="sans-serif">0 ms</text>'
        f'<text x="{width - 90}" y="{y}" font-size="11" font-family="sans-serif">'
        f"{span * 1000:.1f} ms</text></svg>"
    )
    note = (
        f'<p class="gantt-note">{dropped} shorter attempts of {len(bars)} not drawn.</p>'
        if dropped
        else ""
    )
    return "".join(parts) + note


# -- the resource timeline ------------------------------------------------------------------


def timeline_svg(timeline: Any, width: int = 900) -> str:
    """Allocation of each resource over the run, as steps against its capacity
    (a ``ResourceTimeline`` or a ``ResourcePool``): one row per resource of the pool,
    drawn by :func:`dagforge.profiling.resource_usage.usage_svg`."""
    from dagforge.profiling.resource_usage import (
        ResourceUsage,
        usage_from_snapshots,
        usage_svg,
    )

    if isinstance(timeline, list) and all(isinstance(u, ResourceUsage) for u in timeline):
        note = "From the nodes' start/end times and requirements (no pool timeline)."
        return usage_svg(timeline, width, note=note)
    timeline = getattr(timeline, "timeline", timeline)
    snaps = list(timeline.snapshots) if timeline is not None else []
    if not snaps:
        return "<p>No resource was acquired in this run.</p>"
    caps = dict(getattr(timeline, "_capacities", {}) or {})
    usages = usage_from_snapshots(snaps, caps)
    return usage_svg(usages, width, note=f"{len(snaps)} acquire/release events.")


# -- the profile tables -----------------------------------------------------------------------


def profile_tables(profile: Any, top: int = 15) -> str:
    """Slowest nodes, heaviest edges and the critical path of a ``Profile``."""
    metrics = profile.execution_metrics
    slow = sorted(metrics.items(), key=lambda kv: kv[1].total_time_ms, reverse=True)[:top]
    rows = "".join(
        f"<tr><td>{_e(n)}</td><td>{m.compute_time_ms:.3f}</td><td>{m.serialize_time_ms:.3f}"
        f"</td><td>{m.deserialize_time_ms:.3f}</td><td>{_e(str(m.bytes_out))}</td>"
        f"<td>{_e(str(m.worker or ''))}</td><td>{_e(str(m.status or ''))}</td></tr>"
        for n, m in slow
    )
    edges = sorted(profile.edge_weights.items(), key=lambda kv: kv[1], reverse=True)[:top]
    erows = (
        "".join(f"<tr><td>{_e(k)}</td><td>{float(v) / 8:.0f}</td></tr>" for k, v in edges if v)
        or '<tr><td colspan="2">no measured edge bytes (run with profile=True)</td></tr>'
    )
    try:
        path, total = profile.critical_path()
    except Exception as exc:  # a profile with a cycle cannot have one
        path, total = [], 0.0
        cp = f"<p>no critical path: {_e(str(exc))}</p>"
    else:
        cp = (
            f'<p class="critical-path">{" → ".join(_e(n) for n in path)} '
            f"(<b>{total:.3f} ms</b> of compute)</p>"
        )
    return (
        '<h3>Slowest nodes</h3><table class="grid profile"><tr><th>node</th><th>compute ms</th>'
        "<th>serialize ms</th><th>deserialize ms</th><th>bytes out</th><th>worker</th>"
        f"<th>status</th></tr>{rows}</table>"
        '<h3>Heaviest edges</h3><table class="grid edges"><tr><th>edge</th><th>bytes</th></tr>'
        f"{erows}</table><h3>Critical path</h3>{cp}"
    )


# -- the report ----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem}h3{font-size:1rem}
table.grid{border-collapse:collapse;margin:.5rem 0}
table.grid td,table.grid th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;
font-size:.85rem;vertical-align:top}
.scroll{overflow:auto;max-width:100%;border:1px solid #eee}
.chip{display:inline-block;padding:.1rem .45rem;border-radius:.6rem;margin:.1rem;
font-size:.8rem;border:1px solid #888}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:24rem;font-size:.8rem}
""" + "".join(f".chip.st-{s}{{background:{c}}}" for s, c in STATE_COLOURS.items())


def legend() -> str:
    return "".join(
        f'<span class="chip st-{s}">{STATE_MARKS[s]} {s}</span>'
        for s in ("pending", "running", "succeeded", "failed", "skipped", "cancelled")
    )


def report_html(
    *,
    title: str,
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    states: Mapping[str, str],
    bars: Sequence[Bar],
    profile: Any = None,
    failures: Mapping[str, tuple[str, str]] | None = None,
    logs: Mapping[str, str] | None = None,
    summary: str = "",
    timeline: Any = None,
) -> str:
    """One HTML page, everything inline (no external resource, no script)."""
    sections = [
        f"<h1>{_e(title)}</h1><p>{_e(summary)}</p><p>{legend()}</p>",
        f'<h2>DAG</h2><div class="scroll">{dag_svg(nodes, edges, states)}</div>',
        f'<h2>Gantt chart</h2><div class="scroll">{gantt_svg(bars)}</div>',
    ]
    if profile is not None:
        sections.append(f"<h2>Profile</h2>{profile_tables(profile)}")
    if timeline is not None:
        sections.append(
            f'<h2>Resource timeline</h2><div class="scroll">{timeline_svg(timeline)}</div>'
        )
    for name, (error, tb) in (failures or {}).items():
        sections.append(
            f'<h2>Failed: {_e(name)}</h2><p class="error">{_e(error)}</p><pre>{_e(tb or "")}</pre>'
        )
    for name, text in (logs or {}).items():
        if text:
            sections.append(f"<details><summary>Logs of {_e(name)}</summary><pre>{_e(text)}</pre>")
            sections.append("</details>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )


def write_report(
    path: str | os.PathLike[str],
    *,
    result: Any = None,
    profile: Any = None,
    trace: Any = None,
    title: str | None = None,
    timeline: Any = None,
) -> Path:
    """Write the report of a run: from an ``ExecutionResult`` (``result.report``), or
    from a saved profile and/or trace (``dagforge report``). ``timeline`` (the run's
    ``ResourcePool`` or its ``ResourceTimeline``) adds the resource timeline; without it,
    a result whose nodes have ``resources`` options gets one derived from their start
    and end times. Returns the path."""
    from dagforge.profiling.profile import Profile, atomic_write_text

    if result is None and profile is None and trace is None:
        raise ReportError("write_report needs a result, a profile or a trace")
    if isinstance(profile, str | os.PathLike):
        profile = Profile.load(profile)
    if isinstance(trace, str | os.PathLike):
        tpath = Path(trace)
        try:
            trace = json.loads(tpath.read_text())
        except (OSError, ValueError) as exc:
            raise ProfileError(f"trace {tpath}: not a readable Chrome trace JSON ({exc})") from None
    failures: dict[str, tuple[str, str]] = {}
    logs: dict[str, str] = {}
    if result is not None:
        dag = result.dag
        nodes = list(dag.nodes)
        edges = [tuple(e[:2]) for e in dag.edges]
        states = {n: r.status for n, r in result.results.items()}
        bars = bars_from_result(result)
        if profile is None and result._metrics:
            profile = Profile.from_result(result)
        for n, r in result.results.items():
            if r.status in ("failed", "timed_out") and r.error is not None:
                failures[n] = (f"{type(r.error).__name__}: {r.error}", r.traceback or "")
            if r.logs:
                logs[n] = r.logs.text
        summary = result.summary()
        title = title or f"dagforge run: {result.status}"
        if timeline is None:  # no pool given: the nodes' resources options, if any
            from dagforge.profiling.resource_usage import usage_of_result

            timeline = usage_of_result(result) or None
    else:
        nodes = list(profile.nodes) if profile is not None else []
        edges = [tuple(e) for e in profile.edges] if profile is not None else []
        bars = bars_from_trace(trace) if trace is not None else []
        if profile is not None and not bars:
            bars = [
                Bar(n, m.worker or "?", m.start_ms / 1000.0, m.end_ms / 1000.0, m.status or "")
                for n, m in profile.execution_metrics.items()
                if m.start_ms is not None and m.end_ms is not None
            ]
        states = {b[0]: b[4] for b in bars}
        if profile is not None:
            for n, m in profile.execution_metrics.items():
                if m.status:
                    states.setdefault(n, m.status)
        if not nodes:
            nodes = list(dict.fromkeys(b[0] for b in bars))
        summary = f"{len(nodes)} nodes, {len(bars)} attempts"
        title = title or "dagforge run report"
    page = report_html(
        title=title,
        nodes=nodes,
        edges=edges,
        states=states,
        bars=bars,
        profile=profile,
        failures=failures,
        logs=logs,
        summary=summary,
        timeline=timeline,
    )
    return atomic_write_text(path, page)
