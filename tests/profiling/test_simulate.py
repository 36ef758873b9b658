"""The simulator drives the real engine on a virtual clock: tawazi's example, resources,
exclusive nodes, max_concurrency, bounded overtaking, timeouts and retries, and a
communication cost between machines — exact schedules on hand-checkable DAGs, and the
same order as the real engine where the real engine is deterministic."""

from __future__ import annotations

import random

import pytest

from dagforge import DAG
from dagforge.calling import K_NOARGS
from dagforge.errors import ResourceError
from dagforge.execution.backends.base import Backend, ExecutionBackend
from dagforge.execution.executor import Executor, ResourceAwareExecutor
from dagforge.execution.jobs import Job, run_job
from dagforge.profiling import Profile, TaskMetrics
from dagforge.resources import ResourcePool
from dagforge.scheduling.simbackend import SimulatedBackend, VirtualClock
from dagforge.scheduling.simulate import Simulation, simulate, simulate_executor


def independent(names: str, **options) -> DAG:
    dag = DAG()
    for n in names:
        dag.add_node(n, **options)
    return dag


# -- the policy the old simulator replayed (kept: same answers) -----------------------


def test_tawazi_five_nodes_on_two_workers_take_three_units(tawazi):
    sim = simulate(tawazi, workers=2)
    assert isinstance(sim, Simulation)
    assert sim.makespan == 3
    # Upward rank puts C and D (on E's path) before B.
    assert sim.start == {"A": 0, "C": 1, "D": 1, "B": 2, "E": 2}
    assert sim.order == ["A", "C", "D", "B", "E"]
    assert {sim.worker["C"], sim.worker["D"]} == {"worker-0", "worker-1"}
    assert sim.unit == "cost"
    assert set(sim.status.values()) == {"succeeded"}


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
    assert simulate(p, workers=2, priority="fifo").order == ["A", "B", "C", "D", "E"]


def test_costs_override_and_fall_back_to_node_weights(tawazi):
    p = Profile(nodes=tawazi.nodes, edges=tawazi.edges, node_weights=dict.fromkeys("ABCDE", 10))
    sim = simulate(p, workers=2)
    assert sim.unit == "instructions" and sim.makespan == 30
    sim = simulate(p, workers=2, costs={"B": 100})
    assert sim.order[1] == "B" and sim.makespan == 110


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


# -- admission exactly as the engine does it ------------------------------------------


def test_a_resource_serializes_nodes_that_share_it():
    dag = independent("abc", cost=2, resources={"gpu": 1})
    sim = simulate(dag, workers=3, resources={"gpu": 1})
    assert sim.entries == [
        ("a", "worker-0", 0.0, 2.0),
        ("b", "worker-0", 2.0, 4.0),
        ("c", "worker-0", 4.0, 6.0),
    ]
    # Two GPUs: two at a time; a pool object gives its capacities and is left untouched.
    pool = ResourcePool({"gpu": 2})
    sim = simulate(dag, workers=3, resources=pool)
    assert sim.start == {"a": 0, "b": 0, "c": 2} and sim.makespan == 4
    assert pool.allocated == {"gpu": 0}
    # Requirements given beside the graph, as ResourceAwareExecutor takes them.
    plain = independent("abc", cost=2)
    two = {"a": {"cpu": 2}, "b": {"cpu": 2}}
    sim = simulate(plain, workers=3, resources={"cpu": 3}, requirements=two)
    assert sim.start == {"a": 0, "b": 2, "c": 0}  # c needs nothing: it does not wait


def test_an_exclusive_node_runs_alone():
    dag = independent("abcd", cost=1)
    dag.set_options("b", exclusive=True)
    sim = simulate(dag, workers=4)
    # a starts; b waits for a to drain, then runs alone; c and d start after it.
    assert sim.entries == [
        ("a", "worker-0", 0.0, 1.0),
        ("b", "worker-0", 1.0, 2.0),
        ("c", "worker-0", 2.0, 3.0),
        ("d", "worker-1", 2.0, 3.0),
    ]
    # Given as an argument instead of an option: the same.
    assert simulate(independent("abcd", cost=1), 4, exclusive=["b"]).entries == sim.entries


def test_max_concurrency_caps_the_workers():
    sim = simulate(independent("abcd", cost=1), workers=4, max_concurrency=2)
    assert sim.start == {"a": 0, "b": 0, "c": 1, "d": 1} and sim.makespan == 2
    assert {w for _, w, _, _ in sim.entries} == {"worker-0", "worker-1"}


def overtaking_dag() -> DAG:
    """small0 (first) leaves 3 of 4 cpus; big needs all 4; small1..5 need one each."""
    dag = DAG()
    dag.add_node("small0", resources={"cpu": 1}, priority=10)
    dag.add_node("big", resources={"cpu": 4}, priority=5)
    for k in range(1, 6):
        dag.add_node(f"small{k}", resources={"cpu": 1})
    return dag


def test_overtaking_is_bounded_by_overtake_limit():
    dag = overtaking_dag()
    # Limit 0: big reserves at once; nothing overtakes it.
    sim = simulate(dag, workers=8, resources={"cpu": 4}, overtake_limit=0)
    assert sim.order[:2] == ["small0", "big"] and sim.start["big"] == 1
    assert sim.start == {
        "small0": 0,
        "big": 1,
        "small1": 2,
        "small2": 2,
        "small3": 2,
        "small4": 2,
        "small5": 3,
    }
    for limit in (1, 2, 3, 8):
        sim = simulate(dag, workers=8, resources={"cpu": 4}, overtake_limit=limit)
        overtook = [n for n in sim.order if n != "small0" and sim.start[n] < sim.start["big"]]
        assert len(overtook) <= limit, (limit, sim.entries)
        assert sim.start["big"] == 1  # the small ones that went first were done by then
        # Never two nodes beyond the 4 cpus at one instant.
        for t in {s for s in sim.start.values()}:
            running = [n for n in sim.order if sim.start[n] <= t < sim.end[n]]
            assert sum(4 if n == "big" else 1 for n in running) <= 4


def easy_dag() -> DAG:
    dag = DAG()
    dag.add_node("A", resources={"cpu": 2}, priority=10)
    dag.add_node("big", resources={"cpu": 4}, priority=5)
    dag.add_node("s1", resources={"cpu": 1})
    dag.add_node("s2", resources={"cpu": 1})
    return dag


def test_with_cost_estimates_backfilling_never_delays_the_parked_node():
    """EASY backfilling, as the engine does it when it has estimates: big (all 4 cpus)
    is reserved at t=2, when A's estimate ends; s1 (ends at 1) may go around it, s2
    (would end at 3) may not."""
    secs = {"A": 2, "big": 1, "s1": 1, "s2": 3}
    sim = simulate(easy_dag(), 4, costs=secs, resources={"cpu": 4})
    assert sim.entries == [
        ("A", "worker-0", 0.0, 2.0),
        ("s1", "worker-1", 0.0, 1.0),
        ("big", "worker-0", 2.0, 3.0),
        ("s2", "worker-0", 3.0, 6.0),
    ]
    # Without estimates (only the durations known to the simulation): bounded
    # overtaking lets s2 go first and big starts at 3.
    sim = simulate(easy_dag(), 4, durations=secs, resources={"cpu": 4})
    assert sim.start == {"A": 0, "s1": 0, "s2": 0, "big": 3}
    # A wrong estimate (s2 said 1 s, takes 3): it goes around big and delays it.
    sim = simulate(easy_dag(), 4, costs={**secs, "s2": 1}, durations=secs, resources={"cpu": 4})
    assert sim.start == {"A": 0, "s1": 0, "s2": 0, "big": 3}
    assert sim.end["s2"] == 3


def test_a_requirement_beyond_the_pool_is_rejected_before_anything_runs():
    dag = independent("ab", resources={"gpu": 2})
    with pytest.raises(ResourceError, match="node 'a' can never be scheduled: it needs gpu=2"):
        simulate(dag, workers=2, resources={"gpu": 1})


# -- timers on the virtual clock ------------------------------------------------------


def test_a_node_outliving_its_timeout_times_out_and_is_retried_on_virtual_time():
    dag = DAG()
    dag.add_node("slow", cost=2, timeout=1.5, retries=1, retry_delay=0.5, retry_jitter=0)
    dag.add_node("after", cost=1)
    dag.add_edge("slow", "after")
    dag.add_node("other", cost=1)
    sim = simulate(dag, workers=2, fail_fast=False)
    # attempt 1: 0 -> abandoned at 1.5; retry after 0.5 s: 2.0 -> abandoned at 3.5.
    assert [a for a in sim.attempts if a[0] == "slow"] == [
        ("slow", "worker-0", 0.0, 1.5, "abandoned"),
        ("slow", "worker-0", 2.0, 3.5, "abandoned"),
    ]
    assert sim.status == {"slow": "timed_out", "after": "skipped", "other": "succeeded"}
    assert sim.makespan == 3.5
    # Long enough a timeout: it just runs.
    dag.set_options("slow", timeout=5)
    assert simulate(dag, workers=2).status["slow"] == "succeeded"


# -- several machines ----------------------------------------------------------------


def fork() -> DAG:
    dag = DAG()
    for n in ("a", "b", "c"):
        dag.add_node(n, cost=1)
    dag.add_edge("a", "b")
    dag.add_edge("a", "c")
    return dag


def test_communication_cost_between_machines():
    bits = {("a", "b"): 8e6, ("a", "c"): 8e6}
    # One worker per machine: a on machine 0; b follows it there, c goes to machine 1
    # and waits 8e6 bits / 16e6 bits/s = 0.5 s for a's data.
    sim = simulate(fork(), workers=2, machines=[1, 1], bandwidth=16e6, edge_bits=bits)
    assert sim.entries == [
        ("a", "machine-0/worker-0", 0.0, 1.0),
        ("b", "machine-0/worker-0", 1.0, 2.0),
        ("c", "machine-1/worker-0", 1.5, 2.5),
    ]
    assert sim.makespan == 2.5
    # workers defaults to every worker of the machines.
    assert simulate(fork(), machines=[1, 1], bandwidth=16e6, edge_bits=bits).entries == (
        sim.entries
    )
    # No bandwidth given: transfers are free.
    assert simulate(fork(), workers=2, machines=[1, 1]).makespan == 2
    # Two workers on a's machine: both children stay there, nothing is sent.
    sim = simulate(fork(), workers=3, machines=[2, 1], bandwidth=16e6, edge_bits=bits)
    assert sim.makespan == 2 and sim.worker["c"].startswith("machine-0/")


def test_a_profile_gives_the_bits_of_its_edges():
    p = Profile(
        nodes=["a", "b", "c"],
        edges=[("a", "b"), ("a", "c")],
        execution_metrics={n: TaskMetrics(n, 1000.0) for n in "abc"},  # 1 s each
        edge_weights={"a->b": 0, "a->c": 4e6},
    )
    sim = simulate(p, workers=2, machines=[1, 1], bandwidth=8e6)  # c waits 0.5 s
    assert sim.unit == "ms" and sim.start["c"] == 1500 and sim.makespan == 2500


def test_bad_input():
    with pytest.raises(ValueError, match="workers"):
        simulate(Profile(nodes=["a"]), workers=0)
    with pytest.raises(ValueError, match="unknown node"):
        simulate(Profile(nodes=["a"]), workers=1, costs={"zz": 1})
    with pytest.raises(TypeError, match="Profile, a DAG"):
        simulate(42, workers=1)
    with pytest.raises(ValueError, match="priorities names unknown node 'zz'"):
        simulate(fork(), 2, priorities={"zz": 1})
    with pytest.raises(ValueError, match="requirements names unknown node 'zz'"):
        simulate(fork(), 2, resources={"cpu": 1}, requirements={"zz": {"cpu": 1}})
    with pytest.raises(ValueError, match="machines"):
        simulate(fork(), 2, bandwidth=1e6)
    with pytest.raises(ValueError, match=r"machines \[1, 2\] hold 3 worker\(s\) but workers=2"):
        simulate(fork(), 2, machines=[1, 2])
    with pytest.raises(ValueError, match=r"machines must list .* got \[2, 'x'\]"):
        simulate(fork(), machines=[2, "x"])
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        simulate(fork(), 2, machines=[1, 1], bandwidth=0)
    with pytest.raises(ValueError, match="not an edge"):
        simulate(fork(), 2, machines=[1, 1], bandwidth=1, edge_bits={("b", "c"): 1})
    with pytest.raises(ValueError, match="priority must be"):
        simulate(fork(), 2, priority="random")


def test_the_backend_refuses_more_jobs_than_workers_and_names_a_stuck_run():
    clock = VirtualClock()
    backend = SimulatedBackend([1.0, 1.0], clock, workers=1)
    assert isinstance(backend, ExecutionBackend)  # the engine's declared contract
    assert backend.clock is clock  # the run reads the same clock

    def job(idx: int) -> Job:
        return Job(idx, 1, K_NOARGS, None, (), None, f"n{idx}", None, None)

    backend.submit(job(0))
    with pytest.raises(RuntimeError, match="all 1 simulated workers busy"):
        backend.submit(job(1))
    [event] = backend.wait(None)
    assert (event.idx, event.t_start, event.t_end, clock()) == (0, 0.0, 1.0, 1.0)
    with pytest.raises(RuntimeError, match="nothing is running"):
        backend.wait(None)


# -- the same order as the real engine ------------------------------------------------


def random_dag(seed: int, n: int = 40) -> DAG:
    rng = random.Random(seed)
    dag = DAG()
    for k in range(n):
        dag.add_node(f"n{k}", lambda *_: None, priority=rng.choice([0, 0, 0, 1, 2]))
    for k in range(1, n):
        for p in rng.sample(range(k), rng.randint(0, min(3, k))):
            dag.add_edge(f"n{p}", f"n{k}")
    return dag


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_equals_the_inline_engines(seed):
    """Equal durations, one worker: the simulated start order is the real run's."""
    dag = random_dag(seed)
    real = Executor(dag).execute()
    assert real.ok
    assert simulate(dag, workers=1).order == real.execution_order


@pytest.mark.parametrize("seed", [0, 1])
def test_order_equals_the_threads_engines_one_at_a_time(seed):
    """Four threads, max_concurrency=1 and a pool: deterministic for real, and the
    simulation on four workers with the same options starts nodes in the same order."""
    dag = random_dag(seed)
    rng = random.Random(seed)
    req = {n: {"cpu": rng.choice([1, 2])} for n in dag.nodes}
    real = ResourceAwareExecutor(
        dag, ResourcePool({"cpu": 2}), req, max_workers=4, max_concurrency=1
    ).execute()
    assert real.ok
    sim = simulate(dag, 4, resources={"cpu": 2}, requirements=req, max_concurrency=1)
    assert sim.order == real.execution_order


def test_a_heterogeneous_schedule_keeps_every_constraint():
    """The bench's kind of workload (cpu/gpu/memory, 1-3 units, seed 0): at every
    instant the pool, the workers and the dependencies hold, and the makespan is at
    least the lower bound max(critical path, work per resource / capacity)."""
    rng = random.Random(0)
    caps = {"cpu": 8, "gpu": 2, "memory_mb": 16000}
    dag = DAG()
    req, dur = {}, {}
    for k in range(60):
        name = f"n{k}"
        kind = rng.random()
        if kind < 0.2:
            req[name] = {"gpu": 1, "cpu": 2, "memory_mb": 4000}
        elif kind < 0.6:
            req[name] = {"cpu": rng.choice([1, 2, 4]), "memory_mb": rng.choice([1000, 2000])}
        else:
            req[name] = {"cpu": 1, "memory_mb": 500}
        dur[name] = float(rng.choice([1, 2, 3]))
        dag.add_node(name)
        if k >= 6:
            for p in rng.sample(range(k - 6, k), rng.randint(1, 2)):
                dag.add_edge(f"n{p}", name)
    sim = simulate(dag, 16, costs=dur, resources=caps, requirements=req)
    assert set(sim.status.values()) == {"succeeded"}
    for s, t in dag.edges:
        assert sim.start[t] >= sim.end[s]
    for n in dag.nodes:
        assert sim.end[n] - sim.start[n] == dur[n]
    for t in set(sim.start.values()):
        running = [n for n in dag.nodes if sim.start[n] <= t < sim.end[n]]
        assert len(running) <= 16
        for r, cap in caps.items():
            assert sum(req[n].get(r, 0) for n in running) <= cap, (t, r)
    area = max(sum(dur[n] * req[n].get(r, 0) for n in dag.nodes) / c for r, c in caps.items())
    assert sim.makespan >= max(dag.critical_path(dur)[1], area)


def test_rank_costs_rank_without_changing_durations(tawazi):
    # B ranked first (as Executor(costs={"B": 10}) would): A; B, C; D; E = 4 units.
    sim = simulate(tawazi, workers=2, rank_costs={"B": 10})
    assert sim.order == ["A", "B", "C", "D", "E"] and sim.makespan == 4
    assert sim.end["B"] - sim.start["B"] == 1
    with pytest.raises(ValueError, match="rank_costs name unknown node"):
        simulate(tawazi, workers=2, rank_costs={"Z": 1})


def test_simulate_executor_takes_the_executors_options():
    dag = random_dag(3)
    rng = random.Random(3)
    req = {n: {"cpu": rng.choice([1, 2])} for n in dag.nodes}
    costs = {n: float(rng.choice([1, 2, 3])) for n in dag.nodes}
    ex = ResourceAwareExecutor(
        dag, ResourcePool({"cpu": 3}), req, costs=costs, max_workers=3, overtake_limit=2
    )
    sim = simulate_executor(ex)
    same = simulate(dag, 3, costs, resources={"cpu": 3}, requirements=req, overtake_limit=2)
    assert sim.entries == same.entries
    assert sim.makespan == same.makespan
    # One node at a time the real run is deterministic: the same order.
    ex.max_concurrency = 1
    assert simulate_executor(ex).order == ex.execute().execution_order
    with pytest.raises(ValueError, match="give workers=N"):
        simulate_executor(Executor(dag, backend="threads"))
    assert simulate_executor(Executor(dag, backend="threads"), workers=2).workers == 2
    with pytest.raises(TypeError, match="takes an Executor"):
        simulate_executor(dag)


class RoundBackend(Backend):
    """A deterministic real backend: ``submit`` calls the node at once; ``wait`` reports
    every job submitted since the last wait, in submission order — a run where all
    nodes take equally long, on ``k`` workers."""

    name = "rounds"

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.worker_names = [f"slot-{w}" for w in range(k)]
        self.done: list = []

    @property
    def capacity(self) -> int:
        return self.k

    def submit(self, job):
        self.done.append(run_job(job, len(self.done)))

    def wait(self, timeout):
        events, self.done = self.done, []
        return events


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_order_equals_the_real_engines_on_a_deterministic_backend(seed):
    """Four workers, priorities, an exclusive node, a pool with bounded overtaking:
    equal durations make the real run deterministic, and the simulated start order
    is the real one."""
    dag = random_dag(seed, n=60)
    rng = random.Random(seed)
    dag.set_options(f"n{rng.randrange(60)}", exclusive=True)
    req = {n: {"cpu": rng.choice([1, 1, 2, 3])} for n in dag.nodes}
    real = ResourceAwareExecutor(
        dag, ResourcePool({"cpu": 4}), req, backend=RoundBackend(4), overtake_limit=2
    ).execute()
    assert real.ok
    sim = simulate(dag, 4, resources={"cpu": 4}, requirements=req, overtake_limit=2)
    assert sim.order == real.execution_order
    per_round = [list(sim.start.values()).count(t) for t in set(sim.start.values())]
    assert len(per_round) > 5 and max(per_round) > 1  # several rounds, some in parallel


def test_conditions_count_as_taken_and_rules_add_nothing():
    """What a simulation cannot know (documented): no value exists to test a condition
    on, and a rule's nodes do not exist before a run."""
    dag = DAG()
    dag.add_node("src", lambda: [1, 2, 3], cost=1)
    dag.add_node("maybe", lambda x: x, cost=2)
    dag.add_edge("src", "maybe", when=lambda v: False)
    dag.map("src", lambda x: x)
    sim = simulate(dag, workers=2)
    assert sim.order == ["src", "maybe"] and sim.makespan == 3
    assert sim.status == {"src": "succeeded", "maybe": "succeeded"}
    # The real run skips "maybe" and grows the mapped nodes.
    real = Executor(dag).execute()
    assert real["maybe"].status == "skipped" and len(real.execution_order) > 2
