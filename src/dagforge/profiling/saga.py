"""Export a profile to the task graph of the SAGA scheduling library (``anrg-saga``).

SAGA's list schedulers (HEFT, CPOP, ...) take a task graph whose tasks carry a *cost*
and whose dependencies carry a data *size*, plus a network of nodes with speeds and
links with bandwidths. :func:`to_saga` builds the task graph from a profile:

- task cost = the node weight (``estimate_instructions``, instructions) by default, or
  the measured ``compute_time_ms`` with ``use_measured_time=True``;
- dependency size = the edge weight in bits (``edge_units="bits"``, the profile's unit)
  or bytes (``"bytes"``).

Costs and sizes of 0 are raised to a tiny epsilon because SAGA divides by them in
places. Recent SAGA releases (Python >= 3.12) expose ``saga.TaskGraph``; older ones take
a plain ``networkx.DiGraph`` with ``weight`` attributes, which is what is returned then.
``anrg-saga`` is an optional extra: it is imported here lazily, never by ``import
dagforge``.
"""

from __future__ import annotations

from typing import Any

from dagforge.errors import ReportError

__all__ = ["to_saga", "to_saga_network"]

_EPS = 1e-9


def _saga() -> Any:
    try:
        import saga
    except ImportError as exc:  # a missing extra stays an ImportError, a clearer one
        raise ImportError(
            "to_saga() needs the SAGA scheduling library: pip install anrg-saga "
            "(Python >= 3.12); it is not a dependency of dagforge"
        ) from exc
    return saga


def to_saga(profile: Any, *, use_measured_time: bool = False, edge_units: str = "bits") -> Any:
    """A SAGA task graph of ``profile`` (``saga.TaskGraph``, or a DiGraph on old SAGA)."""
    if edge_units not in ("bits", "bytes"):
        raise ReportError(f"edge_units must be 'bits' or 'bytes', got {edge_units!r}")
    saga = _saga()
    div = 8.0 if edge_units == "bytes" else 1.0
    tasks = []
    for name in profile.nodes:
        if use_measured_time:
            cost = profile.execution_metrics[name].compute_time_ms
        else:
            cost = profile.node_weights[name]
        tasks.append((name, max(float(cost), _EPS)))
    deps = [
        (s, t, max(float(profile.edge_weights[f"{s}->{t}"]) / div, _EPS)) for s, t in profile.edges
    ]
    task_graph = getattr(saga, "TaskGraph", None)
    if task_graph is not None and hasattr(task_graph, "create"):
        return task_graph.create(tasks=tasks, dependencies=deps)
    import networkx as nx

    g = nx.DiGraph()
    for name, cost in tasks:
        g.add_node(name, weight=cost)
    for s, t, size in deps:
        g.add_edge(s, t, weight=size)
    return g


def to_saga_network(speeds: dict[str, float], bandwidth: float = 1.0) -> Any:
    """A fully connected SAGA network: ``speeds`` per machine, one link ``bandwidth``."""
    saga = _saga()
    names = list(speeds)
    network = getattr(saga, "Network", None)
    links = [(a, b, float(bandwidth)) for i, a in enumerate(names) for b in names[i + 1 :]]
    if network is not None and hasattr(network, "create"):
        return network.create(nodes=[(n, float(s)) for n, s in speeds.items()], edges=links)
    import networkx as nx

    g = nx.Graph()
    for n, s in speeds.items():
        g.add_node(n, weight=float(s))
    for a, b, w in links:
        g.add_edge(a, b, weight=w)
    for n in names:
        g.add_edge(n, n, weight=1e9)
    return g
