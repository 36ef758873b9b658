"""The inline fast path: the inline backend's dispatch, calling nodes itself.

On no-op tasks the engine's own overhead is the whole cost, so for the inline backend
with nothing per run that needs the general machinery (no callbacks, resources,
profiling, cache, conditions, capture or seed) this loop skips building a Job and an
Event: it pops the ready heap and, per node, runs the core's own transitions —
``_start`` (READY -> RUNNING), the call (``jobs.call_node``, the one calling
convention) and ``_succeed`` (RUNNING -> SUCCEEDED, releasing the children) — so
states and results are the general path's.
A node with options or Task inputs goes through ``_launch``, whose decisions this loop
applies at once (``Drivers._apply_decisions``: it is the inline backend's driver); a
failure through ``_complete``. With nothing that can change the order, the order
compiled for the DAG (``Plan.schedules``) runs directly (``core.Core._run_compiled``).
"""

from __future__ import annotations

import heapq

from dagforge.execution import states as S
from dagforge.execution.jobs import K_POS as _K_POS
from dagforge.execution.jobs import K_TASK, call_node, failed, format_error
from dagforge.execution.state import RunState


class FastPath(RunState):
    """Inline dispatch and the compiled schedule."""

    def _dispatch_inline(self) -> None:
        """``dispatch`` for the inline backend (see the module docstring)."""
        if self.schedule is not None:
            schedule, self.schedule = self.schedule, None
            self._run_compiled(schedule)
        heap = self.heap
        keys = self.keys
        n = self.n
        int_keys = self.int_keys
        opts, kinds, fns = self.opts, self.kinds, self.fns
        status, values, pred = self.status, self.values, self.pred
        heappop, heappush = heapq.heappop, heapq.heappush
        start, succeed = self._start, self._succeed
        K_POS = _K_POS
        READY = S.READY
        call = call_node
        clock = self.clock
        while heap and not self.stopping:
            key = heappop(heap)
            i = key if keys is None else (key % n if int_keys else key[2])
            kind = kinds[i]
            if not opts[i].simple or kind == K_TASK or status[i] != READY:
                heappush(heap, key)
                self._launch_one_general()
                self._apply_decisions()  # this loop is the inline backend's driver
                continue
            attempt = start(i)
            t0 = clock()
            try:
                args = [values[p] for p in pred[i]] if kind == K_POS else ()
                value = call(kind, fns[i], args, None)  # jobs.call_node
            except (Exception, SystemExit) as exc:
                self._complete(failed(i, attempt, exc, format_error(exc), t0, clock(), 0))
                continue
            succeed(i, value, t0, clock(), 0)
            if self.rules:
                self._apply_rules()
                # rules may append nodes: refresh the views of the growing arrays
                n, keys = self.n, self.keys
