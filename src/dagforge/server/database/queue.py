"""Run queues shared by several gateways: the journal *is* the queue, taken by leases.

:class:`LeasedQueues` has the interface of ``dispatch.RunQueues`` (``put``, ``get``,
``sizes``, ``discard``, ``close``, ``weights``), so the platform's dispatcher threads do
not know which one they use. ``get`` claims a run from the database:

- it counts the claimable runs per priority class (over *all* replicas), lets this
  replica's smooth weighted round robin pick a class among those with work, and claims
  the oldest run of that class (``SqlDatabase.claim``: ``FOR UPDATE SKIP LOCKED``).
  Every replica serves the classes in the same gold:silver:bronze proportions, so the
  proportions hold for the cluster as a whole; each replica's own ``--weights`` apply
  to its picks (give every replica the same weights).
- a claimed run is leased for ``lease`` seconds; a background thread renews the leases
  of the runs this replica holds every ``lease / 3`` seconds. A replica that dies stops
  renewing; when its leases expire the runs are claimable again and another replica
  resumes them from the journal (completed nodes are restored, not re-run).
- ``put`` only wakes a local dispatcher (the run is in the journal already); a ``put``
  of a run this replica holds gives the run back (the platform re-queues a run after a
  storage fault that way).
- ``get`` answers ``(class, run_id, fence)``: the fence is the claim number this
  replica got (the run's ``claims`` after its claim). The dispatcher passes it to the
  journal's writes for the run, which refuse (``LeaseLost``) once another replica has
  claimed the run since. The keeper notices that too: a held run its renewal no longer
  extends that is under a newer claim was taken over, and its local cancel event is
  set at once, so the dispatcher stops it (``dispatch.RunQueues`` answers
  ``(class, run_id)``: one server, no leases, no fence).

The same background thread resolves local waiters of runs another replica finished and
passes on cancellations made through another replica (see :meth:`attach`).

Concurrency hazards: ``put``/``get``/``sizes`` are called by request handlers and
dispatcher threads; ``_cond`` guards the WRR state, ``_held`` and ``_closed``. No lock
is held during a database call except the WRR pick (which makes none).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from dagforge.errors import RegistryError
from dagforge.server.database.journal import SqlDatabase
from dagforge.server.dispatch import CLASSES, WeightedRoundRobin

log = logging.getLogger("dagforge.server")

DEFAULT_LEASE = 15.0


def lease_seconds() -> float:
    """The lease length: ``DAGFORGE_LEASE_SECONDS`` or 15 s (renewed every third of it)."""
    raw = os.environ.get("DAGFORGE_LEASE_SECONDS")
    if raw is None:
        return DEFAULT_LEASE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 3600:
        raise RegistryError(f"DAGFORGE_LEASE_SECONDS must be 0.5..3600 seconds, got {raw!r}")
    return value


class LeasedQueues:
    """Queued runs in the database, claimed with leases (see the module docstring)."""

    def __init__(
        self,
        db: SqlDatabase,
        weights: dict[str, int] | None = None,
        max_queued: int | None = None,
        *,
        lease: float | None = None,
        poll: float = 0.1,
        owner: str | None = None,
    ):
        if max_queued is not None and (isinstance(max_queued, bool) or max_queued < 1):
            raise RegistryError(f"--max-queued must be a positive integer, got {max_queued!r}")
        self.db = db
        self.max_queued = max_queued
        self.lease = lease_seconds() if lease is None else lease
        self.poll = poll
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wrr = WeightedRoundRobin(weights)
        self._cond = threading.Condition()
        self._held: dict[str, int] = {}  # run id -> the fence this replica claimed it with
        self._sizes: tuple[float, dict[str, int]] | None = None
        self._ready: tuple[float, set[str]] | None = None  # classes with claimable runs
        self._closed = False
        self._waiting: Callable[[], list[str]] = list
        self._running: Callable[[], dict[str, threading.Event]] = dict
        self._finished: Callable[[str], None] = lambda _run_id: None
        self._keeper = threading.Thread(target=self._keep, name="dagforge-leases", daemon=True)
        self._keeper.start()

    def attach(
        self,
        waiting: Callable[[], list[str]],
        finished: Callable[[str], None],
        running: Callable[[], dict[str, threading.Event]] | None = None,
    ) -> None:
        """Let the keeper thread wake local waiters of runs finished elsewhere
        (``waiting()`` lists their run ids, ``finished(run_id)`` wakes them) and set the
        cancel events (``running()``) of local runs cancelled through another replica."""
        self._waiting = waiting
        self._finished = finished
        if running is not None:
            self._running = running

    # -- the RunQueues interface ---------------------------------------------------------------

    @property
    def weights(self) -> dict[str, int]:
        with self._cond:
            return dict(self._wrr.weights)

    def set_weights(self, weights: dict[str, int]) -> None:
        with self._cond:
            self._wrr.set_weights(weights)

    def put(self, priority: str, item: Any, force: bool = False) -> None:
        """Wake a dispatcher for a journaled run; give the run back if this replica holds it."""
        if priority not in CLASSES:
            raise RegistryError(f"unknown priority class {priority!r}; use {CLASSES}")
        with self._cond:
            held = item in self._held
            self._held.pop(item, None)
            if self._ready is not None:
                self._ready[1].add(priority)
        if held:
            self.db.release_lease(self.owner, item)
        with self._cond:
            self._cond.notify()

    def discard(self, priority: str, item: Any) -> bool:
        """A cancelled run: its journal status keeps every replica from claiming it."""
        return False

    def get(self, timeout: float | None = None) -> tuple[str, Any, int] | None:
        """Claim a run (blocking up to ``timeout``); ``(class, run_id, fence)`` or None."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                if self._closed:
                    return None
            try:
                claimed = self._try_claim()
            except Exception as exc:  # the database is unreachable: keep the dispatcher alive
                log.warning("cannot claim runs: %s", exc)
                claimed = None
            if claimed is not None:
                return claimed
            with self._cond:
                if self._closed:
                    return None
                wait = self.poll
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    wait = min(wait, left)
                self._cond.wait(wait)

    def _try_claim(self) -> tuple[str, str, int] | None:
        """Claim from the class WRR picks among those with claimable runs.

        Which classes have work is counted in the database at most every ``poll``
        seconds (and after every miss); a local ``put`` adds its class at once. So a
        busy replica spends one statement per claim, not two.
        """
        import time

        for _ in range(len(CLASSES) * 2):  # bounded: each miss means another replica won
            with self._cond:
                ready = self._ready
            if ready is None or time.monotonic() - ready[0] >= self.poll:
                counts = self.db.claimable_counts()
                ready = (time.monotonic(), {c for c in CLASSES if counts.get(c)})
                with self._cond:
                    self._ready = ready
            with self._cond:
                classes = [c for c in CLASSES if c in ready[1]]
                if not classes:
                    return None
                cls = self._wrr.pick(classes)
            if cls is None:
                return None
            claimed = self.db.claim_fenced(self.owner, cls, self.lease)
            if claimed is not None:
                run_id, fence = claimed
                with self._cond:
                    self._held[run_id] = fence
                return cls, run_id, fence
            with self._cond:  # that class is empty (or taken by others): count again
                self._ready = None
        return None

    def sizes(self) -> dict[str, int]:
        """Runs waiting to start in each class, over every replica (at most ``poll``
        seconds old: every accept asks, for the ``--max-queued`` check)."""
        import time

        now = time.monotonic()
        with self._cond:
            cached = self._sizes
            if cached is not None and now - cached[0] < self.poll:
                return dict(cached[1])
        counts = self.db.queued_counts()
        sizes = {c: counts.get(c, 0) for c in CLASSES}
        with self._cond:
            self._sizes = (now, sizes)
        return dict(sizes)

    def close(self) -> None:
        """Stop claiming and renewing: runs still held are resumed elsewhere after their
        leases expire (never handed over while a local thread may still run them)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._keeper.join(timeout=5)

    def held(self) -> list[str]:
        with self._cond:
            return sorted(self._held)

    # -- the keeper thread ---------------------------------------------------------------------

    def _keep(self) -> None:
        import time

        renew_every = self.lease / 3
        next_renew = time.monotonic() + renew_every
        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(self.poll)
                if self._closed:
                    return
            try:
                if time.monotonic() >= next_renew:
                    self._renew()
                    next_renew = time.monotonic() + renew_every
                self._watch()
            except Exception as exc:  # a database hiccup: the next round tries again
                log.warning("lease keeper: %s", exc)

    def _renew(self) -> None:
        with self._cond:
            held = dict(self._held)
        if not held:
            return
        renewed: set[str] = set(self.db.renew_leases(self.owner, self.lease, list(held)))
        gone = sorted(set(held) - renewed)
        if not gone:
            return
        with self._cond:  # finished, cancelled or taken over: this replica holds it no more
            for run_id in gone:
                if self._held.get(run_id) == held[run_id]:
                    del self._held[run_id]
        self._lost(gone, held)

    def _lost(self, gone: list[str], held: dict[str, int]) -> None:
        """Stop the local runs among ``gone`` that another replica has taken over
        (claimed again since: it may even have finished them already): their cancel
        events are set, so their dispatchers start nothing more; the journal refuses
        their writes anyway (``LeaseLost``)."""
        now = self.db.fences(gone)
        running = dict(self._running())
        for run_id in gone:
            _status, claims = now.get(run_id, (None, None))
            if claims is None or claims == held[run_id]:
                continue  # ended under this replica's claim (finished, cancelled) or gone
            log.warning(
                "run %s: lease lost (this replica claimed it as claim %s, another replica "
                "holds claim %s); stopping it here",
                run_id,
                held[run_id],
                claims,
            )
            event = running.get(run_id)
            if event is not None:
                event.set()

    def _watch(self) -> None:
        waiting = list(self._waiting())
        running = dict(self._running())
        ids = sorted(set(waiting) | set(running))
        if not ids:
            return
        statuses = self.db.statuses(ids)
        for run_id in waiting:
            status = statuses.get(run_id)
            if status is not None and status not in ("queued", "running"):
                self._finished(run_id)
        for run_id, event in running.items():
            if statuses.get(run_id) == "cancelled" and not event.is_set():
                event.set()
