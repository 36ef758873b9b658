"""Tests of dagforge.resources: requirements, snapshots, the timeline and the pool."""

from __future__ import annotations

import math
import pickle
import threading
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagforge.errors import DagforgeError, ResourceError
from dagforge.resources import (
    ResourcePool,
    ResourceRequirements,
    ResourceSnapshot,
    ResourceTimeline,
)

JOIN = 10.0  # upper bound for joins and event waits; never reached when things work


def _wait_until(predicate, limit: float = JOIN) -> bool:
    """Poll ``predicate`` until it is true or ``limit`` seconds pass (no timing asserted)."""
    deadline = time.monotonic() + limit
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.001)
    return True


# --- ResourceRequirements ---------------------------------------------------------------


class TestRequirements:
    def test_resources_is_a_copy_both_ways(self):
        source = {"gpu": 1, "cpu": 2}
        req = ResourceRequirements(resources=source)
        source["gpu"] = 99
        assert req.resources == {"gpu": 1, "cpu": 2}
        req.resources["cpu"] = 99
        assert req.resources == {"gpu": 1, "cpu": 2}

    def test_slots_and_no_new_attributes(self):
        req = ResourceRequirements.gpu(1)
        assert not hasattr(req, "__dict__")
        with pytest.raises(AttributeError):
            req.extra = 1

    def test_convenience_constructors(self):
        assert ResourceRequirements.gpu(2) == ResourceRequirements({"gpu": 2})
        assert ResourceRequirements.cpu(0.5) == ResourceRequirements({"cpu": 0.5})
        assert ResourceRequirements.memory(512) == ResourceRequirements({"memory_mb": 512})

    def test_equality_hash_and_repr(self):
        a = ResourceRequirements({"gpu": 1, "cpu": 2})
        b = ResourceRequirements({"cpu": 2.0, "gpu": 1})
        assert a == b
        assert hash(a) == hash(b)
        assert len({a, b}) == 1
        assert a != ResourceRequirements({"gpu": 1})
        assert a != {"gpu": 1, "cpu": 2}  # not equal to a plain dict
        assert repr(a) == "ResourceRequirements(resources={'gpu': 1, 'cpu': 2})"
        assert eval(repr(a)) == a

    def test_zero_amounts_are_dropped(self):
        req = ResourceRequirements({"gpu": 0, "cpu": 1})
        assert req.resources == {"cpu": 1}
        assert ResourceRequirements({"gpu": 0}) == ResourceRequirements({})
        assert ResourceRequirements({"gpu": 0}).is_empty

    def test_is_empty(self):
        assert ResourceRequirements({}).is_empty
        assert ResourceRequirements().is_empty
        assert not ResourceRequirements.cpu(1).is_empty

    def test_add_combines(self):
        total = ResourceRequirements({"gpu": 1, "cpu": 2}) + ResourceRequirements.cpu(3)
        assert total == ResourceRequirements({"gpu": 1, "cpu": 5})
        assert ResourceRequirements() + ResourceRequirements.gpu(1) == ResourceRequirements.gpu(1)
        with pytest.raises(TypeError):
            ResourceRequirements.gpu(1) + {"gpu": 1}

    def test_fits_missing_resource_counts_as_zero(self):
        req = ResourceRequirements({"gpu": 1})
        assert not req.fits({"cpu": 8})
        assert req.fits({"gpu": 1})
        assert ResourceRequirements().fits({})

    def test_fits_tolerates_float_rounding(self):
        assert 0.1 + 0.2 > 0.3
        assert ResourceRequirements({"x": 0.1 + 0.2}).fits({"x": 0.3})
        assert not ResourceRequirements({"x": 0.3001}).fits({"x": 0.3})

    @pytest.mark.parametrize("amount", [-1, -0.5])
    def test_negative_amount_names_the_resource(self, amount):
        with pytest.raises(ResourceError, match=r"'gpu'.*non-negative.*" + str(amount)):
            ResourceRequirements({"cpu": 1, "gpu": amount})

    @pytest.mark.parametrize("amount", [math.nan, math.inf, "2", None, True])
    def test_non_numbers_are_rejected(self, amount):
        with pytest.raises(ResourceError, match="'gpu'"):
            ResourceRequirements({"gpu": amount})

    @pytest.mark.parametrize("name", ["", 3, None])
    def test_bad_names_are_rejected(self, name):
        with pytest.raises(ResourceError, match="non-empty strings"):
            ResourceRequirements({name: 1})

    def test_other_real_numbers_become_float(self):
        assert ResourceRequirements({"cpu": Fraction(1, 2)}).resources == {"cpu": 0.5}

    def test_not_a_mapping(self):
        with pytest.raises(ResourceError, match=r"resources must be a dict.*list"):
            ResourceRequirements([("gpu", 1)])

    def test_coerce(self):
        req = ResourceRequirements.gpu(1)
        assert ResourceRequirements.coerce(req) is req
        assert ResourceRequirements.coerce(None) == ResourceRequirements()
        assert ResourceRequirements.coerce({"gpu": 1}) == req
        with pytest.raises(ResourceError, match=r"None, a dict .* or a ResourceRequirements.*int"):
            ResourceRequirements.coerce(3)
        with pytest.raises(ResourceError, match="'cpu'"):
            ResourceRequirements.coerce({"cpu": -2})

    def test_pickle_round_trip(self):
        req = ResourceRequirements({"gpu": 1, "memory_mb": 2048.5})
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            clone = pickle.loads(pickle.dumps(req, protocol))
            assert clone == req
            assert hash(clone) == hash(req)

    def test_errors_are_dagforge_errors(self):
        assert issubclass(ResourceError, DagforgeError)


# --- ResourceSnapshot and ResourceTimeline -----------------------------------------------


def _snap(allocated, available, node="n", event="acquire", ts=0.0) -> ResourceSnapshot:
    return ResourceSnapshot(ts, allocated, available, node, event)


class TestSnapshot:
    def test_fields(self):
        snap = ResourceSnapshot(
            timestamp=1.5,
            allocated={"gpu": 1},
            available={"gpu": 3},
            node_name=None,
            event="release",
        )
        assert (snap.timestamp, snap.allocated, snap.available) == (1.5, {"gpu": 1}, {"gpu": 3})
        assert snap.node_name is None
        assert snap.event == "release"
        assert not hasattr(snap, "__dict__")

    def test_frozen(self):
        snap = _snap({"gpu": 1}, {"gpu": 3})
        with pytest.raises(AttributeError):
            snap.event = "release"

    def test_bad_event(self):
        with pytest.raises(ResourceError, match=r"'acquire' or 'release'.*'start'"):
            _snap({}, {}, event="start")


class TestTimeline:
    def test_record_snapshots_clear(self):
        timeline = ResourceTimeline({"gpu": 4})
        first, second = _snap({"gpu": 1}, {"gpu": 3}), _snap({"gpu": 0}, {"gpu": 4}, ts=1.0)
        timeline.record(first)
        timeline.record(second)
        snaps = timeline.snapshots
        assert snaps == [first, second]
        snaps.clear()  # a copy: the timeline keeps its snapshots
        assert len(timeline.snapshots) == 2
        assert len(timeline) == 2
        timeline.clear()
        assert timeline.snapshots == []
        assert timeline.peak_utilization() == {"gpu": 0.0}

    def test_record_rejects_other_objects(self):
        with pytest.raises(ResourceError, match=r"ResourceSnapshot.*dict"):
            ResourceTimeline().record({"gpu": 1})

    def test_peak_per_resource_and_unused_is_zero(self):
        timeline = ResourceTimeline({"gpu": 2, "cpu": 8, "memory_mb": 16000, "tpu": 1})
        for allocated in (
            {"gpu": 1, "cpu": 2, "memory_mb": 8000, "tpu": 0},
            {"gpu": 2, "cpu": 6, "memory_mb": 4000, "tpu": 0},
            {"gpu": 0, "cpu": 0, "memory_mb": 0, "tpu": 0},
        ):
            timeline.record(_snap(allocated, {}))
        assert timeline.peak_utilization() == {
            "gpu": 1.0,
            "cpu": 0.75,
            "memory_mb": 0.5,
            "tpu": 0.0,
        }

    def test_zero_capacity_resource_reports_zero(self):
        timeline = ResourceTimeline({"gpu": 0})
        timeline.record(_snap({"gpu": 0}, {"gpu": 0}))
        assert timeline.peak_utilization() == {"gpu": 0.0}

    def test_without_capacities_uses_allocated_plus_available(self):
        timeline = ResourceTimeline()
        assert timeline.peak_utilization() == {}
        timeline.record(_snap({"gpu": 1, "cpu": 0}, {"gpu": 3, "cpu": 8}))
        timeline.record(_snap({"gpu": 3, "cpu": 2}, {"gpu": 1, "cpu": 6}))
        assert timeline.peak_utilization() == {"gpu": 0.75, "cpu": 0.25}

    def test_concurrent_records_are_all_kept(self):
        timeline = ResourceTimeline({"gpu": 1})
        start = threading.Barrier(4)

        def writer():
            start.wait(JOIN)
            for _ in range(500):
                timeline.record(_snap({"gpu": 1}, {"gpu": 0}))

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN)
        assert not any(t.is_alive() for t in threads)
        assert len(timeline.snapshots) == 2000


# --- ResourcePool -----------------------------------------------------------------------


@pytest.fixture
def pool() -> ResourcePool:
    return ResourcePool(capacities={"gpu": 2, "cpu": 8, "memory_mb": 16000})


class TestPoolBasics:
    def test_views_are_copies(self, pool):
        for view in ("capacities", "available", "allocated"):
            getattr(pool, view)["gpu"] = 99
        assert pool.capacities == {"gpu": 2, "cpu": 8, "memory_mb": 16000}
        assert pool.available == {"gpu": 2, "cpu": 8, "memory_mb": 16000}
        assert pool.allocated == {"gpu": 0, "cpu": 0, "memory_mb": 0}
        assert pool.timeline is pool.timeline

    def test_capacities_are_copied_from_the_argument(self):
        caps = {"gpu": 2}
        pool = ResourcePool(caps)
        caps["gpu"] = 10
        assert pool.capacities == {"gpu": 2}

    @pytest.mark.parametrize(
        ("caps", "pattern"),
        [
            ({"gpu": -1}, r"capacity of resource 'gpu' must be a non-negative.*-1"),
            ({"gpu": math.inf}, r"capacity of resource 'gpu'"),
            ({"gpu": "4"}, r"capacity of resource 'gpu' must be a number"),
            ([("gpu", 1)], r"capacities must be a dict"),
        ],
    )
    def test_bad_capacities(self, caps, pattern):
        with pytest.raises(ResourceError, match=pattern):
            ResourcePool(caps)

    def test_can_satisfy_uses_total_capacity(self, pool):
        assert pool.can_satisfy(ResourceRequirements({"gpu": 2, "cpu": 8}))
        assert pool.try_acquire(ResourceRequirements.gpu(2))
        # Allocation is ignored: still satisfiable in principle.
        assert pool.can_satisfy(ResourceRequirements.gpu(2))
        assert not pool.can_satisfy(ResourceRequirements.gpu(3))
        assert not pool.can_satisfy(ResourceRequirements({"tpu": 1}))
        assert pool.can_satisfy(ResourceRequirements())
        assert pool.can_satisfy(None)
        assert pool.can_satisfy({"cpu": 1})

    def test_try_acquire_and_release(self, pool):
        a = ResourceRequirements({"gpu": 1, "cpu": 4, "memory_mb": 8000})
        assert pool.try_acquire(a, node_name="a")
        assert pool.try_acquire(a, node_name="b")
        assert pool.available == {"gpu": 0, "cpu": 0, "memory_mb": 0}
        assert not pool.try_acquire(ResourceRequirements.cpu(1), node_name="c")
        pool.release(a, node_name="a")
        assert pool.allocated == {"gpu": 1, "cpu": 4, "memory_mb": 8000}
        assert pool.try_acquire(ResourceRequirements.cpu(1), node_name="c")

    def test_failed_try_acquire_changes_nothing_and_records_nothing(self, pool):
        assert not pool.try_acquire(ResourceRequirements({"gpu": 1, "cpu": 9}))
        assert not pool.try_acquire(ResourceRequirements({"gpu": 1, "tpu": 1}))
        assert pool.allocated == {"gpu": 0, "cpu": 0, "memory_mb": 0}
        assert pool.timeline.snapshots == []

    def test_dict_requirements_are_accepted(self, pool):
        assert pool.try_acquire({"gpu": 1})
        assert pool.acquire({"cpu": 2}, timeout=0)
        pool.release({"gpu": 1, "cpu": 2})
        assert pool.allocated == {"gpu": 0, "cpu": 0, "memory_mb": 0}

    def test_snapshots_record_every_change(self, pool):
        before = time.time()
        pool.acquire(ResourceRequirements.gpu(1), node_name="train")
        pool.try_acquire(ResourceRequirements.cpu(3), node_name="prep")
        pool.release(ResourceRequirements.gpu(1), node_name="train")
        pool.release(ResourceRequirements.cpu(3))
        after = time.time()
        snaps = pool.timeline.snapshots
        assert [(s.event, s.node_name) for s in snaps] == [
            ("acquire", "train"),
            ("acquire", "prep"),
            ("release", "train"),
            ("release", None),
        ]
        assert [s.allocated["gpu"] for s in snaps] == [1, 1, 0, 0]
        assert [s.allocated["cpu"] for s in snaps] == [0, 3, 3, 0]
        assert [s.available["cpu"] for s in snaps] == [8, 5, 5, 8]
        assert all(before <= s.timestamp <= after for s in snaps)
        assert [s.timestamp for s in snaps] == sorted(s.timestamp for s in snaps)
        assert pool.timeline.peak_utilization() == {"gpu": 0.5, "cpu": 0.375, "memory_mb": 0.0}

    def test_record_timeline_off(self):
        pool = ResourcePool({"gpu": 1}, record_timeline=False)
        assert pool.try_acquire(ResourceRequirements.gpu(1))
        pool.release(ResourceRequirements.gpu(1))
        assert pool.timeline.snapshots == []
        assert pool.timeline.peak_utilization() == {"gpu": 0.0}

    def test_float_sums_fit_and_return_to_exactly_zero(self):
        pool = ResourcePool({"x": 0.3})
        assert pool.try_acquire({"x": 0.1})
        assert pool.try_acquire({"x": 0.2})
        assert pool.allocated == {"x": 0.3}
        assert pool.available == {"x": 0.0}
        assert not pool.try_acquire({"x": 0.01})
        pool.release({"x": 0.1})
        pool.release({"x": 0.2})
        assert pool.allocated == {"x": 0}
        assert pool.available == {"x": 0.3}
        assert pool.timeline.peak_utilization() == {"x": 1.0}

    def test_repr(self, pool):
        assert repr(pool) == (
            "ResourcePool(capacities={'gpu': 2, 'cpu': 8, 'memory_mb': 16000}, "
            "allocated={'gpu': 0, 'cpu': 0, 'memory_mb': 0}, waiting=0)"
        )


class TestPoolErrors:
    def test_over_release_names_resource_amounts_and_capacity(self, pool):
        pool.acquire(ResourceRequirements.gpu(1), node_name="train")
        with pytest.raises(ResourceError) as info:
            pool.release(ResourceRequirements.gpu(2), node_name="train")
        message = str(info.value)
        assert "gpu=2" in message
        assert "node 'train'" in message
        assert "only gpu=1 is allocated" in message
        assert "capacity 2" in message

    def test_failed_release_changes_nothing(self, pool):
        pool.acquire(ResourceRequirements({"gpu": 1, "cpu": 2}))
        snaps = len(pool.timeline.snapshots)
        # cpu would be fine, gpu is over: the whole release is refused.
        with pytest.raises(ResourceError, match="gpu=2"):
            pool.release(ResourceRequirements({"cpu": 2, "gpu": 2}))
        assert pool.allocated == {"gpu": 1, "cpu": 2, "memory_mb": 0}
        assert len(pool.timeline.snapshots) == snaps

    def test_release_of_unknown_resource(self, pool):
        with pytest.raises(ResourceError, match=r"tpu=1.*no resource 'tpu'.*'gpu', 'cpu'"):
            pool.release(ResourceRequirements({"tpu": 1}))

    def test_negative_release(self, pool):
        pool.acquire(ResourceRequirements.gpu(1))
        with pytest.raises(ResourceError, match=r"'gpu'.*non-negative.*-1"):
            pool.release({"gpu": -1})
        assert pool.allocated["gpu"] == 1

    def test_check_passes_for_satisfiable(self, pool):
        assert pool.check(ResourceRequirements({"gpu": 2, "cpu": 8}), node="big") is None
        assert pool.check(None) is None

    def test_check_names_node_resource_amount_and_capacity(self, pool):
        with pytest.raises(ResourceError) as info:
            pool.check(ResourceRequirements({"gpu": 3, "cpu": 1}), node="train")
        message = str(info.value)
        assert "node 'train'" in message
        assert "gpu=3" in message
        assert "total capacity is gpu=2" in message
        assert "cpu" not in message.split("needs", 1)[1]  # the fine resource is not blamed

    def test_check_unknown_resource_lists_pool_resources(self, pool):
        with pytest.raises(ResourceError) as info:
            pool.check({"tpu": 1, "gpu": 4}, node="infer")
        message = str(info.value)
        assert "node 'infer'" in message
        assert "tpu=1" in message
        assert "no resource 'tpu'" in message
        assert "'gpu', 'cpu', 'memory_mb'" in message
        assert "gpu=4" in message  # every problem is reported at once

    def test_check_without_node(self, pool):
        with pytest.raises(ResourceError, match="the requirement can never be scheduled"):
            pool.check(ResourceRequirements.memory(20000))

    def test_check_amount_formatting(self):
        pool = ResourcePool({"memory_mb": 16000.0})
        with pytest.raises(ResourceError, match=r"memory_mb=16000\.5 .* memory_mb=16000 "):
            pool.check(ResourceRequirements.memory(16000.5))

    def test_acquire_of_impossible_raises_instead_of_waiting(self, pool):
        with pytest.raises(ResourceError, match=r"node 'x'.*gpu=3"):
            pool.acquire(ResourceRequirements.gpu(3), node_name="x")
        with pytest.raises(ResourceError, match="no resource 'tpu'"):
            pool.acquire({"tpu": 1})
        assert pool.timeline.snapshots == []


class TestBlockingAcquire:
    def test_timeout_returns_false_and_changes_nothing(self, pool):
        assert pool.acquire(ResourceRequirements.gpu(2), node_name="holder")
        assert pool.acquire(ResourceRequirements.gpu(1), timeout=0.01) is False
        assert pool.acquire(ResourceRequirements.gpu(1), timeout=0) is False
        assert pool.acquire(ResourceRequirements.gpu(1), timeout=-1) is False
        assert pool.allocated["gpu"] == 2
        assert len(pool.timeline.snapshots) == 1
        assert pool._waiters == 0

    def test_acquire_without_waiting_when_free(self, pool):
        assert pool.acquire(ResourceRequirements.gpu(1), timeout=0) is True

    def test_release_from_another_thread_wakes_a_blocked_acquire(self, pool):
        gpu = ResourceRequirements.gpu(2)
        pool.acquire(gpu, node_name="first")
        done = threading.Event()
        results: list[bool] = []

        def waiter():
            results.append(pool.acquire(gpu, timeout=60, node_name="second"))
            done.set()

        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        assert _wait_until(lambda: pool._waiters == 1), "waiter never blocked"
        assert not done.is_set()
        assert pool.allocated["gpu"] == 2

        pool.release(gpu, node_name="first")
        assert done.wait(JOIN)
        thread.join(JOIN)
        assert results == [True]
        assert pool.allocated["gpu"] == 2
        assert pool._waiters == 0
        assert [(s.event, s.node_name) for s in pool.timeline.snapshots] == [
            ("acquire", "first"),
            ("release", "first"),
            ("acquire", "second"),
        ]

    def test_one_release_wakes_every_waiter_that_now_fits(self, pool):
        pool.acquire(ResourceRequirements.gpu(2), node_name="big")
        results: list[bool] = []
        lock = threading.Lock()

        def waiter(name):
            ok = pool.acquire(ResourceRequirements.gpu(1), timeout=60, node_name=name)
            with lock:
                results.append(ok)

        threads = [threading.Thread(target=waiter, args=(f"w{i}",), daemon=True) for i in (1, 2)]
        for t in threads:
            t.start()
        assert _wait_until(lambda: pool._waiters == 2)
        pool.release(ResourceRequirements.gpu(2), node_name="big")
        for t in threads:
            t.join(JOIN)
        assert not any(t.is_alive() for t in threads)
        assert results == [True, True]
        assert pool.available["gpu"] == 0

    def test_many_threads_never_oversubscribe(self):
        pool = ResourcePool({"gpu": 3, "cpu": 5})
        req = ResourceRequirements({"gpu": 1, "cpu": 2})
        errors: list[BaseException] = []
        rounds = 200

        def worker(i):
            try:
                for _ in range(rounds):
                    assert pool.acquire(req, timeout=JOIN, node_name=f"w{i}")
                    pool.release(req, node_name=f"w{i}")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN * 3)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert pool.allocated == {"gpu": 0, "cpu": 0}
        snaps = pool.timeline.snapshots
        assert len(snaps) == 6 * rounds * 2
        # cpu 5 admits at most two holders at once.
        assert max(s.allocated["cpu"] for s in snaps) <= 4
        assert all(s.allocated["gpu"] <= 2 for s in snaps)
        peak = pool.timeline.peak_utilization()
        assert 0 < peak["cpu"] <= 0.8


# --- property test ----------------------------------------------------------------------

NAMES = ("gpu", "cpu", "memory_mb")
amounts = st.one_of(
    st.integers(min_value=0, max_value=8),
    st.floats(min_value=0, max_value=8, allow_nan=False, allow_infinity=False),
)
capacity_maps = st.dictionaries(st.sampled_from(NAMES), amounts, min_size=1)
requirement_maps = st.dictionaries(st.sampled_from((*NAMES, "tpu")), amounts, max_size=3)


@settings(max_examples=200, deadline=None)
@given(caps=capacity_maps, data=st.data())
def test_random_acquire_release_keeps_invariants(caps, data):
    pool = ResourcePool(caps)
    held: list[ResourceRequirements] = []

    def check_invariants():
        allocated, available = pool.allocated, pool.available
        for name, cap in caps.items():
            assert 0 <= allocated[name] <= cap
            assert available[name] == cap - allocated[name]
            expected = sum(r.resources.get(name, 0) for r in held)
            assert allocated[name] == pytest.approx(expected, abs=1e-6)

    for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="steps")):
        op = data.draw(st.sampled_from(("acquire", "release", "over-release")), label="op")
        if op == "acquire":
            req = ResourceRequirements(data.draw(requirement_maps, label="req"))
            if pool.try_acquire(req, node_name=f"n{len(held)}"):
                held.append(req)
            else:
                assert not req.fits(pool.available) or not pool.can_satisfy(req)
        elif op == "release" and held:
            index = data.draw(st.integers(0, len(held) - 1), label="index")
            pool.release(held.pop(index))
        elif op == "over-release":
            name = data.draw(st.sampled_from(sorted(caps)), label="name")
            before = pool.allocated
            snaps = len(pool.timeline)
            with pytest.raises(ResourceError, match=f"cannot release {name}="):
                pool.release({name: before[name] + 1})
            assert pool.allocated == before
            assert len(pool.timeline) == snaps
        check_invariants()

    snaps = pool.timeline.snapshots
    expected_peak = {
        name: max(
            (s.allocated[name] / cap if cap > 0 else 0.0 for s in snaps),
            default=0.0,
        )
        for name, cap in caps.items()
    }
    assert pool.timeline.peak_utilization() == expected_peak
    assert all(0.0 <= v <= 1.0 for v in expected_peak.values())
