"""The simulator replays the engine's policy: tawazi's example, exclusivity, and a
prediction within 15% of a real run of sleeping tasks."""

from __future__ import annotations

import pytest

from dagforge.execution.executor import Executor
from dagforge.profiling import Profile, TaskMetrics, run_profile
from dagforge.scheduling.simulate import Simulation, simulate


def test_tawazi_five_nodes_on_two_workers_take_three_units(tawazi):
    sim = simulate(tawazi, workers=2)
    assert isinstance(sim, Simulation)
    assert sim.makespan == 3
    # Upward rank puts C and D (on E's path) before B.
    assert sim.start == {"A": 0, "C": 1, "D": 1, "B": 2, "E": 2}
    assert sim.order == ["A", "C", "D", "B", "E"]
    assert {sim.worker["C"], sim.worker["D"]} == {"worker-0", "worker-1"}
    assert sim.unit == "cost"


def test_tawazi_from_a_profile_and_with_one_worker(tawazi):
    p = Profile(
        nodes=tawazi.nodes,
        edges=tawazi.edges,
        execution_metrics={n: TaskMetrics(n, 1.0) for n in tawazi.nodes},
    )
    sim = simulate(p, workers=2)
    assert sim.makespan == 3 and sim.unit == "ms"
    assert simulate(p, workers=1).makespan == 5
    assert simulate(p, workers=8).makespan == 3  # the critical path A-C-E
    # FIFO-by-index would run B first and need 4: ranks matter.
    assert simulate(p, workers=2, priorities={"B": 1}).makespan == 4


def test_costs_override_and_fall_back_to_node_weights(tawazi):
    p = Profile(nodes=tawazi.nodes, edges=tawazi.edges, node_weights=dict.fromkeys("ABCDE", 10))
    sim = simulate(p, workers=2)
    assert sim.unit == "instructions" and sim.makespan == 30
    sim = simulate(p, workers=2, costs={"B": 100})
    assert sim.order[1] == "B" and sim.makespan == 110


def test_exclusive_node_runs_alone(tawazi):
    tawazi.set_options("C", exclusive=True)
    sim = simulate(tawazi, workers=3)
    for other in ("B", "D"):
        assert sim.end[other] <= sim.start["C"] or sim.start[other] >= sim.end["C"]


def test_bad_input():
    with pytest.raises(ValueError, match="workers"):
        simulate(Profile(nodes=["a"]), workers=0)
    with pytest.raises(ValueError, match="unknown node"):
        simulate(Profile(nodes=["a"]), workers=1, costs={"zz": 1})
    with pytest.raises(TypeError, match="Profile, a DAG"):
        simulate(42, workers=1)


def test_prediction_within_15_percent_of_a_real_run(sleepers):
    seconds = {"a": 0.05, "b": 0.15, "c": 0.05, "d": 0.10, "e": 0.05, "f": 0.05}
    edges = [("a", "b"), ("a", "c"), ("a", "d"), ("c", "e"), ("d", "e"), ("b", "f"), ("e", "f")]
    dag, fns = sleepers(seconds, edges)
    profile = run_profile(dag, tasks=fns, backend="threads", max_workers=2)
    sim = simulate(profile, workers=2)
    assert sim.unit == "ms"
    # The same policy, run for real, guided by the profile.
    measured = Executor(dag, backend="threads", max_workers=2, profile=profile).execute(fns)
    assert measured.ok
    assert sim.makespan == pytest.approx(measured.total_time_ms, rel=0.15)
    assert sim.makespan == pytest.approx(profile.total_time_ms, rel=0.15)


def test_simulate_loads_a_profile_path(tmp_path, tawazi):
    p = Profile(
        nodes=tawazi.nodes,
        edges=tawazi.edges,
        execution_metrics={n: TaskMetrics(n, 2.0) for n in tawazi.nodes},
        metadata={"timestamp": "2025-01-30T17:45:00Z"},
    )
    path = p.save(tmp_path / "p.json")
    assert simulate(path, workers=2).makespan == 6
    assert simulate(str(path), workers=2).to_dict()["schedule"][0] == {
        "node": "A",
        "worker": "worker-0",
        "start": 0.0,
        "end": 2.0,
    }
