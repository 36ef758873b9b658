"""dagprofiler 0.1.0's ``Profile.compare``: the differences of two profiles as a dict.

:func:`compare_dict` is what the dagprofiler compatibility layer returns from
``compare``; dagforge's own, richer comparison is :class:`~dagforge.profiling.ProfileDiff`
(``compare.py``). ``dagforge.profiling.profile`` re-exports it.

Invariants:
- Differences are ``a - b``; only entries that differ are listed; a percentage against
  a weight of 0 is ``inf``, as dagprofiler computes it.
- Reads ``configuration``, the weights and ``total_time_ms`` of the two profiles only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagforge.profiling.profile import Profile

__all__ = ["compare_dict"]


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
