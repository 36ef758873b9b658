"""The pool's timeline is recorded as flat raw changes and built into snapshots when read.

An eager reference (a snapshot built right after every change, with the documented
arithmetic) must equal the lazily built timeline on random workloads that mix the
public operations, the engine's hot path, reads, hand-recorded snapshots and clear().
The hot path's lock-free give must never lose a release nor a wake-up.
"""

from __future__ import annotations

import gc
import random
import threading
import time

import pytest

from dagforge import DAG, ResourcePool, ResourceRequirements, ResourceSnapshot
from dagforge.errors import ResourceError
from dagforge.execution.executor import ResourceAwareExecutor

EPS = 1e-9


class EagerReference:
    """The allocation and the snapshot list an eager pool records, change by change."""

    def __init__(self, caps: dict[str, float]):
        self.caps = dict(caps)
        self.alloc = dict.fromkeys(caps, 0)
        self.snaps: list[tuple] = []

    def tol(self, name: str) -> float:
        return EPS * max(1.0, abs(self.caps[name]))

    def fits(self, amounts: dict[str, float]) -> bool:
        return all(
            name in self.caps and q <= self.caps[name] - self.alloc[name] + self.tol(name)
            for name, q in amounts.items()
        )

    def change(self, amounts: dict[str, float], acquired: bool, node: str | None) -> None:
        for name, q in amounts.items():
            cap, tol = self.caps[name], self.tol(name)
            if acquired:
                t = self.alloc[name] + q
                self.alloc[name] = cap if t >= cap - tol else t
            else:
                t = self.alloc[name] - q
                self.alloc[name] = 0 if t <= tol else t
        available = {n: self.caps[n] - a for n, a in self.alloc.items()}
        event = "acquire" if acquired else "release"
        self.snaps.append((dict(self.alloc), available, node, event))


def _view(snap: ResourceSnapshot) -> tuple:
    return (snap.allocated, snap.available, snap.node_name, snap.event)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lazy_timeline_equals_the_eager_one_on_a_random_workload(seed):
    rng = random.Random(seed)
    names = ["cpu", "gpu", "mem", "disk", "net"]
    caps = {"cpu": 4, "gpu": 1.5, "mem": 1000.0, "disk": 0.3, "net": 7}
    pool = ResourcePool(caps)
    ref = EagerReference(caps)
    held: list[tuple[ResourceRequirements, dict, bool]] = []
    windows: list[tuple[float, float]] = []  # (before, after) of each recorded change
    cleared = 0  # reference snapshots dropped by clear()
    for step in range(600):
        node = f"n{step}" if step % 11 else None
        roll = rng.random()
        before = time.time()
        if held and roll < 0.4:
            req, amounts, hot = held.pop(rng.randrange(len(held)))
            if hot:
                pool._give_back(req, node)
            else:
                pool.release(req, node_name=node)
            ref.change(amounts, False, node)
            windows.append((before, time.time()))
        elif roll < 0.9:
            k = rng.randint(1, len(names))  # 1-3 specialised, 4-5 the loop
            picked = rng.sample(names, k)
            amounts = {
                name: rng.choice([0.1, 0.2, 0.5, 1, 100 / 3, 1e-12]) * (caps[name] / 4)
                for name in picked
            }
            req = ResourceRequirements(amounts)
            hot = rng.random() < 0.6
            ok = pool._take_if_fits(req, node) if hot else pool.try_acquire(req, node_name=node)
            assert ok == ref.fits(req.resources), (step, amounts, ref.alloc)
            if ok:
                ref.change(req.resources, True, node)
                windows.append((before, time.time()))
                held.append((req, req.resources, hot))
        elif roll < 0.94:
            snaps = pool.timeline.snapshots  # reading midway must not disturb the replay
            assert [_view(s) for s in snaps] == ref.snaps[cleared:]
            assert pool.allocated == ref.alloc
        elif roll < 0.97:
            hand = ResourceSnapshot(before, {"cpu": 1}, {"cpu": 3}, "hand", "acquire")
            pool.timeline.record(hand)  # lands after every change made so far
            ref.snaps.append(_view(hand))
            windows.append((before, before))
        else:
            pool.timeline.clear()
            cleared = len(ref.snaps)
        assert len(pool.timeline) == len(ref.snaps) - cleared
    snaps = pool.timeline.snapshots
    assert [_view(s) for s in snaps] == ref.snaps[cleared:]
    assert pool.allocated == ref.alloc
    stamps = [s.timestamp for s in snaps]
    assert stamps == sorted(stamps)
    for s, (lo, hi) in zip(snaps, windows[cleared:], strict=True):
        assert lo <= s.timestamp <= hi


def test_hot_path_changes_leave_no_container_per_change():
    # Raw changes are three flat items (a float and two shared objects): no new object
    # for the garbage collector per acquire/release, however long the run.
    pool = ResourcePool({"cpu": 10**9, "memory_mb": 10**12})
    req = ResourceRequirements({"cpu": 1, "memory_mb": 1})
    take, give = pool._vector(req)
    take(req, "warm")
    give(req, "warm")
    for _ in range(2000):
        take(req, "n")
        give(req, "n")
    # Deterministic (a count of gc.get_objects() also sees other threads' allocations):
    # every item the hot path appended is untracked (a float, the node's str) or one of
    # a few shared change objects -- never a new container per change.
    raw = pool.timeline._raw
    assert len(raw) == 3 * 4002
    tracked = {id(x) for x in raw if gc.is_tracked(x)}
    assert len(tracked) <= 4, len(tracked)  # one tuple per change would be 4,000
    assert len(pool.timeline) == 4002
    snaps = pool.timeline.snapshots
    assert snaps[-1].allocated == {"cpu": 0, "memory_mb": 0}
    assert max(s.allocated["cpu"] for s in snaps) == 1


def test_concurrent_hot_path_and_readers_keep_a_consistent_timeline():
    caps = {"slot": 3, "mem": 1.0}
    pool = ResourcePool(caps)
    req = ResourceRequirements({"slot": 1, "mem": 0.3})
    take, give = pool._vector(req)
    counts = [0, 0, 0, 0]
    stop = threading.Event()
    seen: list[int] = []
    bad: list[object] = []

    def worker(w: int) -> None:
        for _ in range(3000):
            if take(req, f"w{w}"):
                counts[w] += 1
                give(req, f"w{w}")

    def reader() -> None:
        while not stop.is_set():
            alloc = pool.allocated
            if not all(0 <= v <= caps[n] for n, v in alloc.items()):
                bad.append(alloc)
            count = len(pool.timeline.snapshots)  # replays while the workers append
            if seen and count < seen[-1]:
                bad.append(count)
            seen.append(count)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stop.set()
    r.join(timeout=60)
    assert not bad and seen
    assert pool.allocated == {"slot": 0, "mem": 0}
    snaps = pool.timeline.snapshots
    assert len(snaps) == 2 * sum(counts)
    assert sum(s.event == "acquire" for s in snaps) == sum(counts)
    # Replayed in the timeline's order: never over capacity nor below empty, ends empty.
    for s in snaps:
        assert 0 <= s.allocated["slot"] <= 3 and 0 <= s.allocated["mem"] <= 1.0
        assert s.available == {n: caps[n] - a for n, a in s.allocated.items()}
    assert snaps[-1].allocated == {"slot": 0, "mem": 0}
    stamps = [s.timestamp for s in snaps]
    assert stamps == sorted(stamps)


def test_lock_free_give_never_loses_a_wake_up():
    # Capacity 1, blocking acquire() against the hot path's give: every acquire must be
    # woken by some give (a lost wake-up would time out and return False).
    pool = ResourcePool({"gpu": 1})
    req = ResourceRequirements({"gpu": 1})
    results: list[bool] = []
    lock = threading.Lock()

    def blocking(w: int) -> None:
        for _ in range(200):
            ok = pool.acquire(req, timeout=20, node_name=f"b{w}")
            with lock:
                results.append(ok)
            if ok:
                pool._give_back(req, f"b{w}")  # the lock-free give

    threads = [threading.Thread(target=blocking, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert results == [True] * 800
    assert pool.allocated == {"gpu": 0}
    assert pool._waiters == 0
    events = [s.event for s in pool.timeline.snapshots]
    assert events == ["acquire", "release"] * 800


def test_release_after_hot_give_checks_against_the_applied_allocation():
    pool = ResourcePool({"cpu": 2})
    a = ResourceRequirements({"cpu": 2})
    assert pool._take_if_fits(a, "a")
    pool._give_back(a, "a")  # queued, applied by the next holder of the lock
    with pytest.raises(ResourceError, match="only cpu=0 is allocated"):
        pool.release({"cpu": 1}, node_name="x")
    assert pool.try_acquire({"cpu": 2}, node_name="b")
    assert repr(pool) == "ResourcePool(capacities={'cpu': 2}, allocated={'cpu': 2}, waiting=0)"


def test_a_threads_run_timeline_matches_its_replayed_allocation():
    d = DAG()
    for k in range(300):
        d.add_node(f"n{k}", lambda: 1)
        if k >= 3:
            d.add_edge(f"n{k - 3}", f"n{k}")
    caps = {"cpu": 2, "mem": 1.0}
    pool = ResourcePool(caps)
    reqs = {f"n{k}": {"cpu": 1, "mem": 0.1 * (1 + k % 3)} for k in range(300)}
    r = ResourceAwareExecutor(d, pool, reqs, max_workers=3).execute()
    assert r.succeeded == 300
    snaps = pool.timeline.snapshots
    assert len(snaps) == 600
    ref = EagerReference(caps)
    for s in snaps:  # the snapshots are exactly the eager arithmetic in timeline order
        ref.change(reqs[s.node_name], s.event == "acquire", s.node_name)
        assert _view(s) == ref.snaps[-1]
        assert s.allocated["cpu"] <= 2
    assert pool.allocated == {"cpu": 0, "mem": 0}
