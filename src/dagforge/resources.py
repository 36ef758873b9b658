"""The resource model: named, countable resources that nodes acquire before they run.

A :class:`ResourcePool` holds the capacity of each named resource (``"gpu"``, ``"cpu"``,
``"memory_mb"`` or anything else). A node states what it needs as
:class:`ResourceRequirements`; the engine acquires them before dispatching the node and
releases them when it finishes, so the pool is never oversubscribed. Every successful
acquire and release is recorded as a :class:`ResourceSnapshot` in the pool's
:class:`ResourceTimeline`, which answers ``peak_utilization()`` after a run.

The API is the one the dagron documentation describes (``seeds/002_*``); see
``docs/resources.md``.

Amounts are plain numbers (``int`` or ``float``). Comparisons allow a tiny relative
tolerance so that, say, ``0.1 + 0.2`` units fit a capacity of ``0.3``; allocations that
come within that tolerance of empty or full are snapped to exactly ``0`` or exactly the
capacity, so ``allocated`` never drifts outside ``[0, capacity]``.

Lock discipline
---------------
* Each pool has **one** lock, wrapped in a :class:`threading.Condition`. Every read or
  change of the pool's allocation happens while holding it, with one exception: the
  engine's hot-path ``give`` (see :meth:`ResourcePool._vector`) queues what it returns
  on a deque (an atomic append) and the next holder of the lock applies the queue before
  it reads or changes anything. Blocking :meth:`ResourcePool.acquire` waits on the
  condition and every release wakes all waiters.
* The timeline has **its own** lock, held while it turns raw changes into snapshots.
  The pool appends raw changes without it (one atomic ``list.extend`` each): a take or a
  public acquire/release while holding the pool lock (so the timeline's order is the
  order of the allocation changes), a hot-path give just *before* it queues its return
  (so an acquire that used the room a release made is always recorded after it). The
  pool never takes the timeline lock and the timeline never calls into a pool: no
  deadlock.
* No lock is held while user code runs; nothing here does I/O.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from dagforge.errors import ResourceError

__all__ = [
    "ResourcePool",
    "ResourceRequirements",
    "ResourceSnapshot",
    "ResourceTimeline",
]

#: Relative tolerance for comparing amounts (scaled by ``max(1, |reference|)``).
_REL_EPS = 1e-9


_now = time.time


def _tol(reference: float) -> float:
    return _REL_EPS * max(1.0, abs(reference))


def _fmt(amount: float) -> str:
    """An amount for messages: ``2``, ``0.5``, ``16000`` (not ``1.6e+04``)."""
    if isinstance(amount, float) and amount.is_integer():
        return str(int(amount))
    return str(amount) if isinstance(amount, int) else f"{amount:.6g}"


def _amounts(mapping: Any, kind: str, what: str) -> dict[str, float]:
    """Validate a ``{name: amount}`` mapping; ``kind``/``what`` name it in messages."""
    if not isinstance(mapping, Mapping):
        raise ResourceError(
            f"{kind} must be a dict of resource name -> {what}, got "
            f"{type(mapping).__name__} {mapping!r}"
        )
    out: dict[str, float] = {}
    for name, amount in mapping.items():
        if not isinstance(name, str) or not name:
            raise ResourceError(f"resource names must be non-empty strings, got {name!r}")
        if isinstance(amount, bool) or not isinstance(amount, Real):
            raise ResourceError(
                f"{what} of resource {name!r} must be a number, got {type(amount).__name__} "
                f"{amount!r}"
            )
        if not isinstance(amount, int | float):  # e.g. Fraction, numpy scalars
            amount = float(amount)
        if not math.isfinite(amount) or amount < 0:
            raise ResourceError(
                f"{what} of resource {name!r} must be a non-negative finite number, got {amount!r}"
            )
        out[name] = amount
    return out


class ResourceRequirements:
    """What one node needs: a map of resource name -> amount (non-negative).

    Immutable: ``.resources`` returns a copy. Zero amounts are dropped (needing nothing
    of a resource is not needing it), so ``ResourceRequirements({"gpu": 0})`` equals
    ``ResourceRequirements({})`` and fits any pool.
    """

    __slots__ = ("_hash", "_resources", "_vec")

    _resources: dict[str, float]
    _hash: int
    # The engine's hot path: ``(pool, (take, give))`` for the pool that last used it,
    # as ``ResourcePool._vector(self)`` built them (a private cache, not state).
    _vec: Any

    def __init__(self, resources: Mapping[str, float] | None = None):
        amounts = _amounts({} if resources is None else resources, "resources", "amount")
        self._resources = {name: amount for name, amount in amounts.items() if amount}
        self._hash = hash(frozenset(self._resources.items()))
        self._vec = None

    # --- convenience constructors -------------------------------------------------------

    @classmethod
    def gpu(cls, n: float) -> ResourceRequirements:
        """A requirement for ``n`` GPUs (resource ``"gpu"``)."""
        return cls({"gpu": n})

    @classmethod
    def cpu(cls, n: float) -> ResourceRequirements:
        """A requirement for ``n`` CPU cores (resource ``"cpu"``)."""
        return cls({"cpu": n})

    @classmethod
    def memory(cls, mb: float) -> ResourceRequirements:
        """A requirement for ``mb`` megabytes of memory (resource ``"memory_mb"``)."""
        return cls({"memory_mb": mb})

    @classmethod
    def coerce(cls, obj: ResourceRequirements | Mapping[str, float] | None) -> ResourceRequirements:
        """Accept ``None`` (no requirements), a dict, or a ``ResourceRequirements``."""
        if isinstance(obj, ResourceRequirements):
            return obj
        if obj is None:
            return cls()
        if isinstance(obj, Mapping):
            return cls(obj)
        raise ResourceError(
            "resource requirements must be None, a dict of resource name -> amount or a "
            f"ResourceRequirements, got {type(obj).__name__} {obj!r}"
        )

    # --- queries ---------------------------------------------------------------------

    @property
    def resources(self) -> dict[str, float]:
        """A copy of the resource name -> amount map (zero amounts omitted)."""
        return dict(self._resources)

    @property
    def is_empty(self) -> bool:
        """True when nothing is required."""
        return not self._resources

    def fits(self, available: Mapping[str, float]) -> bool:
        """True if ``available`` covers every amount; a resource missing there counts as 0."""
        for name, need in self._resources.items():
            have = available.get(name, 0)
            if need > have + _tol(have):
                return False
        return True

    def __add__(self, other: object) -> ResourceRequirements:
        if not isinstance(other, ResourceRequirements):
            return NotImplemented
        combined = dict(self._resources)
        for name, amount in other._resources.items():
            combined[name] = combined.get(name, 0) + amount
        return ResourceRequirements(combined)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceRequirements):
            return NotImplemented
        return self._resources == other._resources

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"ResourceRequirements(resources={self._resources!r})"

    # __slots__ without __dict__: pickle through the constructor.
    def __reduce__(self) -> tuple[type, tuple[dict[str, float]]]:
        return (ResourceRequirements, (self._resources,))


_EVENTS = ("acquire", "release")


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    """The pool's allocation right after one acquire or release.

    ``timestamp`` is a Unix time (``time.time()``); ``allocated`` and ``available`` map
    every resource of the pool to an amount; ``node_name`` is the node that acquired or
    released (``None`` if not given); ``event`` is ``"acquire"`` or ``"release"``.
    """

    timestamp: float
    allocated: dict[str, float]
    available: dict[str, float]
    node_name: str | None
    event: str

    def __post_init__(self) -> None:
        if self.event not in _EVENTS:
            raise ResourceError(
                f"snapshot event must be 'acquire' or 'release', got {self.event!r}"
            )


class ResourceTimeline:
    """A thread-safe, chronological record of :class:`ResourceSnapshot` objects.

    A pool passes its capacities in, so utilisation is ``allocated / capacity``. For a
    resource the timeline has no capacity for (a standalone timeline, or a hand-recorded
    snapshot naming another resource), the capacity is taken from the snapshot itself as
    ``allocated + available``.

    The owning pool does not build snapshots while it runs: it appends three flat items
    per change (``time, node, change``, see :func:`_change`) to ``_raw``, one atomic
    ``list.extend``, without this lock. Whenever the timeline is read (or ``record`` /
    ``clear`` is called) the raw changes are replayed, oldest first, into
    :class:`ResourceSnapshot` objects with the pool's own arithmetic (the same
    comparisons and snapping), starting from ``_replayed``, the allocation after the last
    replayed change. Flat items hold no new container per change, so a run of many nodes
    leaves no garbage-collector work behind.
    """

    __slots__ = ("_capacities", "_lock", "_raw", "_replayed", "_snapshots", "_stamp", "_tols")

    def __init__(self, capacities: Mapping[str, float] | None = None):
        self._capacities = dict(capacities or {})
        self._tols = {name: _tol(cap) for name, cap in self._capacities.items()}
        self._lock = threading.Lock()
        self._snapshots: list[ResourceSnapshot] = []
        self._raw: list[Any] = []
        self._replayed: dict[str, float] = dict.fromkeys(self._capacities, 0)
        self._stamp = -math.inf  # the last replayed change's time

    def _replay(self, build: bool = True) -> None:
        """Turn the raw changes into snapshots (call with the lock held); ``build=False``
        only advances the replayed allocation (for ``clear``)."""
        raw = self._raw
        k = len(raw)
        if not k:
            return
        k -= k % 3  # whole changes only (each is one atomic extend, so this is k)
        chunk = raw[:k]
        del raw[:k]  # appends made meanwhile are after k: kept for the next replay
        caps, tols, allocated = self._capacities, self._tols, self._replayed
        out = self._snapshots.append
        last = self._stamp
        it = iter(chunk)
        for stamp, node, (acquired, items) in zip(it, it, it, strict=True):
            # A give reads the clock just before it appends, outside the pool lock: if a
            # take slipped in between, its change comes first with a later time. Times
            # never decrease in the timeline (the give's is raised to the take's).
            if stamp < last:
                stamp = last
            last = stamp
            for name, amount in items:
                if acquired:
                    taken = allocated[name] + amount
                    allocated[name] = caps[name] if taken >= caps[name] - tols[name] else taken
                else:
                    left = allocated[name] - amount
                    allocated[name] = 0 if left <= tols[name] else left
            if build:
                available = {n: caps[n] - a for n, a in allocated.items()}
                event = "acquire" if acquired else "release"
                out(ResourceSnapshot(stamp, dict(allocated), available, node, event))
        self._stamp = last

    def record(self, snapshot: ResourceSnapshot) -> None:
        """Append ``snapshot`` (after every change the pool has made so far)."""
        if not isinstance(snapshot, ResourceSnapshot):
            raise ResourceError(
                f"a timeline records ResourceSnapshot objects, got {type(snapshot).__name__}"
            )
        with self._lock:
            self._replay()
            self._snapshots.append(snapshot)

    @property
    def snapshots(self) -> list[ResourceSnapshot]:
        """A copy of all recorded snapshots, oldest first."""
        with self._lock:
            self._replay()
            return list(self._snapshots)

    def clear(self) -> None:
        """Forget every recorded snapshot."""
        with self._lock:
            self._replay(build=False)  # keeps the replayed allocation current
            self._snapshots.clear()

    def peak_utilization(self) -> dict[str, float]:
        """Peak ``allocated / capacity`` of each resource over the whole timeline.

        Every resource of the pool appears; one never allocated (or with capacity 0)
        reports ``0.0``. With snapshots recorded by a pool the values lie in 0.0-1.0.
        """
        peak = dict.fromkeys(self._capacities, 0.0)
        for snap in self.snapshots:
            for name, amount in snap.allocated.items():
                capacity = self._capacities.get(name)
                if capacity is None:
                    capacity = amount + snap.available.get(name, 0)
                fraction = amount / capacity if capacity > 0 else 0.0
                peak[name] = max(peak.get(name, 0.0), fraction)
        return peak

    def __len__(self) -> int:
        with self._lock:
            return len(self._snapshots) + len(self._raw) // 3

    def __repr__(self) -> str:
        return f"ResourceTimeline({len(self)} snapshots)"


def _change(acquired: bool, req: ResourceRequirements) -> tuple:
    """A timeline's raw change: ``(acquired?, ((name, amount), ...))``."""
    return (acquired, tuple(req._resources.items()))


class ResourcePool:
    """A thread-safe pool of named resources with fixed capacities.

    ``try_acquire`` never blocks; ``acquire`` waits (optionally with a timeout) until a
    ``release`` makes room. Blocking waiters are woken together and are not served in
    FIFO order: fairness between nodes is the engine's job, not the pool's.

    ``record_timeline=False`` skips recording the timeline (for hot benchmarks); it then
    stays empty.

    The engine's hot path (:meth:`_vector`) gives resources back without the lock: its
    ``give`` records the release in the timeline, then queues a closure applying it on
    ``_returns`` (a deque; append and popleft are atomic), and whoever next holds the
    lock to read or change the allocation applies the queued returns first, oldest
    first, with ``release``'s arithmetic. So every view (``allocated``, ``available``,
    ``try_acquire`` ...) sees every give that completed before it; a give racing a take
    at most makes that take see the resources still held (never more than is free).
    A give wakes blocked ``acquire`` calls when there are any: the waiter counts itself
    before it applies the queue, so a give either is applied by it or sees it waiting.
    """

    __slots__ = (
        "_allocated",
        "_capacities",
        "_cond",
        "_limits",
        "_lock",
        "_log",
        "_returns",
        "_timeline",
        "_tols",
        "_waiters",
    )

    def __init__(self, capacities: Mapping[str, float], *, record_timeline: bool = True):
        self._capacities = _amounts(capacities, "capacities", "capacity")
        self._tols = {name: _tol(cap) for name, cap in self._capacities.items()}
        # For the engine's hot path: (cap + tol, cap - tol, cap) per resource.
        self._limits = {
            name: (cap + self._tols[name], cap - self._tols[name], cap)
            for name, cap in self._capacities.items()
        }
        self._allocated: dict[str, float] = dict.fromkeys(self._capacities, 0)
        # The hot path takes the lock itself (acquire/release); waiters use the condition
        # built on the same lock.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._timeline = ResourceTimeline(self._capacities)
        # Where changes are recorded: the timeline's raw list (three items per change,
        # one atomic extend), or None without a timeline.
        self._log = self._timeline._raw.extend if record_timeline else None
        # Gives of the hot path not applied yet: one closure each, applying that give.
        self._returns: deque[Callable[[], None]] = deque()
        self._waiters = 0  # threads blocked in acquire(); read by tests and repr

    # --- views -------------------------------------------------------------------------

    @property
    def capacities(self) -> dict[str, float]:
        """Total capacity of each resource (a copy)."""
        return dict(self._capacities)

    @property
    def allocated(self) -> dict[str, float]:
        """Currently allocated amount of each resource (a copy)."""
        with self._cond:
            if self._returns:
                self._apply_returns_locked()
            return dict(self._allocated)

    @property
    def available(self) -> dict[str, float]:
        """Currently unallocated amount of each resource (a copy)."""
        with self._cond:
            return self._available_locked()

    @property
    def timeline(self) -> ResourceTimeline:
        """The timeline of acquire/release snapshots (the live object, not a copy)."""
        return self._timeline

    # --- checks ------------------------------------------------------------------------

    def can_satisfy(self, requirements: ResourceRequirements | Mapping[str, float] | None) -> bool:
        """True if the *total* capacity covers ``requirements`` (current allocation ignored).

        A requirement naming a resource the pool does not have is never satisfiable.
        """
        req = ResourceRequirements.coerce(requirements)
        known = all(name in self._capacities for name in req._resources)
        return known and req.fits(self._capacities)

    def check(
        self,
        requirements: ResourceRequirements | Mapping[str, float] | None,
        node: str | None = None,
    ) -> None:
        """Raise :class:`ResourceError` if ``requirements`` can never be satisfied.

        The message names the node, and each offending resource with the amount asked
        and the pool's capacity (or the pool's resources, when it has no such resource).
        """
        req = ResourceRequirements.coerce(requirements)
        if self.can_satisfy(req):
            return
        problems = []
        for name, need in req._resources.items():
            if name not in self._capacities:
                known = ", ".join(repr(n) for n in self._capacities) or "none"
                problems.append(
                    f"{name}={_fmt(need)} but the pool has no resource {name!r} (pool "
                    f"resources: {known}; add {name!r} to the pool's capacities or drop it "
                    "from the requirement)"
                )
            elif need > self._capacities[name] + _tol(self._capacities[name]):
                problems.append(
                    f"{name}={_fmt(need)} but the pool's total capacity is "
                    f"{name}={_fmt(self._capacities[name])} (lower the requirement or raise "
                    "the capacity)"
                )
        who = f"node {node!r}" if node is not None else "the requirement"
        raise ResourceError(f"{who} can never be scheduled: it needs {'; and '.join(problems)}")

    # --- acquire / release -------------------------------------------------------------

    def try_acquire(
        self,
        requirements: ResourceRequirements | Mapping[str, float] | None,
        node_name: str | None = None,
    ) -> bool:
        """Acquire ``requirements`` if they are available now; never blocks.

        Returns False when the resources are not free at the moment, including when the
        pool could never satisfy them (use :meth:`check` to tell the two apart).
        """
        req = ResourceRequirements.coerce(requirements)
        with self._cond:
            if not self._fits_locked(req):
                return False
            self._take_locked(req, node_name)
            return True

    def acquire(
        self,
        requirements: ResourceRequirements | Mapping[str, float] | None,
        timeout: float | None = None,
        node_name: str | None = None,
    ) -> bool:
        """Acquire ``requirements``, waiting until a release makes room.

        Returns True on success and False when ``timeout`` seconds pass first (``None``
        waits indefinitely). Raises :class:`ResourceError` at once if the pool could
        never satisfy the request, rather than waiting forever.
        """
        req = ResourceRequirements.coerce(requirements)
        self.check(req, node_name)
        with self._cond:
            if not self._fits_locked(req):
                self._waiters += 1
                try:
                    if not self._cond.wait_for(lambda: self._fits_locked(req), timeout):
                        return False
                finally:
                    self._waiters -= 1
            self._take_locked(req, node_name)
            return True

    def release(
        self,
        requirements: ResourceRequirements | Mapping[str, float] | None,
        node_name: str | None = None,
    ) -> None:
        """Return ``requirements`` to the pool and wake blocked ``acquire`` calls.

        Raises :class:`ResourceError` (changing nothing) if any amount is more than is
        allocated, or names a resource the pool does not have.
        """
        req = ResourceRequirements.coerce(requirements)
        with self._cond:
            if self._returns:
                self._apply_returns_locked()
            for name, amount in req._resources.items():
                if name not in self._capacities:
                    known = ", ".join(repr(n) for n in self._capacities) or "none"
                    raise ResourceError(
                        f"cannot release {name}={_fmt(amount)}{_by(node_name)}: the pool has no "
                        f"resource {name!r} (pool resources: {known})"
                    )
                held, cap = self._allocated[name], self._capacities[name]
                if amount > held + self._tols[name]:
                    raise ResourceError(
                        f"cannot release {name}={_fmt(amount)}{_by(node_name)}: only "
                        f"{name}={_fmt(held)} is allocated (capacity {_fmt(cap)}); "
                        "release only what was acquired"
                    )
            for name, amount in req._resources.items():
                left = self._allocated[name] - amount
                self._allocated[name] = 0 if left <= self._tols[name] else left
            if self._log is not None:
                self._log((_now(), node_name, _change(False, req)))
            if self._waiters:
                self._cond.notify_all()

    # --- the engine's hot path ------------------------------------------------------------

    def _vector(self, req: ResourceRequirements) -> tuple | None:
        """``req`` against this pool, once per (requirement, pool): ``(take, give)``, two
        closures built for exactly the resources ``req`` names, or None when it names
        a resource the pool does not have (it can never fit). ``take(req, node)`` is
        ``_take_if_fits`` and ``give(req, node)`` is ``_give_back`` for any requirement
        equal to ``req``; the result is cached on ``req`` as ``(pool, result)``."""
        c = req._vec
        if c is not None and c[0] is self:
            return c[1]
        fns = self._compile(req)
        req._vec = (self, fns)
        return fns

    def _compile(self, req: ResourceRequirements) -> tuple | None:
        # Plain closures over precomputed constants, no code generation: one, two or
        # three resources get specialised closures (_ops1/_ops2/_ops3), more share a
        # loop over a tuple (_opsn).
        limits, tols = self._limits, self._tols
        items = []
        for name, need in req._resources.items():
            lim = limits.get(name)
            if lim is None:
                return None
            # (name, amount, cap + tol, cap - tol, cap, tol)
            items.append((name, need, lim[0], lim[1], lim[2], tols[name]))
        make = _OPS[len(items)] if len(items) < len(_OPS) else _opsn
        return make(self, _change(True, req), _change(False, req), *items)

    def _take_if_fits(self, req: ResourceRequirements, node_name: str | None) -> bool:
        """``try_acquire`` for the engine: ``req`` is already a validated record."""
        c = req._vec
        fns = c[1] if c is not None and c[0] is self else self._vector(req)
        return False if fns is None else fns[0](req, node_name)

    def _give_back(self, req: ResourceRequirements, node_name: str | None) -> None:
        """``release`` for the engine, which only gives back what ``_take_if_fits`` took."""
        c = req._vec
        fns = c[1] if c is not None and c[0] is self else self._vector(req)
        fns[1](req, node_name)  # type: ignore[index]

    # --- internals (call with the pool lock held) -----------------------------------------

    def _apply_returns_locked(self) -> None:
        """Apply the hot path's queued gives, oldest first (``release``'s arithmetic)."""
        returns = self._returns
        pop = returns.popleft
        while returns:
            pop()()

    def _available_locked(self) -> dict[str, float]:
        if self._returns:
            self._apply_returns_locked()
        return {name: cap - self._allocated[name] for name, cap in self._capacities.items()}

    def _fits_locked(self, req: ResourceRequirements) -> bool:
        if self._returns:
            self._apply_returns_locked()
        caps, allocated = self._capacities, self._allocated
        for name, need in req._resources.items():
            if name not in caps:
                return False
            free = caps[name] - allocated[name]
            if need > free + self._tols[name]:
                return False
        return True

    def _take_locked(self, req: ResourceRequirements, node_name: str | None) -> None:
        # Right after _fits_locked (which applied the queued returns).
        for name, amount in req._resources.items():
            cap = self._capacities[name]
            taken = self._allocated[name] + amount
            # Within tolerance of full is full: keeps allocated <= capacity exactly.
            self._allocated[name] = cap if taken >= cap - self._tols[name] else taken
        if self._log is not None:
            self._log((_now(), node_name, _change(True, req)))

    def __repr__(self) -> str:
        with self._cond:
            if self._returns:
                self._apply_returns_locked()
            return (
                f"ResourcePool(capacities={self._capacities!r}, "
                f"allocated={self._allocated!r}, waiting={self._waiters})"
            )


# The engine's take/give pairs (ResourcePool._compile): closures over one requirement's
# constants, each r a (name, amount, cap + tol, cap - tol, cap, tol).
# - take applies the queued returns, then is _fits_locked and _take_locked: the same
#   comparisons in the same order, the same snapping to exactly the capacity.
# - give records the release, then queues ``back`` (release's update, snapping to
#   exactly 0) for the next holder of the lock, without taking it (see ResourcePool).
# Both record the timeline's raw change (log is None when the pool records no timeline).
# The lock is taken with acquire/release around try/finally: cheaper than ``with``.


def _give(pool: ResourcePool, rel: tuple, back: Any) -> Any:
    log, put, cond, now = pool._log, pool._returns.append, pool._cond, _now

    def give(req: ResourceRequirements, node_name: str | None) -> None:
        if log is not None:
            log((now(), node_name, rel))  # before queueing: acquires using it come after
        put(back)
        if pool._waiters:
            with cond:
                cond.notify_all()

    return give


def _ops1(pool: ResourcePool, acq: tuple, rel: tuple, r0: tuple) -> tuple:
    n0, q0, hi0, lo0, cap0, tol0 = r0
    lock, alloc, returns, log, now = pool._lock, pool._allocated, pool._returns, pool._log, _now
    acquire, release, pop = lock.acquire, lock.release, returns.popleft

    def take(req: ResourceRequirements, node_name: str | None) -> bool:
        acquire()
        try:
            while returns:
                pop()()
            a0 = alloc[n0]
            if q0 > hi0 - a0:
                return False
            t0 = a0 + q0
            alloc[n0] = cap0 if t0 >= lo0 else t0
            if log is not None:
                log((now(), node_name, acq))
            return True
        finally:
            release()

    def back() -> None:
        t0 = alloc[n0] - q0
        alloc[n0] = 0 if t0 <= tol0 else t0

    return take, _give(pool, rel, back)


def _ops2(pool: ResourcePool, acq: tuple, rel: tuple, r0: tuple, r1: tuple) -> tuple:
    n0, q0, hi0, lo0, cap0, tol0 = r0
    n1, q1, hi1, lo1, cap1, tol1 = r1
    lock, alloc, returns, log, now = pool._lock, pool._allocated, pool._returns, pool._log, _now
    acquire, release, pop = lock.acquire, lock.release, returns.popleft

    def take(req: ResourceRequirements, node_name: str | None) -> bool:
        acquire()
        try:
            while returns:
                pop()()
            a0 = alloc[n0]
            if q0 > hi0 - a0:
                return False
            a1 = alloc[n1]
            if q1 > hi1 - a1:
                return False
            t0 = a0 + q0
            alloc[n0] = cap0 if t0 >= lo0 else t0
            t1 = a1 + q1
            alloc[n1] = cap1 if t1 >= lo1 else t1
            if log is not None:
                log((now(), node_name, acq))
            return True
        finally:
            release()

    def back() -> None:
        t0 = alloc[n0] - q0
        alloc[n0] = 0 if t0 <= tol0 else t0
        t1 = alloc[n1] - q1
        alloc[n1] = 0 if t1 <= tol1 else t1

    return take, _give(pool, rel, back)


def _ops3(pool: ResourcePool, acq: tuple, rel: tuple, r0: tuple, r1: tuple, r2: tuple) -> tuple:
    n0, q0, hi0, lo0, cap0, tol0 = r0
    n1, q1, hi1, lo1, cap1, tol1 = r1
    n2, q2, hi2, lo2, cap2, tol2 = r2
    lock, alloc, returns, log, now = pool._lock, pool._allocated, pool._returns, pool._log, _now
    acquire, release, pop = lock.acquire, lock.release, returns.popleft

    def take(req: ResourceRequirements, node_name: str | None) -> bool:
        acquire()
        try:
            while returns:
                pop()()
            a0 = alloc[n0]
            if q0 > hi0 - a0:
                return False
            a1 = alloc[n1]
            if q1 > hi1 - a1:
                return False
            a2 = alloc[n2]
            if q2 > hi2 - a2:
                return False
            t0 = a0 + q0
            alloc[n0] = cap0 if t0 >= lo0 else t0
            t1 = a1 + q1
            alloc[n1] = cap1 if t1 >= lo1 else t1
            t2 = a2 + q2
            alloc[n2] = cap2 if t2 >= lo2 else t2
            if log is not None:
                log((now(), node_name, acq))
            return True
        finally:
            release()

    def back() -> None:
        t0 = alloc[n0] - q0
        alloc[n0] = 0 if t0 <= tol0 else t0
        t1 = alloc[n1] - q1
        alloc[n1] = 0 if t1 <= tol1 else t1
        t2 = alloc[n2] - q2
        alloc[n2] = 0 if t2 <= tol2 else t2

    return take, _give(pool, rel, back)


def _opsn(pool: ResourcePool, acq: tuple, rel: tuple, *items: tuple) -> tuple:
    lock, alloc, returns, log, now = pool._lock, pool._allocated, pool._returns, pool._log, _now
    acquire, release, pop = lock.acquire, lock.release, returns.popleft

    def take(req: ResourceRequirements, node_name: str | None) -> bool:
        acquire()
        try:
            while returns:
                pop()()
            for n, q, hi, _lo, _cap, _tol in items:
                if q > hi - alloc[n]:
                    return False
            for n, q, _hi, lo, cap, _tol in items:
                t = alloc[n] + q
                alloc[n] = cap if t >= lo else t
            if log is not None:
                log((now(), node_name, acq))
            return True
        finally:
            release()

    def back() -> None:
        for n, q, _hi, _lo, _cap, tol in items:
            t = alloc[n] - q
            alloc[n] = 0 if t <= tol else t

    return take, _give(pool, rel, back)


_OPS = (_opsn, _ops1, _ops2, _ops3)


def _by(node_name: str | None) -> str:
    return f" for node {node_name!r}" if node_name is not None else ""
