"""Timers: a node's retry delay and its timeout, on the run's clock.

A timer is a :class:`Timer` record on the run's ``timers`` heap (earliest first). It
belongs to one attempt of one node: when it fires for an attempt that is no longer the
node's current one (the node finished, was retried or cancelled meanwhile) it is
ignored. Arming reads the injected clock (``Run(clock=)``); nothing here sleeps — the
driver passes :meth:`Timers._wait_timeout` to the backend's ``wait``. A due timeout
decides ``Abandon`` (the driver abandons the job) and fails the attempt
(``_timed_out``); on a synchronous backend, which cannot be interrupted, an attempt that
returns past its timeout is failed the same way when it returns (``_late``). Both end
in the core's ``_failed`` (retry or fail).
"""

from __future__ import annotations

import heapq
import random
from typing import Any, NamedTuple

from dagforge.errors import NodeTimeoutError
from dagforge.execution import states as S
from dagforge.execution.decisions import Abandon
from dagforge.execution.state import RunState

RETRY, TIMEOUT = 0, 1  # Timer.kind


class Timer(NamedTuple):
    """Arm this timer: at ``at`` (run clock), ``kind`` fires for ``(idx, attempt)``."""

    at: float
    kind: int  #: RETRY (start the node again) or TIMEOUT (give up on the attempt)
    idx: int
    attempt: int


def retry_delay(o: Any, attempt: int) -> float:
    """Seconds before retrying after failed attempt ``attempt``: backoff, then jitter."""
    delay = o.retry_delay * (o.retry_backoff ** (attempt - 1))
    if o.retry_jitter and delay:
        delay *= 1.0 + random.uniform(-o.retry_jitter, o.retry_jitter)
    return float(delay)


class Timers(RunState):
    """Arm, fire and drop the run's timers; time a node out."""

    def _arm(self, kind: int, i: int, attempt: int, delay: float) -> None:
        """Arm a ``kind`` timer for attempt ``attempt`` of node ``i``, ``delay`` from now."""
        heapq.heappush(self.timers, Timer(self.clock() + delay, kind, i, attempt))

    def _fire_timers(self) -> None:
        """Fire every due timer: a due retry pushes its node, a due timeout times it out."""
        now = self.clock()
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, kind, i, attempt = heapq.heappop(timers)
            if attempt != self.attempt[i]:
                continue
            if kind == RETRY:
                if self.status[i] == S.RETRY_WAIT:
                    self.retry_errors.pop(i, None)
                    self._push(i)
            elif self.status[i] == S.RUNNING:
                self._timed_out(i, attempt, now)

    def _retry_pending(self) -> bool:
        """With nothing running: does a node still wait for its retry? Every timeout
        timer is then stale (its node already finished), so all are dropped if not."""
        status = self.status
        if any(k == RETRY and status[i] == S.RETRY_WAIT for _, k, i, _ in self.timers):
            return True
        self.timers.clear()
        return False

    def _drop_retries(self) -> None:
        """The run stops: no retry will start (timeouts stay, for what still runs)."""
        self.timers = [t for t in self.timers if t.kind == TIMEOUT]
        heapq.heapify(self.timers)

    def _wait_timeout(self) -> float | None:
        """How long the driver may wait for events: until the next timer, or forever."""
        if self.timers:
            return max(0.0, self.timers[0][0] - self.clock())
        if not self.in_flight:
            return 0.005  # parked on a pool someone else holds: poll it
        return None

    def _late(self, i: int, attempt: int, t_start: float, t_end: float) -> None:
        """A synchronous node that ran past its timeout: timed out, its result discarded.

        Nothing can interrupt the caller's own thread, so the timeout is applied when the
        node returns: the outcome (status, error, retries) is the one the other backends
        give, only later.
        """
        o = self.opts[i]
        err = NodeTimeoutError(
            f"node {self.names[i]!r} ran {t_end - t_start:.3g}s, longer than its timeout of "
            f"{o.timeout}s (attempt {attempt}); on the {self.backend.name} backend a node "
            "cannot be interrupted, so it ran to its end and its result was discarded"
        )
        self.in_flight -= 1
        if o.exclusive:
            self.exclusive_running = False
        self.starts[i] = t_start
        self.ends[i] = t_end
        self.workers[i] = 0
        if self.held:
            self._release(i, attempt)
        self._record_attempt(i, attempt, False, err, t_start, t_end, 0)
        self._failed(i, attempt, err, None, S.TIMED_OUT)

    def _timed_out(self, i: int, attempt: int, now: float) -> None:
        """The timeout timer of attempt ``attempt`` of node ``i`` fired at ``now``: abandon the
        job on the backend, free its slot and resources, and fail it as TIMED_OUT
        (or retry)."""
        o = self.opts[i]
        self.outbox.append(Abandon(i, attempt))  # the driver abandons the job
        err = NodeTimeoutError(
            f"node {self.names[i]!r} ran longer than its timeout of {o.timeout}s "
            f"(attempt {attempt}); on the {self.backend.name} backend it was "
            + ("killed" if self.backend.name == "processes" else "abandoned")
        )
        self.in_flight -= 1
        if o.exclusive:
            self.exclusive_running = False
        start = now - o.timeout
        self.starts[i] = start
        self.ends[i] = now
        if self.held:
            self._release(i, attempt)
        self._record_attempt(i, attempt, False, err, start, now, -1)
        self._failed(i, attempt, err, None, S.TIMED_OUT)
