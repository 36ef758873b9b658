"""Predict a makespan before anything runs: the real engine on a virtual clock.

``simulate(profile_or_dag, workers=N, ...)`` does not re-implement the scheduling
policy: it builds the engine's own :class:`~dagforge.execution.engine.Run` on a
:class:`~dagforge.scheduling.simbackend.SimulatedBackend` whose jobs call nothing and
complete after their known durations on a
:class:`~dagforge.scheduling.simbackend.VirtualClock`, which the run also reads. So the
ready queue's keys (user priority, upward rank from the same durations, insertion
order), ``max_concurrency``, exclusive nodes, the resource pool with its bounded
overtaking (``overtake_limit``), timeouts and retries behave exactly as in a run with
the same options (``Executor``/``ResourceAwareExecutor(..., costs=durations)``).

Durations come from ``costs`` when given; else, for a profile, from the measured
``compute_time_ms`` (unit "ms") or, when a profile measured nothing, its node weights
(unit "instructions"); for a DAG, from :meth:`DAG.node_costs` (``cost`` options,
``estimate_instructions``, else 1; unit "cost"). The schedule is reported in that
unit. A DAG's costs are read as seconds, the unit of its ``timeout`` and
``retry_delay`` options (a profile carries no options).

Several machines: ``machines=[4, 4]`` puts workers 0-3 on one machine and 4-7 on
another; a child that runs on another machine than its parent waits for the parent's
data, ``bits / bandwidth`` seconds (``edge_bits``, default a profile's edge weights,
which are bits). A node starts on the free worker where its inputs arrive first.

What a simulation cannot know: node functions never run, so every node succeeds
unless it outlives its ``timeout``; conditional edges are taken as always on and
dynamic rules add nothing (their nodes do not exist before a run). The simulation is
deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagforge import _seams
from dagforge import states as S
from dagforge.errors import CycleError, RunArgumentError, UnknownNodeError
from dagforge.graph import DAG
from dagforge.options import DEFAULT_OPTIONS
from dagforge.resources import ResourcePool
from dagforge.scheduling.order import topological_names
from dagforge.scheduling.simbackend import SimulatedBackend, VirtualClock
from dagforge.tasks import Task

__all__ = ["Simulation", "simulate", "simulate_executor"]

_SECONDS_PER_UNIT = {"ms": 1e-3, "cost": 1.0, "instructions": 1.0}


class Simulation:
    """The predicted schedule: ``makespan`` and per-node ``start``/``end``/``worker``.

    ``order`` lists the nodes in the order they first started; ``status`` is each
    node's final state ("succeeded", or "timed_out" / "skipped" when a timeout hit);
    ``attempts`` lists every attempt as ``(node, worker, start, end, outcome)``.
    """

    __slots__ = (
        "attempts",
        "costs",
        "end",
        "makespan",
        "order",
        "start",
        "status",
        "unit",
        "worker",
        "workers",
    )

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
        status: dict[str, str] | None = None,
        attempts: list[tuple[str, str, float, float, str]] | None = None,
    ):
        self.makespan = makespan
        self.start = start
        self.end = end
        self.worker = worker
        self.order = order
        self.workers = workers
        self.unit = unit
        self.costs = costs
        self.status = status if status is not None else dict.fromkeys(order, "succeeded")
        self.attempts = attempts if attempts is not None else []

    @property
    def entries(self) -> list[tuple[str, str, float, float]]:
        """``(node, worker, start, end)`` in start order."""
        return [(n, self.worker[n], self.start[n], self.end[n]) for n in self.order]

    @property
    def utilization(self) -> float:
        """Busy time over ``workers x makespan`` (1.0 = no idle worker)."""
        if not self.makespan:
            return 1.0
        busy = sum(e - s for _, _, s, e, _ in self.attempts) if self.attempts else None
        if busy is None:
            busy = sum(self.costs.values())
        return busy / (self.workers * self.makespan)

    def gantt(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """A Gantt chart of the predicted schedule (see :func:`dagforge.profiling.plot.gantt`)."""
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
    workers: int | None = None,
    costs: Mapping[str, float] | None = None,
    *,
    priorities: Mapping[str, float] | None = None,
    exclusive: Iterable[str] = (),
    resources: ResourcePool | Mapping[str, float] | None = None,
    requirements: Mapping[str, Any] | None = None,
    max_concurrency: int | None = None,
    overtake_limit: int = 8,
    priority: str = "auto",
    fail_fast: bool = True,
    machines: Sequence[int] | None = None,
    bandwidth: float | None = None,
    edge_bits: Mapping[tuple[str, str], float] | None = None,
    rank_costs: Mapping[str, float] | None = None,
    durations: Mapping[str, float] | None = None,
) -> Simulation:
    """Simulate the engine's run of a profile (or DAG, or profile path) on N workers.

    Parameters:
        workers: the backend's capacity (an executor's ``max_workers``); default 1,
            or the sum of ``machines``.
        costs: an executor's ``costs=`` (the engine ranks by them and, with a pool,
            backfills by them), and the node durations unless ``durations`` says.
        priorities / exclusive: node options added to (or overriding) the graph's.
        resources: a :class:`ResourcePool` (its capacities; the pool itself is left
            alone) or the capacities, e.g. ``{"cpu": 8, "gpu": 2}``.
        requirements: per-node requirements, as ``ResourceAwareExecutor`` takes them.
        max_concurrency, overtake_limit, priority, fail_fast: as for ``Executor``.
        machines: workers per machine (``sum(machines) == workers``).
        bandwidth: bits per second between two machines (with ``machines``).
        edge_bits: bits each edge carries; default, a profile's edge weights.
        rank_costs: what a guiding profile gives the engine
            (``Executor(profile=p)``): ranks, and estimates for backfilling. Default:
            for a profile, its measured times (or node weights), as
            ``Executor(dag, profile=p)`` would use; for a DAG, its Tasks'
            ``estimate_instructions``, which the engine ranks by.
        durations: how long each node takes (default: ``costs``, else as above), when
            it is not what the engine is told (estimates that are wrong).

    ``costs``, ``rank_costs`` and ``durations`` are in the simulation's unit.

    One deviation from a real run: a DAG whose Tasks estimate instructions, run with a
    pool and no ``costs``, is backfilled by those estimates here (EASY), while the
    engine uses bounded overtaking for it (it backfills by estimates in seconds only).
    """
    if workers is None:  # one, or every worker the machines have
        workers = 1
        if machines and all(type(m) is int for m in machines):
            workers = sum(machines)  # (bad machines: the backend names them)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise RunArgumentError(f"workers must be a positive integer, got {workers!r}")
    if priority not in ("auto", "critical_path", "fifo"):
        raise RunArgumentError(
            f"priority must be 'auto', 'critical_path' or 'fifo', got {priority!r}"
        )
    names, edges, times, unit, options, bits, guide = _inputs(profile_or_dag, costs, durations)
    if rank_costs is not None:
        unknown = sorted(set(rank_costs) - set(names))
        if unknown:
            raise UnknownNodeError(f"rank_costs name unknown node(s) {unknown[:10]}")
        guide = dict(rank_costs)
    elif costs:  # costs given here override what the profile (or a Task) says of a node
        guide = {n: v for n, v in guide.items() if n not in costs}
    per_second = 1.0 / _SECONDS_PER_UNIT[unit]  # simulation units in one second
    index = {n: i for i, n in enumerate(names)}
    changes: dict[str, dict[str, Any]] = {}
    for name, p in (priorities or {}).items():
        _known(index, name, "priorities")
        changes.setdefault(name, {})["priority"] = p
    for name in exclusive:
        _known(index, name, "exclusive")
        changes.setdefault(name, {})["exclusive"] = True
    dag = _structure(names, edges, options, changes)

    comm: dict[tuple[int, int], float] = {}
    if edge_bits is not None:
        for edge in edge_bits:
            if tuple(edge) not in set(edges):
                raise RunArgumentError(
                    f"edge_bits names {edge!r}, which is not an edge of the graph"
                )
        bits = {tuple(e): float(b) for e, b in edge_bits.items()}  # type: ignore[misc]
    if bandwidth is not None:
        if isinstance(bandwidth, bool) or not bandwidth > 0:
            raise RunArgumentError(f"bandwidth must be > 0 bits per second, got {bandwidth!r}")
        if machines is None or len(machines) < 2:
            raise RunArgumentError(
                "bandwidth= models transfers between machines: give machines=[...]"
            )
        for (s, t), b in bits.items():
            if b < 0:
                raise RunArgumentError(f"edge {s!r} -> {t!r} carries a negative {b} bits")
            if b:
                comm[(index[s], index[t])] = b / bandwidth * per_second
    pool = None
    if resources is not None:
        caps = resources.capacities if isinstance(resources, ResourcePool) else resources
        pool = ResourcePool(caps, record_timeline=False)
    if requirements:
        for name in requirements:
            _known(index, name, "requirements")

    clock = VirtualClock()
    backend = SimulatedBackend(
        times, clock, workers=workers, machines=machines, comm=comm, pred=dag._pred
    )
    run = _seams.engine_run(
        dag,
        None,
        backend,
        max_concurrency=max_concurrency,
        fail_fast=fail_fast,
        pool=pool,
        requirements=requirements,
        costs=dict(costs) if costs else None,
        rank_costs=guide or None,
        use_ranks=priority != "fifo",
        overtake_limit=overtake_limit,
        check_inputs=False,
        clock=clock,
    )
    run.run()
    return _schedule(run, backend, names, times, unit, workers)


def simulate_executor(
    executor: Any,
    workers: int | None = None,
    costs: Mapping[str, float] | None = None,
    **options: Any,
) -> Simulation:
    """Simulate what ``executor.execute()`` would do: its DAG with its options.

    ``executor`` is an ``Executor`` or ``ResourceAwareExecutor``; its ``max_workers``,
    ``max_concurrency``, pool, requirements, ``costs`` (the durations too, unless
    ``costs`` is given here), ``profile=`` ranking, ``priority``, ``overtake_limit`` and
    ``fail_fast`` are the simulation's. ``workers`` is needed when the executor leaves
    ``max_workers`` to its backend's default. ``options`` are passed on to
    :func:`simulate` (``machines=``, ``bandwidth=``...).
    """
    dag = getattr(executor, "dag", None)
    if not isinstance(dag, DAG):
        raise RunArgumentError(
            f"simulate_executor() takes an Executor (with its DAG), got {type(executor).__name__}"
        )
    workers = workers or executor.max_workers
    if workers is None:
        raise RunArgumentError(
            "the executor leaves max_workers to its backend's default: give workers=N"
        )
    guide = None
    if executor.guide_profile is not None:  # Executor(profile=p): ranks from its times
        guide = executor._rank_costs()  # seconds, the unit of a DAG's costs
    return simulate(
        dag,
        workers,
        executor.costs,
        durations=costs,
        resources=executor.resource_pool,
        requirements=executor.requirements,
        max_concurrency=executor.max_concurrency,
        overtake_limit=executor.overtake_limit,
        priority=executor.priority,
        fail_fast=executor.fail_fast,
        rank_costs=guide,
        **options,
    )


def _known(index: Mapping[str, int], name: Any, what: str) -> None:
    if name not in index:
        raise UnknownNodeError(f"{what} names unknown node {name!r}")


def _never(*_args: Any) -> Any:
    # An internal assertion (the simulated backend never calls a node): kept a RuntimeError.
    raise RuntimeError("a simulated node was called; the simulated backend runs nothing")


def _structure(
    names: list[str],
    edges: list[tuple[str, str]],
    options: list[Any],
    changes: Mapping[str, Mapping[str, Any]],
) -> DAG:
    """The graph the simulated run walks: the structure and scheduling options, with
    no tasks, conditions or rules."""
    dag = DAG()
    for name, opts in zip(names, options, strict=True):
        change = changes.get(name)
        if change:
            opts = opts.merged(change, node=name)
        dag._append_node(name, _never, opts)
    index = dag._index
    for s, t in edges:
        dag._append_edge(index[s], index[t])
    dag.validate()
    return dag


def _schedule(
    run: Any,
    backend: SimulatedBackend,
    names: list[str],
    durations: list[float],
    unit: str,
    workers: int,
) -> Simulation:
    wname = backend.worker_names
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    worker: dict[str, str] = {}
    order: list[str] = []
    attempts = []
    makespan = 0.0
    for i, _attempt, w, s, e, outcome in backend.log:
        name = names[i]
        if name not in start:
            order.append(name)
        start[name], end[name], worker[name] = s, e, wname[w]
        attempts.append((name, wname[w], s, e, outcome))
        makespan = max(makespan, e)
    first: dict[str, float] = {}
    for name, _w, s, _e, _o in attempts:
        first.setdefault(name, s)
    # The log is in completion order; list nodes by first start, ties in launch order.
    launch: dict[str, int] = {}
    for k, i in enumerate(run.order):
        launch.setdefault(names[i], k)
    order.sort(key=lambda n: (first[n], launch.get(n, 0)))
    status = {names[i]: S.NAMES[run.status[i]] for i in range(len(names))}
    return Simulation(
        makespan=makespan,
        start=start,
        end=end,
        worker=worker,
        order=order,
        workers=workers,
        unit=unit,
        costs=dict(zip(names, durations, strict=True)),
        status=status,
        attempts=attempts,
    )


def _inputs(
    obj: Any, costs: Mapping[str, float] | None, durations: Mapping[str, float] | None
) -> tuple[
    list[str],
    list[tuple[str, str]],
    list[float],
    str,
    list[Any],
    dict[tuple[str, str], float],
    dict[str, float],
]:
    """Names, edges, durations, unit, options, edge bits, and the rank costs an
    executor would get from the object alone (a guiding profile, Task estimates)."""
    Profile = _seams.profile_class()  # profiling is a layer above: the one seam

    if isinstance(obj, str | os.PathLike):
        obj = Profile.load(Path(obj))
    if isinstance(obj, Profile):
        names = list(obj.nodes)
        edges = list(obj.edges)
        _topological(names, edges)
        measured = obj.compute_times()
        if any(v > 0 for v in measured.values()):
            base, unit = measured, "ms"
        else:
            base, unit = dict(obj.node_weights), "instructions"
        options = [DEFAULT_OPTIONS] * len(names)
        guide = {n: float(v) for n, v in base.items() if v > 0}
        bits = {(s, t): float(obj.edge_weights.get(f"{s}->{t}", 0)) for s, t in edges}
    elif isinstance(obj, DAG):
        obj.validate()
        names = list(obj.nodes)
        edges = list(obj.edges)
        base = dict(zip(names, obj.node_costs(), strict=True))
        unit = "cost"
        options = [obj.options(n) for n in names]
        bits = {}
        guide = {  # the engine ranks by Task estimates too (without costs=)
            n: base[n]
            for n, t in zip(names, obj._tasks, strict=True)
            if isinstance(t, Task)
            and type(t).estimate_instructions is not Task.estimate_instructions
            and obj.options(n).cost is None
        }
    else:
        raise RunArgumentError(
            f"simulate() takes a Profile, a DAG or a path to a profile JSON, got "
            f"{type(obj).__name__}"
        )
    for what, given in (("costs", costs), ("durations", durations)):
        if given:
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise UnknownNodeError(
                    f"{what} name unknown node(s) {unknown}; known: {names[:10]}"
                )
            base = {**base, **given}
            unit = unit if set(given) != set(names) else "cost"
    times = []
    for n in names:
        d = float(base.get(n, 0.0))
        if not d >= 0:
            raise RunArgumentError(f"node {n!r} has a negative duration {d}; costs must be >= 0")
        times.append(d)
    return names, edges, times, unit, options, bits, guide


def _topological(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The one topological sort, over a profile's structure; a cycle is a clear error."""
    try:
        return topological_names(names, edges)
    except CycleError as exc:
        err = CycleError(exc.cycle)  # the same error (``.cycle``), saying what needs a DAG
        err.args = (f"the graph has a cycle {' -> '.join(exc.cycle)}; simulate() needs a DAG",)
        raise err from None
