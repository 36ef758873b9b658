"""The inline fast path: the inline backend's dispatch with the call inlined.

On no-op tasks the engine's own overhead is the whole cost, so for the inline backend
with nothing per run that needs the general machinery (no callbacks, resources,
profiling, cache, conditions, capture or seed) the core's launch + complete is done
here in one loop. Any node with options, Task inputs or a failure leaves this path for
the core's (``_launch_one_general`` / ``_complete``). With nothing that can change the
order, the compiled order (``Plan.schedules``) is run directly.
"""

from __future__ import annotations

import heapq
import types

from dagforge.execution import states as S
from dagforge.execution.jobs import K_POS, K_TASK, failed, format_error
from dagforge.execution.state import RunState


class FastPath(RunState):
    """Inline dispatch and the compiled schedule."""

    def _run_schedule(self, schedule: list[int]) -> None:
        """Run ``schedule`` (every node simple, no Task, no condition) on this thread."""
        fns, kinds, pred = self.fns, self.kinds, self.pred
        values, starts, ends, status = self.values, self.starts, self.ends, self.status
        SUCCEEDED = S.SUCCEEDED
        coroutine = types.CoroutineType
        clock = self.clock
        for i in schedule:
            t0 = clock()
            try:
                value = fns[i](*[values[p] for p in pred[i]]) if kinds[i] == K_POS else fns[i]()
                if type(value) is coroutine:
                    import asyncio

                    value = asyncio.run(value)
            except (Exception, SystemExit) as exc:
                self._leave_schedule(schedule, i)
                self._complete(failed(i, 1, exc, format_error(exc), t0, clock(), 0))
                return
            except BaseException:  # KeyboardInterrupt: the run's interrupt sees i running
                self._leave_schedule(schedule, i)
                raise
            ends[i] = clock()
            starts[i] = t0
            values[i] = value
            status[i] = SUCCEEDED
        n = self.n
        self.order = list(schedule)
        self.workers = [0] * n
        self.attempt = [1] * n

    def _leave_schedule(self, schedule: list[int], i: int) -> None:
        """Leave the compiled order at node ``i`` (running): rebuild what the heap path
        keeps (order, attempts, pending counts, the ready heap)."""
        k = schedule.index(i)
        ran = schedule[:k]
        self.order = [*ran, i]
        workers, attempt, pending, succ = self.workers, self.attempt, self.pending, self.succ
        for j in ran:
            workers[j] = 0
            attempt[j] = 1
            for c in succ[j]:
                pending[c] -= 1
        keys = self.keys
        status = self.status
        for j in schedule[k + 1 :]:
            if not pending[j]:
                status[j] = S.READY
                heapq.heappush(self.heap, j if keys is None else keys[j])
        status[i] = S.RUNNING
        attempt[i] = 1
        self.in_flight = 1

    def _dispatch_inline(self) -> None:
        """``dispatch`` for the inline backend, with the call and completion inlined.

        Same order, states and results as ``_launch`` + ``_complete``; it exists because
        on no-op tasks the engine's own overhead is the whole cost. Any node with
        options, Task inputs or a failure goes through the general path.
        """
        if self.schedule is not None:
            schedule, self.schedule = self.schedule, None
            self._run_schedule(schedule)
        heap = self.heap
        keys = self.keys
        n = self.n
        int_keys = self.int_keys
        opts, kinds, fns = self.opts, self.kinds, self.fns
        status, values, pending = self.status, self.values, self.pending
        pred, succ = self.pred, self.succ
        starts, ends, workers, attempt = self.starts, self.ends, self.workers, self.attempt
        order = self.order
        heappop, heappush = heapq.heappop, heapq.heappush
        allowed_run = S.ALLOWED[S.READY][S.RUNNING]
        READY, RUNNING, SUCCEEDED, PENDING = S.READY, S.RUNNING, S.SUCCEEDED, S.PENDING
        coroutine = types.CoroutineType
        clock = self.clock
        while heap and not self.stopping:
            key = heappop(heap)
            i = key if keys is None else (key % n if int_keys else key[2])
            kind = kinds[i]
            if not opts[i].simple or kind == K_TASK or status[i] != READY:
                heappush(heap, key)
                self._launch_one_general()
                continue
            if not allowed_run:  # pragma: no cover - the table is static
                raise S.illegal(self.names[i], READY, RUNNING)
            status[i] = RUNNING
            order.append(i)
            attempt[i] += 1
            self.in_flight += 1
            t0 = clock()
            try:
                value = fns[i](*[values[p] for p in pred[i]]) if kind == K_POS else fns[i]()
                if type(value) is coroutine:
                    import asyncio

                    value = asyncio.run(value)
            except (Exception, SystemExit) as exc:
                self._complete(failed(i, attempt[i], exc, format_error(exc), t0, clock(), 0))
                continue
            ends[i] = clock()
            starts[i] = t0
            workers[i] = 0
            self.in_flight -= 1
            status[i] = SUCCEEDED
            values[i] = value
            for c in succ[i]:
                p = pending[c] - 1
                pending[c] = p
                if not p and status[c] == PENDING:
                    status[c] = READY
                    heappush(heap, c if keys is None else keys[c])
            if self.rules:
                self._apply_rules()
                # rules may append nodes: refresh the views of the growing arrays
                n, keys = self.n, self.keys
