"""How much of each resource a run held over time, against capacity: the data and its SVG.

Two sources give the same shape, a list of :class:`ResourceUsage` (one per resource,
each a sequence of :class:`Step` ``(start, end, amount, holders)`` in seconds from the
run's start):

- :func:`usage_from_snapshots`: a ``ResourcePool``'s timeline (what the
  ``ResourceAwareExecutor`` took and gave back, exactly when it did);
- :func:`usage_from_intervals`: node start/end times and each node's requirements (a
  run without a pool, or whose pool timeline is gone), by a sweep over the start and
  end events. A node instance ``name#3`` takes the requirements of ``name`` unless it
  has its own.

:func:`usage_svg` draws one row per resource: the amount held as filled steps, the
capacity as a dashed line (or "no capacity" when none is known), labelled with the
name, capacity and peak; each step's tooltip names the nodes holding it. Every name is
escaped. Past ``max_steps`` steps a row is drawn per pixel column (the largest amount
in each column) so a 10,000-node run stays a small picture.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagforge.errors import ProfileError, RequirementError

__all__ = [
    "ResourceUsage",
    "Step",
    "requirements_of",
    "usage_from_intervals",
    "usage_from_snapshots",
    "usage_of_result",
    "usage_svg",
]

_e = html.escape
MAX_STEPS = 1500  # per resource row; more are drawn per pixel column
_EPS = 1e-9


@dataclass(frozen=True)
class Step:
    """``amount`` of a resource held from ``start`` to ``end`` (seconds), by ``holders``."""

    start: float
    end: float
    amount: float
    holders: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceUsage:
    """The steps of one resource over a run, and its capacity (``None``: not known)."""

    resource: str
    capacity: float | None
    steps: tuple[Step, ...]

    @property
    def peak(self) -> float:
        return max((s.amount for s in self.steps), default=0.0)

    @property
    def peak_fraction(self) -> float | None:
        """``peak / capacity``, or ``None`` without a (positive) capacity."""
        if not self.capacity or self.capacity <= 0:
            return None
        return self.peak / self.capacity


def _family(name: str) -> str:
    return name.split("#", 1)[0]


def _amounts(req: Any, node: str) -> dict[str, float]:
    """A requirement (``ResourceRequirements`` or a mapping) as ``{resource: amount}``."""
    if req is None:
        return {}
    raw = getattr(req, "resources", req)
    if not isinstance(raw, Mapping):
        raise RequirementError(
            f"requirements of node {node!r} must map resource names to amounts, got "
            f"{type(req).__name__}"
        )
    out = {}
    for name, amount in raw.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise RequirementError(
                f"requirement {name!r} of node {node!r} must be a number, got {amount!r}"
            )
        if not math.isfinite(amount) or amount < 0:
            raise RequirementError(
                f"requirement {name!r} of node {node!r} must be a finite number >= 0, "
                f"got {amount!r}"
            )
        if amount > 0:
            out[str(name)] = float(amount)
    return out


def _merged(steps: list[Step]) -> tuple[Step, ...]:
    """Adjacent steps with the same amount and holders as one."""
    out: list[Step] = []
    for s in steps:
        last = out[-1] if out else None
        if last and last.end == s.start and last.amount == s.amount and last.holders == s.holders:
            out[-1] = Step(last.start, s.end, s.amount, s.holders)
        else:
            out.append(s)
    return tuple(out)


def _steps(events: list[tuple[float, int, str, dict[str, float]]], names: list[str]) -> Any:
    """Sweep ``(time, +1/-1, node, amounts)`` events into steps per resource."""
    events.sort(key=lambda ev: ev[0])
    level = dict.fromkeys(names, 0.0)
    holders: dict[str, dict[str, int]] = {n: {} for n in names}
    steps: dict[str, list[Step]] = {n: [] for n in names}
    k = 0
    while k < len(events):
        t = events[k][0]
        while k < len(events) and events[k][0] == t:  # every event at this instant
            _, sign, node, amounts = events[k]
            for res, amount in amounts.items():
                level[res] += sign * amount
                if abs(level[res]) <= _EPS * max(1.0, amount):
                    level[res] = 0.0  # a give that empties a resource leaves exactly 0
                held = holders[res]
                held[node] = held.get(node, 0) + sign
                if held[node] <= 0:
                    del held[node]
            k += 1
        if k == len(events):
            break
        t_next = events[k][0]
        for res in names:
            steps[res].append(Step(t, t_next, level[res], tuple(sorted(holders[res]))))
    return steps


def usage_from_intervals(
    intervals: Iterable[tuple[str, float, float]],
    requirements: Mapping[str, Any],
    capacities: Mapping[str, float] | None = None,
) -> list[ResourceUsage]:
    """Usage per resource from ``(node, start, end)`` intervals and each node's
    requirements (``requirements[node]``, else ``requirements[family(node)]``).

    One node may appear several times (its attempts). Steps run from the first start to
    the last end, one per span between consecutive events, including spans at 0.
    Resources are those any interval's node requires, plus those of ``capacities``.
    """
    events: list[tuple[float, int, str, dict[str, float]]] = []
    names: dict[str, None] = dict.fromkeys(capacities or {})
    for node, start, end in intervals:
        req = requirements.get(node)
        if req is None:
            req = requirements.get(_family(node))
        amounts = _amounts(req, node)
        if not amounts:
            continue
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise ProfileError(f"node {node!r} ran from {start!r} to {end!r}: not an interval")
        names.update(dict.fromkeys(amounts))
        events.append((float(start), 1, node, amounts))
        events.append((float(end), -1, node, amounts))
    order = sorted(names)
    steps = _steps(events, order)
    caps = capacities or {}
    return [ResourceUsage(r, caps.get(r), _merged(steps[r])) for r in order]


def usage_from_snapshots(
    snapshots: Sequence[Any],
    capacities: Mapping[str, float] | None = None,
    t0: float | None = None,
) -> list[ResourceUsage]:
    """Usage per resource from a pool's snapshots (``ResourceSnapshot``: ``timestamp``,
    ``allocated``, ``node_name``, ``event``), in seconds from ``t0`` (default: the first
    snapshot). Each step is the allocation after one event until the next one; a
    node holds a resource from an acquire that raised it to its release."""
    snaps = sorted(snapshots, key=lambda s: s.timestamp)
    if not snaps:
        return []
    caps = dict(capacities or {})
    names = sorted({*caps, *(k for s in snaps for k in s.allocated)})
    base = snaps[0].timestamp if t0 is None else t0
    before = dict.fromkeys(names, 0.0)
    holders: dict[str, dict[str, None]] = {n: {} for n in names}
    steps: dict[str, list[Step]] = {n: [] for n in names}
    for i, s in enumerate(snaps):
        node = s.node_name or "?"
        for res in names:
            now = float(s.allocated.get(res, 0.0))
            if s.event == "acquire" and now > before[res]:
                holders[res][node] = None
            elif s.event == "release" and now < before[res]:
                holders[res].pop(node, None)
            before[res] = now
        if i + 1 < len(snaps) and snaps[i + 1].timestamp > s.timestamp:
            start, end = s.timestamp - base, snaps[i + 1].timestamp - base
            for res in names:
                steps[res].append(Step(start, end, before[res], tuple(holders[res])))
    for res in names:
        if res not in caps:  # a hand-made snapshot: allocated + available is the capacity
            for s in snaps:
                if res in s.allocated and res in getattr(s, "available", {}):
                    caps[res] = float(s.allocated[res]) + float(s.available[res])
                    break
    return [ResourceUsage(r, caps.get(r), _merged(steps[r])) for r in names]


def requirements_of(dag: Any) -> dict[str, dict[str, float]]:
    """``{node: {resource: amount}}`` of the nodes of ``dag`` whose options name resources."""
    out: dict[str, dict[str, float]] = {}
    if dag is None:
        return out
    for name in dag.nodes:
        resources = getattr(dag.options(name), "resources", None)
        amounts = _amounts(resources, name)
        if amounts:
            out[name] = amounts
    return out


def usage_of_result(
    result: Any,
    requirements: Mapping[str, Any] | None = None,
    capacities: Mapping[str, float] | None = None,
) -> list[ResourceUsage]:
    """Usage of an ``ExecutionResult`` from its nodes' attempts (start/end) and
    ``requirements`` (default: the resources options of ``result.dag``'s nodes)."""
    reqs = requirements_of(getattr(result, "dag", None)) if requirements is None else requirements
    if not reqs:
        return []
    intervals: list[tuple[str, float, float]] = []
    for name, nr in result.results.items():
        if nr.attempts:
            intervals.extend((name, a.start, a.end) for a in nr.attempts if a.end is not None)
        elif nr.start is not None and nr.end is not None:
            intervals.append((name, nr.start, nr.end))
    return usage_from_intervals(intervals, reqs, capacities)


def _bucketed(steps: Sequence[Step], t0: float, span: float, columns: int) -> list[Step]:
    """At most ``columns`` steps: the largest amount held in each column of the span."""
    width = span / columns
    peaks = [0.0] * columns
    for s in steps:
        if s.amount <= 0:
            continue
        a = min(int((s.start - t0) / width), columns - 1)
        b = min(int(max(s.end - t0 - _EPS, s.start - t0) / width), columns - 1)
        for c in range(max(a, 0), b + 1):
            if s.amount > peaks[c]:
                peaks[c] = s.amount
    return [Step(t0 + c * width, t0 + (c + 1) * width, p) for c, p in enumerate(peaks) if p > 0]


def _num(x: float) -> str:
    return f"{x:g}"


def usage_svg(
    usages: Sequence[ResourceUsage],
    width: int = 900,
    span: tuple[float, float] | None = None,
    note: str = "",
    max_steps: int = MAX_STEPS,
) -> str:
    """One row per resource: amount held (filled steps) against capacity (dashed line).

    ``span`` fixes the time axis (seconds, e.g. the Gantt chart's), else the steps'.
    """
    if not usages:
        return '<p class="resource-empty">No resource requirements in this run.</p>'
    all_steps = [s for u in usages for s in u.steps]
    if span is None:
        t0 = min((s.start for s in all_steps), default=0.0)
        t1 = max((s.end for s in all_steps), default=t0)
    else:
        t0, t1 = span
    extent = max(t1 - t0, 1e-9)
    left, lh, top = 170, 56, 5
    plot = width - left - 80
    parts = [
        f'<svg class="resource-timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{len(usages) * lh + 30}" role="img" '
        f'aria-label="resource timeline of {len(usages)} resource(s)">'
    ]

    def x_of(t: float) -> float:
        return left + min(max((t - t0) / extent, 0.0), 1.0) * plot

    for i, u in enumerate(usages):
        y0 = top + i * lh
        base = y0 + lh - 12  # the zero line
        height = lh - 20
        scale = max(u.capacity or 0.0, u.peak) or 1.0
        frac = u.peak_fraction
        cap_text = f"capacity {_num(u.capacity)}" if u.capacity is not None else "no capacity"
        peak_text = f"peak {_num(u.peak)}" + (f" ({100 * frac:.0f}%)" if frac is not None else "")
        name = u.resource if len(u.resource) <= 24 else u.resource[:23] + "…"
        parts.append(
            f'<g class="resource-row" data-resource="{_e(u.resource)}" '
            f'data-capacity="{"" if u.capacity is None else _num(u.capacity)}" '
            f'data-peak="{_num(u.peak)}">'
            f'<text class="resource-name" x="4" y="{y0 + 16}" font-size="12" '
            f'font-family="sans-serif" font-weight="bold">{_e(name)}</text>'
            f'<text x="4" y="{y0 + 31}" font-size="11" font-family="sans-serif">'
            f"{_e(cap_text)}</text>"
            f'<text class="resource-peak" x="4" y="{y0 + 45}" font-size="11" '
            f'font-family="sans-serif">{_e(peak_text)}</text>'
            f'<line x1="{left}" y1="{base}" x2="{left + plot}" y2="{base}" stroke="#999"/>'
        )
        steps = list(u.steps)
        drawn = _bucketed(steps, t0, extent, int(plot)) if len(steps) > max_steps else steps
        for s in drawn:
            if s.amount <= 0:
                continue
            x, x2 = x_of(s.start), x_of(s.end)
            h = s.amount / scale * height
            who = ", ".join(s.holders[:8]) + (" …" if len(s.holders) > 8 else "")
            of = f" of {_num(u.capacity)}" if u.capacity is not None else ""
            tip = (
                f"{u.resource}: {_num(s.amount)}{of} from {(s.start - t0) * 1000:.1f} to "
                f"{(s.end - t0) * 1000:.1f} ms" + (f" — {who}" if who else "")
            )
            parts.append(
                f'<rect class="usage" x="{x:.1f}" y="{base - h:.1f}" '
                f'width="{max(x2 - x, 0.5):.1f}" height="{h:.1f}" fill="#9ecae1" '
                f'stroke="#3182bd" stroke-width="0.5"><title>{_e(tip)}</title></rect>'
            )
        if u.capacity is not None:
            yc = base - u.capacity / scale * height
            parts.append(
                f'<line class="capacity" x1="{left}" y1="{yc:.1f}" x2="{left + plot}" '
                f'y2="{yc:.1f}" stroke="#d62728" stroke-dasharray="5,3"/>'
                f'<text x="{left + plot + 4}" y="{yc + 4:.1f}" font-size="10" '
                f'font-family="sans-serif" fill="#d62728">cap {_e(_num(u.capacity))}</text>'
            )
        parts.append(
            f'<text x="{left + plot + 4}" y="{base + 4}" font-size="10" '
            'font-family="sans-serif">0</text></g>'
        )
    y = len(usages) * lh + 22
    tail = f"{extent * 1000:.1f} ms"
    parts.append(
        f'<text x="{left}" y="{y}" font-size="11" font-family="sans-serif">0 ms</text>'
        f'<text x="{left + plot - 60}" y="{y}" font-size="11" font-family="sans-serif">'
        f"{_e(tail)}</text></svg>"
    )
    if note:
        parts.append(f'<p class="resource-note">{_e(note)}</p>')
    return "".join(parts)
