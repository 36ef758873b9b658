"""A backend that runs nothing: jobs complete on a virtual clock after known durations.

:func:`dagforge.scheduling.simulate.simulate` drives the real engine core with this
backend, so admission (``max_concurrency``, exclusive nodes, the resource pool and
bounded overtaking), ranking, retries and timeouts are the ones a real run applies;
only the passage of time is simulated.

The contract it keeps is the engine's ``ExecutionBackend`` protocol
(``execution/backends/base.py``: ``capacity``, ``start``, ``submit``, ``wait``,
``wait_async``, ``abandon``, ``shutdown``, ``select``, ``worker_names``, ``name``,
``synchronous``, and the optional ``clock``); it is met structurally, so this module,
one layer below the engine, imports nothing from it.

- ``submit(job)`` picks a free worker, works out when the node's inputs are there (a
  parent that ran on another machine sends its data in ``bits / bandwidth`` seconds)
  and schedules the completion at ``max(now, inputs there) + duration``. No node
  function is called; the completion's value is ``None``.
- ``wait(timeout)`` advances the clock to the next completion, or by ``timeout`` when
  that comes first (the engine's next timer: a retry delay or a node timeout), and
  returns every completion due by then, in (end time, submission) order.
- ``abandon(idx, attempt)`` (a timed-out node) drops that job and frees its worker.

Times are seconds on :class:`VirtualClock`, which starts at 0. One thread only: the
engine calls the backend from the thread that drives the run, and nothing else does.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from dagforge.errors import DeadlockError, RunArgumentError

__all__ = ["SimulatedBackend", "VirtualClock"]

#: Consecutive ``wait`` calls with nothing running that the backend tolerates before
#: it calls the run stuck (the engine polls every 5 ms when it waits for resources that
#: nothing running will release; in a simulation nobody else can release them).
IDLE_LIMIT = 100_000


def _later(now: float, timeout: float) -> float:
    """``now + timeout``, at least one float step later when ``timeout > 0`` (so a timer
    whose remaining time rounds away still comes due)."""
    then = now + timeout
    return math.nextafter(now, math.inf) if timeout > 0 and then <= now else then


class SimEvent(NamedTuple):
    """A completion, with the fields of the engine's event record (``execution.jobs``),
    which this layer cannot import: the engine reads it by position or by name."""

    idx: int
    attempt: int
    ok: bool
    value: Any
    error: BaseException | None
    traceback: str | None
    t_start: float
    t_end: float
    worker: int
    metrics: Any


class VirtualClock:
    """A clock that moves only when the simulated backend moves it: ``clock()`` is now."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def __repr__(self) -> str:
        return f"<VirtualClock now={self.now:g}s>"


class SimulatedBackend:
    """Completes each submitted job ``durations[idx]`` virtual seconds after it starts.

    Parameters:
        durations: seconds per node index (the engine's node numbering).
        clock: the :class:`VirtualClock` the engine also reads.
        workers: how many jobs run at once (the backend's capacity).
        machines: how many workers each machine has (``sum(machines) == workers``);
            ``None`` is one machine.
        comm: seconds to move the data of edge ``(parent, child)`` (node indices)
            between two machines; edges not named cost nothing.
        pred: the parents of each node index (needed with ``comm``).
    """

    name = "simulated"
    synchronous = False

    def __init__(
        self,
        durations: Sequence[float],
        clock: VirtualClock,
        *,
        workers: int = 1,
        machines: Sequence[int] | None = None,
        comm: Mapping[tuple[int, int], float] | None = None,
        pred: Sequence[Sequence[int]] | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise RunArgumentError(f"workers must be a positive integer, got {workers!r}")
        if machines is None:
            machines = [workers]
        machines = list(machines)
        if not machines or any(
            isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in machines
        ):
            raise RunArgumentError(
                f"machines must list a positive number of workers per machine, got {machines!r}"
            )
        if sum(machines) != workers:
            raise RunArgumentError(
                f"machines {machines} hold {sum(machines)} worker(s) but workers={workers}"
            )
        if comm and pred is None:
            raise RunArgumentError("a communication cost needs the parents of each node (pred=)")
        self.durations = durations
        self.clock = clock
        self.workers = workers
        self.comm = dict(comm or {})
        self.pred = pred
        # worker number -> machine number; names say both when there are several machines
        self.machine_of = [m for m, count in enumerate(machines) for _ in range(count)]
        if len(machines) == 1:
            self.worker_names = [f"worker-{w}" for w in range(workers)]
        else:
            self.worker_names = []
            for m, count in enumerate(machines):
                self.worker_names += [f"machine-{m}/worker-{k}" for k in range(count)]
        self.start()

    @property
    def capacity(self) -> int:
        return self.workers

    def start(self) -> None:
        """Forget every job: all workers free, nothing running."""
        self._free = list(range(self.workers))  # a heap: the lowest free worker first
        self._running: list[tuple[float, int, int, int, int, float]] = []
        self._live: dict[tuple[int, int], int] = {}  # (idx, attempt) -> sequence number
        self._seq = 0
        self._idle = 0
        # Where and when each node's last successful attempt ended (for comm costs).
        self.ran_on: dict[int, int] = {}
        self.ended: dict[int, float] = {}
        #: Every attempt the backend ran: (idx, attempt, worker, start, end, outcome),
        #: outcome "completed" or "abandoned" (end = when it was abandoned).
        self.log: list[tuple[int, int, int, float, float, str]] = []

    # -- the contract ----------------------------------------------------------------

    def submit(self, job: Any) -> None:
        idx, attempt = job.idx, job.attempt  # an execution.jobs.Job record
        now = self.clock.now
        if not self._free:  # an internal assertion (an engine bug): kept a RuntimeError
            raise RuntimeError(
                f"the engine submitted node #{idx} with all {self.workers} simulated "
                "workers busy; it must respect the backend's capacity"
            )
        w, ready = self._pick(idx, now)
        start = max(now, ready)
        end = start + float(self.durations[idx])
        seq = self._seq
        self._seq += 1
        heapq.heappush(self._running, (end, seq, idx, attempt, w, start))
        self._live[(idx, attempt)] = seq

    def _pick(self, idx: int, now: float) -> tuple[int, float]:
        """The free worker where the node's inputs arrive first (lowest number on ties),
        and when they arrive there."""
        free = self._free
        if not self.comm:
            return heapq.heappop(free), now
        arrival: dict[int, float] = {}  # machine -> when the inputs are all there
        best_w, best_t = -1, 0.0
        for w in sorted(free):
            m = self.machine_of[w]
            t = arrival.get(m)
            if t is None:
                t = now
                for p in self.pred[idx]:  # type: ignore[index]
                    cost = self.comm.get((p, idx))
                    if cost and self.ran_on.get(p, m) != m:
                        t = max(t, self.ended[p] + cost)
                arrival[m] = t
            if best_w < 0 or t < best_t:
                best_w, best_t = w, t
        free.remove(best_w)
        heapq.heapify(free)
        return best_w, best_t

    def wait(self, timeout: float | None) -> list[SimEvent]:
        clock = self.clock
        running = self._running
        while running and running[0][1] != self._live.get((running[0][2], running[0][3])):
            heapq.heappop(running)  # abandoned
        if not running:
            if timeout is None:  # an internal assertion (an engine bug): kept a RuntimeError
                raise RuntimeError(
                    "the simulated run waits for a completion but nothing is running"
                )
            self._idle += 1
            if self._idle > IDLE_LIMIT:
                raise DeadlockError(
                    "the simulated run is stuck: nothing runs and nothing becomes ready "
                    "(nodes wait for resources that no running node will release)"
                )
            clock.now = _later(clock.now, timeout)
            return []
        self._idle = 0
        due = running[0][0]
        if timeout is not None and clock.now + timeout < due:
            clock.now = _later(clock.now, timeout)  # the engine's timer comes first
            return []
        clock.now = max(clock.now, due)
        events = []
        live = self._live
        while running and running[0][0] <= due:
            end, seq, idx, attempt, w, start = heapq.heappop(running)
            if live.get((idx, attempt)) != seq:
                continue  # abandoned
            del live[(idx, attempt)]
            heapq.heappush(self._free, w)
            self.ran_on[idx] = self.machine_of[w]
            self.ended[idx] = end
            self.log.append((idx, attempt, w, start, end, "completed"))
            events.append(SimEvent(idx, attempt, True, None, None, None, start, end, w, None))
        return events

    async def wait_async(self, timeout: float | None) -> list[SimEvent]:
        """``wait`` for the asyncio driver: virtual time never blocks."""
        return self.wait(timeout)

    def abandon(self, idx: int, attempt: int) -> None:
        seq = self._live.pop((idx, attempt), None)
        if seq is None:
            return
        for _end, s, i, a, w, start in self._running:
            if s == seq:
                heapq.heappush(self._free, w)
                self.log.append((i, a, w, start, self.clock.now, "abandoned"))
                return

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop: no thread, no process."""

    @staticmethod
    def select(value: Any, output: str) -> Any:
        return None  # no node ran, so no output exists

    def __repr__(self) -> str:
        return (
            f"<SimulatedBackend workers={self.workers} machines={len(set(self.machine_of))} "
            f"now={self.clock.now:g}s>"
        )
