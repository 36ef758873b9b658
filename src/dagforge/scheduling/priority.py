"""Priority keys of the engine's ready queue.

The engine pops ready nodes by ``(-priority, -upward_rank, insertion index)``: the user's
priority first, then the node whose longest remaining path to a leaf (by cost) is the
longest — the HEFT/critical-path heuristic that lets two workers finish tawazi's
five-node example in three units without hand-set priorities — then insertion order,
which makes the order deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence


def upward_ranks(
    succ: Sequence[Sequence[int]], costs: Sequence[float], order: Sequence[int]
) -> list[float]:
    """rank(u) = cost(u) + max(rank(child)); ``order`` is a topological order."""
    rank = [0.0] * len(costs)
    for u in reversed(order):
        tail = 0.0
        for v in succ[u]:
            r = rank[v]
            if r > tail:
                tail = r
        rank[u] = costs[u] + tail
    return rank


def sort_keys(priorities: Sequence[float], ranks: Sequence[float] | None) -> list[tuple]:
    """Heap keys ``(-priority, -rank, index)`` per node index."""
    if ranks is None:
        return [(-p, 0.0, i) for i, p in enumerate(priorities)]
    return [(-p, -r, i) for i, (p, r) in enumerate(zip(priorities, ranks, strict=True))]
