"""The engine's compiled pool operations (ResourcePool._vector) keep try_acquire/release."""

from __future__ import annotations

import threading

import pytest

import dagforge
from dagforge import ResourcePool, ResourceRequirements


def test_compiled_take_give_match_try_acquire_and_release():
    caps = {"cpu": 0.3, "gpu": 2, "memory_mb": 1000}
    fast, slow = ResourcePool(caps), ResourcePool(caps)
    steps = [
        ({"cpu": 0.1, "gpu": 1}, True),
        ({"cpu": 0.2, "memory_mb": 1000}, True),  # 0.1 + 0.2 fits 0.3 (tolerance), snaps to full
        ({"cpu": 1e-12}, True),  # within tolerance of full
        ({"gpu": 2}, True),  # gpu: 1 held, 2 more does not fit
    ]
    taken = []
    for amounts, _ in steps:
        a, b = ResourceRequirements(amounts), ResourceRequirements(amounts)
        got = fast._take_if_fits(a, "n")
        assert got == slow.try_acquire(b, node_name="n")
        assert fast.allocated == slow.allocated
        if got:
            taken.append((a, b))
    assert fast.allocated["cpu"] == 0.3  # snapped to exactly the capacity
    for a, b in reversed(taken):
        fast._give_back(a, "n")
        slow.release(b, node_name="n")
        assert fast.allocated == slow.allocated
    assert fast.allocated == {"cpu": 0, "gpu": 0, "memory_mb": 0}
    got = [(s.node_name, s.event, s.allocated) for s in fast.timeline.snapshots]
    assert got == [(s.node_name, s.event, s.allocated) for s in slow.timeline.snapshots]
    assert fast.timeline.peak_utilization() == slow.timeline.peak_utilization()


def test_unknown_resource_never_fits_and_one_requirement_serves_two_pools():
    req = ResourceRequirements({"gpu": 1})
    assert ResourcePool({"cpu": 4})._take_if_fits(req, "x") is False
    p1, p2 = ResourcePool({"gpu": 1}), ResourcePool({"gpu": 2}, record_timeline=False)
    assert p1._take_if_fits(req, "a") and not p1._take_if_fits(req, "b")
    assert p2._take_if_fits(req, "a") and p2._take_if_fits(req, "b")  # its own compilation
    assert p1._take_if_fits(req, "c") is False  # back to p1: still full
    p1._give_back(req, "a")
    assert p1.allocated == {"gpu": 0} and p2.allocated == {"gpu": 2}
    assert len(p1.timeline) == 2 and len(p2.timeline) == 0


def test_compiled_give_wakes_blocked_acquire():
    pool = ResourcePool({"gpu": 1})
    req = ResourceRequirements({"gpu": 1})
    assert pool._take_if_fits(req, "a")
    got = []
    t = threading.Thread(target=lambda: got.append(pool.acquire({"gpu": 1}, timeout=10)))
    t.start()
    for _ in range(1000):  # bounded: wait until the thread is blocked in acquire
        if pool._waiters:
            break
        threading.Event().wait(0.005)
    pool._give_back(req, "a")
    t.join(timeout=10)
    assert got == [True]


@pytest.mark.parametrize("cap", [3, 1])
def test_run_with_equal_requirements_on_every_node_respects_capacity(cap):
    dag = dagforge.DAG()
    running, peak = [0], [0]
    lock = threading.Lock()

    def task():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.002)
        with lock:
            running[0] -= 1

    for k in range(12):
        dag.add_node(f"t{k}", task)
    pool = ResourcePool({"slot": cap})
    reqs = {f"t{k}": ResourceRequirements({"slot": 1}) for k in range(12)}  # equal, distinct
    r = dagforge.ResourceAwareExecutor(dag, pool, reqs, max_workers=6).execute()
    assert r.succeeded == 12
    assert peak[0] <= cap
    assert pool.allocated == {"slot": 0}
    assert len(pool.timeline) == 24
    assert pool.timeline.peak_utilization() == {"slot": 1.0}


@pytest.mark.parametrize("record", [True, False])
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_every_specialised_pair_and_the_loop_match_try_acquire_and_release(k, record):
    # 1-3 resources get specialised closures, 0 and 4+ the loop: all behave like the
    # public operations, including a later resource not fitting and snapping to 0 / full.
    names = ["cpu", "gpu", "memory_mb", "disk"][:k]
    caps = dict.fromkeys(names, 0.3)
    fast = ResourcePool(caps, record_timeline=record)
    slow = ResourcePool(caps, record_timeline=record)
    reqs = [dict.fromkeys(names, 0.1), dict.fromkeys(names, 0.2), dict.fromkeys(names, 1e-12)]
    if k:
        reqs.append({**dict.fromkeys(names[:-1], 0.0), names[-1]: 0.05})  # last one does not fit
    taken = []
    for amounts in reqs:
        a, b = ResourceRequirements(amounts), ResourceRequirements(amounts)
        got = fast._take_if_fits(a, "n")
        assert got == slow.try_acquire(b, node_name="n")
        assert fast.allocated == slow.allocated
        if got:
            taken.append((a, b))
    assert all(v == 0.3 for v in fast.allocated.values())  # exactly full
    for a, b in taken:
        fast._give_back(a, "n")
        slow.release(b, node_name="n")
        assert fast.allocated == slow.allocated
    assert all(v == 0 for v in fast.allocated.values())  # exactly empty
    got = [(s.node_name, s.event, s.allocated) for s in fast.timeline.snapshots]
    assert got == [(s.node_name, s.event, s.allocated) for s in slow.timeline.snapshots]
    assert len(got) == (2 * len(taken) if record else 0)
