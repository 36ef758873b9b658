"""Priority classes: one queue per class, served by smooth weighted round robin.

With weights gold 3, silver 2, bronze 1, six consecutive picks under load are
gold, silver, gold, bronze, gold, silver — gold is served most, and bronze is never
starved: every class with work gets a pick at least once per ``sum(weights)`` picks.
Empty classes are skipped without losing their turn to anyone else's advantage.

Each class holds at most ``max_queued`` runs: ``put`` raises :class:`QueueFull` beyond
that (the HTTP layer answers 429 with ``Retry-After``), except for runs resumed after a
restart (``force=True``), which were accepted already and must not be lost.

Concurrency hazards: ``RunQueues`` is shared by request handlers (``put``) and
dispatcher threads (``get``); one condition variable guards the queues and weights.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from dagforge.errors import RegistryError

CLASSES = ("gold", "silver", "bronze")
DEFAULT_WEIGHTS = {"gold": 3, "silver": 2, "bronze": 1}
MAX_WEIGHT = 1000


class QueueFull(RegistryError):
    """A priority class already holds ``max_queued`` runs."""

    def __init__(self, priority: str, limit: int):
        super().__init__(
            f"the {priority!r} queue is full ({limit} runs waiting; --max-queued); retry later"
        )
        self.priority = priority
        self.limit = limit


class WeightedRoundRobin:
    """nginx-style smooth weighted round robin over the classes that have work."""

    def __init__(self, weights: dict[str, int] | None = None):
        self.weights = dict(DEFAULT_WEIGHTS)
        if weights:
            self.set_weights(weights)
        self._current = dict.fromkeys(self.weights, 0)

    def set_weights(self, weights: dict[str, int]) -> None:
        unknown = set(weights) - set(CLASSES)
        if unknown:
            raise RegistryError(f"unknown priority class(es) {sorted(unknown)}; use {CLASSES}")
        bad = {
            k: v
            for k, v in weights.items()
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_WEIGHT
        }
        if bad:
            raise RegistryError(f"weights must be integers from 1 to {MAX_WEIGHT}, got {bad}")
        self.weights.update(weights)

    def pick(self, ready: list[str]) -> str | None:
        """The class to serve next among ``ready`` (classes with queued runs)."""
        if not ready:
            return None
        total = 0
        best: str | None = None
        for cls in ready:
            w = self.weights[cls]
            self._current[cls] = self._current.get(cls, 0) + w
            total += w
            if best is None or self._current[cls] > self._current[best]:
                best = cls
        assert best is not None  # ``ready`` is not empty, so the loop chose one
        self._current[best] -= total
        return best


class RunQueues:
    """Queued run ids per priority class, taken by WRR."""

    def __init__(self, weights: dict[str, int] | None = None, max_queued: int | None = None):
        if max_queued is not None and (isinstance(max_queued, bool) or max_queued < 1):
            raise RegistryError(f"--max-queued must be a positive integer, got {max_queued!r}")
        self.max_queued = max_queued
        self._queues: dict[str, deque[Any]] = {c: deque() for c in CLASSES}
        self._wrr = WeightedRoundRobin(weights)
        self._cond = threading.Condition()
        self._closed = False

    @property
    def weights(self) -> dict[str, int]:
        with self._cond:
            return dict(self._wrr.weights)

    def set_weights(self, weights: dict[str, int]) -> None:
        with self._cond:
            self._wrr.set_weights(weights)

    def put(self, priority: str, item: Any, force: bool = False) -> None:
        """Queue ``item``; ``QueueFull`` when its class is at ``max_queued`` (unless forced)."""
        if priority not in self._queues:
            raise RegistryError(f"unknown priority class {priority!r}; use {CLASSES}")
        with self._cond:
            queue = self._queues[priority]
            if not force and self.max_queued is not None and len(queue) >= self.max_queued:
                raise QueueFull(priority, self.max_queued)
            queue.append(item)
            self._cond.notify()

    def discard(self, priority: str, item: Any) -> bool:
        """Take ``item`` out of its queue (a cancelled run); False if it was not there."""
        with self._cond:
            try:
                self._queues[priority].remove(item)
            except (KeyError, ValueError):
                return False
            return True

    def get(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """Block until a run is queued (or ``timeout``/close); return (class, item)."""
        with self._cond:
            while not self._closed:
                ready = [c for c in CLASSES if self._queues[c]]
                if ready:
                    cls = self._wrr.pick(ready)
                    assert cls is not None  # pick returns None only for an empty list
                    return cls, self._queues[cls].popleft()
                if not self._cond.wait(timeout):
                    return None
            return None

    def sizes(self) -> dict[str, int]:
        with self._cond:
            return {c: len(q) for c, q in self._queues.items()}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
