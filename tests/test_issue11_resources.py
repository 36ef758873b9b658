"""Issue 11: the pool's timeline is recorded cheaply and replayed exactly when read."""

from __future__ import annotations

import random

from dagforge import DAG, ResourcePool, ResourceRequirements
from dagforge.execution.executor import ResourceAwareExecutor


def test_replayed_snapshots_equal_the_allocation_after_every_change():
    rng = random.Random(7)
    pool = ResourcePool({"cpu": 4, "gpu": 1.5, "mem": 1000.0})
    expected = []
    held: list[ResourceRequirements] = []
    for step in range(300):
        if held and (rng.random() < 0.45 or step % 7 == 0):
            req = held.pop(rng.randrange(len(held)))
            if step % 2:
                pool.release(req, node_name=f"n{step}")
            else:
                pool._give_back(req, f"n{step}")
            expected.append(("release", f"n{step}", pool.allocated, pool.available))
        else:
            req = ResourceRequirements(
                {"cpu": rng.choice([0.5, 1, 2]), "gpu": rng.choice([0, 0.5]), "mem": 100 / 3}
            )
            ok = (
                pool.try_acquire(req, node_name=f"n{step}")
                if step % 2
                else pool._take_if_fits(req, f"n{step}")
            )
            if ok:
                held.append(req)
                expected.append(("acquire", f"n{step}", pool.allocated, pool.available))
        if step == 150:
            first = pool.timeline.snapshots  # reading half-way must not disturb the replay
            assert len(first) == len(expected)
    got = [(s.event, s.node_name, s.allocated, s.available) for s in pool.timeline.snapshots]
    assert got == expected
    stamps = [s.timestamp for s in pool.timeline.snapshots]
    assert stamps == sorted(stamps)


def test_clear_keeps_later_snapshots_right():
    pool = ResourcePool({"cpu": 4})
    a, b = ResourceRequirements({"cpu": 1}), ResourceRequirements({"cpu": 2})
    pool.try_acquire(a, "a")
    pool.timeline.clear()
    pool.try_acquire(b, "b")
    pool.release(a, "a")
    snaps = pool.timeline.snapshots
    assert [s.allocated["cpu"] for s in snaps] == [3, 2]
    assert pool.timeline.peak_utilization() == {"cpu": 0.75}


def test_a_resource_aware_run_records_two_snapshots_per_node():
    d = DAG()
    for k in range(20):
        d.add_node(f"n{k}", lambda: 1)
    pool = ResourcePool({"cpu": 2})
    reqs = {f"n{k}": {"cpu": 1} for k in range(20)}
    r = ResourceAwareExecutor(d, pool, reqs, max_workers=2).execute()
    assert r.succeeded == 20
    snaps = pool.timeline.snapshots
    assert len(snaps) == 40
    assert all(0 <= s.allocated["cpu"] <= 2 for s in snaps)
    assert snaps[-1].allocated == {"cpu": 0}


def test_threads_release_each_hold_once_even_when_a_timed_out_attempt_returns_late():
    import threading
    import time

    attempts = []
    gate = threading.Event()

    def slow():
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            gate.wait(5)  # the first attempt outlives its timeout, then returns late
            return "late"
        return "retried"

    def other():
        gate.set()  # runs once the timed-out attempt's cpu came back
        time.sleep(0.05)
        return "other"

    d = DAG()
    d.add_node("slow", slow, timeout=0.1, retries=1, retry_delay=0, priority=5)
    d.add_node("other", other)
    pool = ResourcePool({"cpu": 1})
    reqs = {"slow": {"cpu": 1}, "other": {"cpu": 1}}
    r = ResourceAwareExecutor(d, pool, reqs, max_workers=3).execute()
    assert r["slow"].value == "retried" and r["other"].value == "other"
    assert pool.allocated == {"cpu": 0}
    snaps = pool.timeline.snapshots
    events = [s.event for s in snaps]
    assert events.count("acquire") == events.count("release") == 3
    assert all(0 <= s.allocated["cpu"] <= 1 for s in snaps)
