"""EASY backfilling (admission, issue 14 item 4), on virtual time so every assertion is
exact: the packing on a heterogeneous workload, and the bound on how long a node that
needs the whole pool waits behind smaller ones (with right, short and missing
estimates).
"""

from __future__ import annotations

import random

import pytest
from tests.test_engine_clock import VirtualBackend

from dagforge import DAG, ResourceAwareExecutor, ResourcePool, ResourceRequirements


def _heterogeneous(seed: int, n: int = 200, unit: float = 0.01):
    """200 nodes in 10 layers (up to 2 parents each from the layer above) needing
    cpu/gpu/memory, lasting 1-3 units: the bench's requirement and duration mix, on a
    layered graph of this file's own making."""
    rng = random.Random(seed)
    names = [f"t{k}" for k in range(n)]
    per = n // 10
    parents = {}
    for k, name in enumerate(names):
        layer = k // per
        above = names[(layer - 1) * per : layer * per] if layer else []
        parents[name] = rng.sample(above, rng.randint(0, 2)) if above else []
    caps = {"cpu": 8, "gpu": 2, "memory_mb": 16000}
    dur, req = {}, {}
    for name in names:
        kind = rng.random()
        if kind < 0.2:
            req[name] = {"gpu": 1, "cpu": 2, "memory_mb": 4000}
        elif kind < 0.6:
            req[name] = {"cpu": rng.choice([1, 2, 4]), "memory_mb": rng.choice([1000, 2000])}
        else:
            req[name] = {"cpu": 1, "memory_mb": 500}
        dur[name] = unit * rng.choice([1, 2, 3])
    longest: dict[str, float] = {}
    for name in names:
        longest[name] = dur[name] + max((longest[p] for p in parents[name]), default=0.0)
    area = max(sum(dur[x] * req[x].get(r, 0) for x in names) / c for r, c in caps.items())
    return names, parents, caps, dur, req, max(max(longest.values()), area)


def _makespan(seed: int, with_costs: bool) -> tuple[float, float]:
    names, parents, caps, dur, req, bound = _heterogeneous(seed)
    dag = DAG()
    for x in names:
        dag.add_node(x, lambda *_: 1)
    for x in names:
        for p in parents[x]:
            dag.add_edge(p, x)
    pool = ResourcePool(capacities=caps)
    result = ResourceAwareExecutor(
        dag,
        pool,
        {k: ResourceRequirements(resources=v) for k, v in req.items()},
        costs=dur if with_costs else None,
        backend=VirtualBackend(dur, slots=16),
    ).execute()
    assert result.succeeded == len(names)
    assert pool.allocated == {"cpu": 0, "gpu": 0, "memory_mb": 0}
    return result.duration, bound


@pytest.mark.parametrize("seed", range(5))
def test_easy_backfilling_packs_within_8_percent_of_the_lower_bound(seed):
    easy, bound = _makespan(seed, with_costs=True)
    assert easy <= 1.08 * bound


def test_estimates_pack_better_than_bounded_overtaking():
    ratios = [(_makespan(s, True)[0], _makespan(s, False)[0]) for s in range(5)]
    assert sum(e for e, _ in ratios) < sum(o for _, o in ratios)


def _big_behind_small(
    running: list[float],
    later: int,
    small_cost: float,
    estimate: float | None = None,
    caps: int = 4,
):
    """``caps`` cpus; ``len(running)`` small nodes start first (lasting ``running``),
    then ``big`` (all cpus, ready at once), then ``later`` small ones (``small_cost``
    each). Estimates: the true durations, or ``estimate`` for every small node."""
    dag = DAG()
    durations: dict[str, float] = {}
    for k, d in enumerate(running):
        dag.add_node(f"r{k}", lambda: 1, resources={"cpu": 1}, priority=3)
        durations[f"r{k}"] = d
    dag.add_node("big", lambda: 1, resources={"cpu": caps}, priority=2)
    durations["big"] = 1.0
    for k in range(later):
        dag.add_node(f"s{k}", lambda: 1, resources={"cpu": 1}, priority=1)
        durations[f"s{k}"] = small_cost
    costs = dict(durations)
    if estimate is not None:
        costs = {k: (estimate if k != "big" else 1.0) for k in durations}
    pool = ResourcePool(capacities={"cpu": caps})
    result = ResourceAwareExecutor(
        dag, pool, costs=costs, backend=VirtualBackend(durations, slots=16)
    ).execute()
    assert result.succeeded == len(durations)
    big = result["big"]
    for name in durations:
        if name != "big":
            other = result[name]
            assert other.end <= big.start or other.start >= big.end, "big must run alone"
    started_before = sum(1 for x in durations if x != "big" and result[x].start < big.start)
    return big.start, started_before, result


def test_whole_pool_node_starts_at_its_reservation_with_right_estimates():
    # Running nodes end at 1, 2, 3, 4: big's reservation is t=4. Small ones (1.0 each)
    # fill the freed cpus only while they end by 4, so big starts exactly then.
    start, before, result = _big_behind_small([1.0, 2.0, 3.0, 4.0], later=40, small_cost=1.0)
    assert start == 4.0
    assert before == 4 + 6  # the 4 running + 3+2+1 backfilled ones that end by t=4
    assert all(result[f"s{k}"].end <= 4.0 for k in range(6))


def test_long_small_nodes_do_not_backfill_past_the_reservation():
    # Small ones lasting 5 would end after the reservation (t=4): none starts before big.
    start, before, _ = _big_behind_small([1.0, 2.0, 3.0, 4.0], later=40, small_cost=5.0)
    assert start == 4.0
    assert before == 4


def test_short_estimates_bound_the_wait_once_the_reservation_passed():
    # Every small node is estimated at 0.1 but runs 1.0: the reservation (t=0.1) passes
    # at once, big then reserves the pool and starts when the running ones drained.
    start, before, _ = _big_behind_small(
        [1.0, 1.0, 1.0, 1.0], later=40, small_cost=1.0, estimate=0.1
    )
    assert before <= 4 + 4  # the running ones, and at most one more per cpu
    assert start <= 2.0


def test_no_estimate_for_a_holder_reserves_at_once():
    dag = DAG()
    durations = {"r0": 3.0, "big": 1.0, "s0": 1.0, "s1": 1.0}
    dag.add_node("r0", lambda: 1, resources={"cpu": 1}, priority=3)
    dag.add_node("big", lambda: 1, resources={"cpu": 2}, priority=2)
    dag.add_node("s0", lambda: 1, resources={"cpu": 1}, priority=1)
    dag.add_node("s1", lambda: 1, resources={"cpu": 1}, priority=1)
    result = ResourceAwareExecutor(
        dag,
        ResourcePool(capacities={"cpu": 2}),
        costs={"big": 1.0, "s0": 1.0, "s1": 1.0},  # r0 (running) has no estimate
        backend=VirtualBackend(durations, slots=4),
    ).execute()
    assert result.ok
    # big cannot know when r0 ends, so it reserves: s0/s1 wait for it.
    assert result["big"].start == 3.0
    assert result["s0"].start >= result["big"].end


# -- estimates from a guiding profile (milliseconds) and their precedence ---------------


def _staggered_dag(caps: int = 4, later: int = 40) -> tuple[DAG, dict[str, float]]:
    """The ``_big_behind_small`` graph with running ends 1, 2, 3, 4 and small nodes of 1."""
    dag = DAG()
    durations: dict[str, float] = {}
    for k in range(caps):
        dag.add_node(f"r{k}", lambda: 1, resources={"cpu": 1}, priority=3)
        durations[f"r{k}"] = float(k + 1)
    dag.add_node("big", lambda: 1, resources={"cpu": caps}, priority=2)
    durations["big"] = 1.0
    for k in range(later):
        dag.add_node(f"s{k}", lambda: 1, resources={"cpu": 1}, priority=1)
        durations[f"s{k}"] = 1.0
    return dag, durations


def _profile_ms(dag: DAG, ms: dict[str, float]):
    """A real profile of ``dag`` whose measured times are ``ms`` (milliseconds)."""
    p = dag.profile()
    for name, t in ms.items():
        p.execution_metrics[name].compute_time_ms = t
    return p


def _big_result(dag, durations, **options):
    result = ResourceAwareExecutor(
        dag,
        ResourcePool(capacities={"cpu": 4}),
        backend=VirtualBackend(durations, slots=16),
        **options,
    ).execute()
    assert result.ok
    big = result["big"]
    before = sum(1 for x in durations if x != "big" and result[x].start < big.start)
    return big.start, before


def test_a_guiding_profiles_milliseconds_are_seconds_to_backfilling():
    # The same right estimates as test_whole_pool_node_starts_at_its_reservation_..., but
    # from a profile (1000 ms = 1 s). Read as seconds they would put the reservation at
    # t=4000 and every small node would backfill ahead of big.
    dag, durations = _staggered_dag()
    profile = _profile_ms(dag, {k: v * 1000.0 for k, v in durations.items()})
    assert ResourceAwareExecutor(dag, ResourcePool({"cpu": 4}), profile=profile)._rank_costs()[
        "r1"
    ] == pytest.approx(2.0)
    start, before = _big_result(dag, durations, profile=profile)
    assert start == 4.0
    assert before == 4 + 6


def test_costs_win_over_the_profile_for_backfilling_and_ranking():
    dag, durations = _staggered_dag()
    # The profile says small nodes take 5 s (they would never backfill); costs say 1 s.
    wrong = _profile_ms(
        dag, {k: (5000.0 if k.startswith("s") else v * 1000.0) for k, v in durations.items()}
    )
    start, before = _big_result(dag, durations, profile=wrong, costs=durations)
    assert (start, before) == (4.0, 4 + 6)  # what the costs alone give
    # Ranking: one worker, two independent nodes; costs rank "x" longer, the profile "y".
    two = DAG()
    two.add_node("x", lambda: 1)
    two.add_node("y", lambda: 1)
    guide = _profile_ms(two, {"x": 1.0, "y": 9000.0})
    result = ResourceAwareExecutor(
        two,
        ResourcePool({"cpu": 1}),
        costs={"x": 9.0, "y": 1.0},
        profile=guide,
        backend=VirtualBackend({"x": 1.0, "y": 1.0}, slots=1),
    ).execute()
    assert result["x"].start < result["y"].start


def _starts(seed: int) -> dict[str, float]:
    names, parents, caps, dur, req, _ = _heterogeneous(seed)
    dag = DAG()
    for x in names:
        dag.add_node(x, lambda *_: 1)
    for x in names:
        for p in parents[x]:
            dag.add_edge(p, x)
    result = ResourceAwareExecutor(
        dag,
        ResourcePool(capacities=caps),
        {k: ResourceRequirements(resources=v) for k, v in req.items()},
        costs=dur,
        backend=VirtualBackend(dur, slots=16),
    ).execute()
    assert result.succeeded == len(names)
    return {x: result[x].start for x in names}


@pytest.mark.parametrize("seed", range(3))
def test_the_parked_scan_shortcut_changes_no_decision(seed, monkeypatch):
    # With EASY, the scan of parked nodes stops once the head reserved and every distinct
    # requirement was refused; forcing the full scan (req_kinds 0) gives the same run.
    from dagforge.execution.admission import Admission

    fast = _starts(seed)
    full_scan = Admission._dispatch_blocked
    calls = []

    def without_shortcut(self):
        calls.append(1)
        self.req_kinds = 0
        return full_scan(self)

    monkeypatch.setattr(Admission, "_dispatch_blocked", without_shortcut)
    assert _starts(seed) == fast
    assert calls  # the workload parks nodes: the scan ran
