"""The topological order of a structure given as names and edges (a profile's, a
simulation's), computed by the one topological sort, :meth:`dagforge.graph.DAG.topological_order`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dagforge.errors import CycleError
from dagforge.graph import DAG


def topological_names(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """``nodes`` in the order of :meth:`DAG.topological_order` (Kahn's, FIFO by position).

    A cycle raises :class:`~dagforge.errors.CycleError` naming it with these names; an
    edge naming a node not in ``nodes`` raises ``KeyError``. The DAG is built on
    positions, since a profile's node names need not be valid DAG node names (its
    format allows ``""``); duplicate edges count once.
    """
    index = {name: str(i) for i, name in enumerate(nodes)}
    pairs = dict.fromkeys((index[s], index[t]) for s, t in edges)
    try:
        order = DAG(dict.fromkeys(index.values()), pairs).topological_order()
    except CycleError as exc:
        raise CycleError([nodes[int(i)] for i in exc.cycle]) from None
    return [nodes[int(i)] for i in order]
