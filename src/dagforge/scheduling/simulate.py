"""Predict a makespan before anything runs: a discrete-event simulation of the engine.

``simulate(profile_or_dag, workers=N)`` replays the engine's policy on N identical
workers with known node durations:

- the ready queue is a heap keyed by ``(-priority, -upward_rank, index)`` built with
  :func:`dagforge.scheduling.priority.upward_ranks` / ``sort_keys`` from the same costs
  that give the durations (the engine ranks by the same costs when it is given the
  profile: ``Executor(dag, profile=p)``);
- whenever a worker is free and a node is ready, the top of the heap starts on the
  lowest-numbered free worker (greedy list scheduling); an exclusive node at the top of
  the heap waits until nothing runs, and nothing starts while it runs — as in the engine;
- completions at the same instant are applied in (end time, start order), then newly
  ready children are pushed.

Durations come from ``costs`` when given; else, for a profile, from the measured
``compute_time_ms`` (unit "ms") or, when a profile measured nothing, its node weights
(unit "instructions"); for a DAG, from :meth:`DAG.node_costs` (``cost`` options,
``estimate_instructions``, else 1). Communication is not modelled: the engine's workers
share one machine. The simulation is deterministic.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dagforge import _seams
from dagforge.errors import CycleError
from dagforge.graph import DAG
from dagforge.scheduling.order import topological_names
from dagforge.scheduling.priority import sort_keys, upward_ranks

__all__ = ["Simulation", "simulate"]


class Simulation:
    """The predicted schedule: ``makespan`` and per-node ``start``/``end``/``worker``."""

    __slots__ = ("makespan", "start", "end", "worker", "order", "workers", "unit", "costs")

    def __init__(
        self,
        makespan: float,
        start: dict[str, float],
        end: dict[str, float],
        worker: dict[str, str],
        order: list[str],
        workers: int,
        unit: str,
        costs: dict[str, float],
    ):
        self.makespan = makespan
        self.start = start
        self.end = end
        self.worker = worker
        self.order = order
        self.workers = workers
        self.unit = unit
        self.costs = costs

    @property
    def entries(self) -> list[tuple[str, str, float, float]]:
        """``(node, worker, start, end)`` in start order."""
        return [(n, self.worker[n], self.start[n], self.end[n]) for n in self.order]

    @property
    def utilization(self) -> float:
        """Busy time over ``workers x makespan`` (1.0 = no idle worker)."""
        if not self.makespan:
            return 1.0
        return sum(self.costs.values()) / (self.workers * self.makespan)

    def gantt(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """A Gantt chart of the predicted schedule (see :func:`dagforge.plot.gantt`)."""
        return _seams.gantt(self, path, **kwargs)  # plot is a layer above: the one seam

    def to_dict(self) -> dict[str, Any]:
        return {
            "makespan": self.makespan,
            "unit": self.unit,
            "workers": self.workers,
            "schedule": [
                {"node": n, "worker": w, "start": s, "end": e} for n, w, s, e in self.entries
            ],
        }

    def __repr__(self) -> str:
        return (
            f"<Simulation makespan={self.makespan:g} {self.unit} workers={self.workers} "
            f"nodes={len(self.order)}>"
        )


def simulate(
    profile_or_dag: Any,
    workers: int = 1,
    costs: Mapping[str, float] | None = None,
    *,
    priorities: Mapping[str, float] | None = None,
    exclusive: Iterable[str] = (),
) -> Simulation:
    """Simulate the engine's scheduling of a profile (or DAG, or profile path) on N workers."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    names, edges, durations, unit, prio, excl = _inputs(profile_or_dag, costs)
    if priorities:
        unknown = sorted(set(priorities) - set(names))
        if unknown:
            raise ValueError(f"priorities name unknown node(s) {unknown}")
        prio = [float(priorities.get(n, p)) for n, p in zip(names, prio, strict=True)]
    excl = list(excl)
    index = {n: i for i, n in enumerate(names)}
    for n in exclusive:
        if n not in index:
            raise ValueError(f"exclusive names unknown node {n!r}")
        excl[index[n]] = True
    n_nodes = len(names)
    succ: list[list[int]] = [[] for _ in names]
    indeg = [0] * n_nodes
    for s, t in edges:
        succ[index[s]].append(index[t])
        indeg[index[t]] += 1
    order = [index[name] for name in _topological(profile_or_dag, names, edges)]
    ranks = upward_ranks(succ, durations, order)
    keys = sort_keys(prio, ranks)

    pending = list(indeg)
    heap = [keys[i] for i in range(n_nodes) if not pending[i]]
    heapq.heapify(heap)
    free = list(range(workers))  # a heap of free worker numbers
    running: list[tuple[float, int, int, int]] = []  # (end, seq, node, worker)
    start = [0.0] * n_nodes
    end = [0.0] * n_nodes
    wid = [0] * n_nodes
    started: list[int] = []
    now = 0.0
    excl_running = False
    seq = 0
    while heap or running:
        while heap and free and not excl_running:
            i = heap[0][2]
            if excl[i] and running:
                break  # an exclusive node waits for the workers to drain
            heapq.heappop(heap)
            w = heapq.heappop(free)
            start[i] = now
            end[i] = now + durations[i]
            wid[i] = w
            started.append(i)
            excl_running = excl[i]
            heapq.heappush(running, (end[i], seq, i, w))
            seq += 1
        if not running:
            break  # nothing ready and nothing running: only possible with a cycle
        now = running[0][0]
        while running and running[0][0] <= now:
            _, _, i, w = heapq.heappop(running)
            heapq.heappush(free, w)
            if excl[i]:
                excl_running = False
            for c in succ[i]:
                pending[c] -= 1
                if not pending[c]:
                    heapq.heappush(heap, keys[c])
    makespan = max(end) if n_nodes else 0.0
    return Simulation(
        makespan=makespan,
        start={names[i]: start[i] for i in started},
        end={names[i]: end[i] for i in started},
        worker={names[i]: f"worker-{wid[i]}" for i in started},
        order=[names[i] for i in started],
        workers=workers,
        unit=unit,
        costs={names[i]: durations[i] for i in range(n_nodes)},
    )


def _inputs(
    obj: Any, costs: Mapping[str, float] | None
) -> tuple[list[str], list[tuple[str, str]], list[float], str, list[float], list[bool]]:
    Profile = _seams.profile_class()  # profiling is a layer above: the one seam

    if isinstance(obj, str | os.PathLike):
        obj = Profile.load(Path(obj))
    if isinstance(obj, Profile):
        names = list(obj.nodes)
        edges = list(obj.edges)
        measured = obj.compute_times()
        if any(v > 0 for v in measured.values()):
            base, unit = measured, "ms"
        else:
            base, unit = dict(obj.node_weights), "instructions"
        prio = [0.0] * len(names)
        excl = [False] * len(names)
    elif hasattr(obj, "node_costs") and hasattr(obj, "edges"):
        obj.validate()
        names = list(obj.nodes)
        edges = list(obj.edges)
        base = dict(zip(names, obj.node_costs(), strict=True))
        unit = "cost"
        opts = [obj.options(n) for n in names]
        prio = [float(o.priority or 0) for o in opts]
        excl = [bool(o.exclusive) for o in opts]
    else:
        raise TypeError(
            f"simulate() takes a Profile, a DAG or a path to a profile JSON, got "
            f"{type(obj).__name__}"
        )
    if costs:
        unknown = sorted(set(costs) - set(names))
        if unknown:
            raise ValueError(f"costs name unknown node(s) {unknown}; known: {names[:10]}")
        base = {**base, **costs}
        unit = unit if set(costs) != set(names) else "cost"
    durations = []
    for n in names:
        d = float(base.get(n, 0.0))
        if d < 0:
            raise ValueError(f"node {n!r} has a negative duration {d}; costs must be >= 0")
        durations.append(d)
    return names, edges, durations, unit, prio, excl


def _topological(obj: Any, names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The one topological sort (:meth:`DAG.topological_order`): a DAG's own, cached one,
    else that of the profile's structure."""
    if isinstance(obj, DAG):
        return obj.topological_order()
    try:
        return topological_names(names, edges)
    except CycleError as exc:
        raise ValueError(
            f"the graph has a cycle {' -> '.join(exc.cycle)}; simulate() needs a DAG"
        ) from None
