"""A DAG's structure as text for diagram tools (Mermaid, Graphviz DOT) or as a
``networkx.DiGraph``: the bodies of ``DAG.to_mermaid``, ``DAG.to_dot`` and
``DAG.to_networkx``.

Invariants:
- Read-only: nothing here changes the DAG.
- Mermaid and DOT need no dependency; node ids are quoted or numbered so any node name
  is valid in the output (quotes in labels are escaped or replaced).
- Nodes appear in insertion order and edges grouped by source, as ``DAG.edges`` lists
  them, so the same DAG always gives the same text.
- networkx is imported only by :func:`to_networkx` (the ``interop`` extra); ``DAG`` is
  named for type checkers only, so there is no import back into ``graph.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagforge.graph import DAG

__all__ = ["to_dot", "to_mermaid", "to_networkx"]


def to_mermaid(
    dag: DAG, *, direction: str = "TD", statuses: Mapping[str, str] | None = None
) -> str:
    """``DAG.to_mermaid``: Mermaid flowchart text (no dependency needed)."""
    ids = {n: f"n{i}" for i, n in enumerate(dag._names)}
    lines = [f"flowchart {direction}"]
    for n in dag._names:
        lines.append(f'    {ids[n]}["{_escape(n)}"]')
    for s, t in dag.edges:
        lines.append(f"    {ids[s]} --> {ids[t]}")
    if statuses:
        palette = {
            "succeeded": "#b7e4c7",
            "failed": "#f4a3a3",
            "skipped": "#e0e0e0",
            "cancelled": "#ffd6a5",
            "timed_out": "#f4a3a3",
        }
        for n, st in statuses.items():
            if n in ids and st in palette:
                lines.append(f"    style {ids[n]} fill:{palette[st]}")
    return "\n".join(lines) + "\n"


def to_dot(dag: DAG, *, edge_labels: Mapping[tuple[str, str], str] | None = None) -> str:
    """``DAG.to_dot``: Graphviz DOT text (no dependency needed)."""
    lines = [f"digraph {_dot_id(dag.name or 'dag')} {{", "    rankdir=TB;"]
    for n in dag._names:
        lines.append(f"    {_dot_id(n)};")
    for s, t in dag.edges:
        label = (edge_labels or {}).get((s, t))
        attr = f' [label="{_escape(label)}"]' if label else ""
        lines.append(f"    {_dot_id(s)} -> {_dot_id(t)}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_networkx(dag: DAG) -> Any:
    """``DAG.to_networkx``: a ``networkx.DiGraph`` (needs the ``interop`` extra)."""
    import networkx as nx

    g = nx.DiGraph(name=dag.name or "dag")
    g.add_nodes_from(dag._names)
    g.add_edges_from(dag.edges)
    return g


def _escape(text: str) -> str:
    return str(text).replace('"', "'")


def _dot_id(name: str) -> str:
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'
