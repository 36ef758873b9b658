"""The core: the node state machine of one run.

Events in — a completion (:class:`~dagforge.execution.jobs.Event`, via
``_complete``), a due timer (``timers``), a rule applied (``growth``), an interrupt —
and decisions out, as records in ``outbox`` (:mod:`dagforge.execution.decisions`):
start this job (``Start``: ``_launch`` builds the :class:`~dagforge.execution.jobs.Job`),
look it up in the result cache first (``Lookup``), store a value there (``Store``),
abandon an attempt (``Abandon``); arm this timer (``timers._arm``); the run is finished
(``finished``). The driver applies the records to the backend and the cache and hands
their answers back (``_ran``, ``_restored``, ``_not_cached``). The methods here are the
only writers of node status; each transition checks ``states.ALLOWED`` (``_set``,
``_start``, ``_succeed``, ...) and refuses an illegal one with an error naming the node.

The core calls no backend method and no cache, touches no threads, and reads time only
from the injected clock (``self.clock``); a Task input's output is selected with the
injected ``self.select`` (the backend's pure ``select``, bound when the run is built:
Dask selects from a future). It reads the backend's declared data (``synchronous``,
``name``, ``provisional``). Which thread runs it: whichever holds the run's engine lock
(see :mod:`dagforge.execution.state`) — on the threads backend, often a worker thread
applying its own completion.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from dagforge.errors import CancelledError, GraphError
from dagforge.execution import states as S
from dagforge.execution.decisions import Abandon, Lookup, Start, Store
from dagforge.execution.jobs import (
    K_NOARGS,
    K_POS,
    Event,
    Job,
    Seeded,
    call_node,
    done,
    failed,
    format_error,
    node_seed,
)
from dagforge.execution.state import RunState
from dagforge.execution.timers import RETRY, TIMEOUT, retry_delay

_new = tuple.__new__  # a Job without NamedTuple.__new__'s Python frame (hot path)
_PENDING, _READY = S.PENDING, S.READY
# _release_children's inlined push and _run_compiled's steps rely on these transitions
assert S.ALLOWED[S.PENDING][S.READY] and S.ALLOWED[S.READY][S.RUNNING]
assert S.ALLOWED[S.RUNNING][S.SUCCEEDED]
# old status -> may it go to RUNNING / SUCCEEDED (the rows of states.ALLOWED, by column)
_ALLOWED_START = [row[S.RUNNING] for row in S.ALLOWED]
_ALLOWED_SUCCEED = [row[S.SUCCEEDED] for row in S.ALLOWED]


class Core(RunState):
    """Per-transition methods of the node state machine (see the module docstring)."""

    def _set(self, i: int, new: int) -> None:
        """The one general transition: node ``i`` goes to ``new`` if ``states.ALLOWED`` says
        so, else ``NodeStateError`` naming the node."""
        old = self.status[i]
        if not S.ALLOWED[old][new]:
            raise S.illegal(self.names[i], old, new)
        self.status[i] = new

    def _push(self, i: int) -> None:
        """PENDING/RETRY_WAIT -> READY: node ``i`` joins the ready heap under its key."""
        self._set(i, S.READY)
        keys = self.keys
        heapq.heappush(self.heap, i if keys is None else keys[i])

    def _idx(self, key: Any) -> int:
        """The node a ready-heap key stands for (see ``planning.heap_keys``)."""
        if self.keys is None:
            return key
        if self.int_keys:
            return key % self.n
        return key[2]

    def begin(self) -> None:
        """Start the run (CREATED -> RUNNING): skip what is not selected, push the nodes
        with no parents, apply the rules that hold already. The driver has started the
        backend and set ``wall_start`` (``Drivers._open``)."""
        S.check_run_transition(self.state, S.RUN_RUNNING)
        self.state = S.RUN_RUNNING
        self.t0 = self.clock()
        cb = self.callbacks
        if cb is not None and cb.on_run_start is not None:
            cb.on_run_start(self.dag)
        selected = self.selected
        if selected is not None:
            for i in range(self.n):
                if i not in selected:
                    self._skip(i, "not selected: outside targets= or inside exclude=")
        if self.schedule is not None:
            return  # _dispatch_inline runs the compiled order (_run_compiled)
        for i in range(self.n):
            if not self.pending[i] and self.status[i] == S.PENDING:
                self._push(i)
        if self.rules:
            self._apply_rules()

    def finished(self) -> bool:
        """True once nothing runs, nothing waits for a retry, and nothing is ready or parked
        (or the run stopped)."""
        if self.in_flight:
            return False
        if self.timers and self._retry_pending():
            return False
        return self.stopping or (not self.heap and not self.blocked)

    def _start(self, i: int) -> int:
        """READY -> RUNNING: node ``i`` starts its next attempt, whose number it returns.

        Every path starts a node here: ``_launch`` (any backend) and the inline loop
        (``fastpath``), which then calls the node itself.
        """
        status = self.status
        if not _ALLOWED_START[status[i]]:
            raise S.illegal(self.names[i], status[i], S.RUNNING)
        status[i] = S.RUNNING
        self.in_flight += 1
        self.order.append(i)
        attempt = self.attempt[i] = self.attempt[i] + 1
        return attempt

    def _succeed(self, i: int, value: Any, t_start: float, t_end: float, wid: int) -> None:
        """RUNNING -> SUCCEEDED: the attempt ended with ``value`` (times on the run's
        clock); its children are released (``_release_children``, inlined when no edge
        has a condition)."""
        status = self.status
        if not _ALLOWED_SUCCEED[status[i]]:
            raise S.illegal(self.names[i], status[i], S.SUCCEEDED)
        status[i] = S.SUCCEEDED
        self.in_flight -= 1
        self.starts[i] = t_start
        self.ends[i] = t_end
        self.workers[i] = wid
        self.values[i] = value
        if self.conditions:
            self._release_children(i, value)
            return
        pending, keys, heap = self.pending, self.keys, self.heap
        for c in self.succ[i]:
            p = pending[c] - 1
            pending[c] = p
            if not p and status[c] == _PENDING:
                status[c] = _READY  # PENDING -> READY is allowed (states.ALLOWED)
                heapq.heappush(heap, c if keys is None else keys[c])

    def _run_compiled(self, schedule: list[int]) -> None:
        """Run the compiled order ``schedule`` on this thread (inline, every node simple,
        no Task, no condition, nothing selected): each node in turn goes PENDING ->
        READY -> RUNNING -> SUCCEEDED within its step — nothing can observe the steps in
        between (one thread, no callbacks), so only the last is stored. At the first
        failure the run leaves the order for the heap (``_leave_compiled``)."""
        fns, kinds, pred = self.fns, self.kinds, self.pred
        values, starts, ends, status = self.values, self.starts, self.ends, self.status
        SUCCEEDED = S.SUCCEEDED
        call = call_node
        clock = self.clock
        for i in schedule:
            t0 = clock()
            try:
                kind = kinds[i]
                value = call(
                    kind, fns[i], [values[p] for p in pred[i]] if kind == K_POS else (), None
                )
            except (Exception, SystemExit) as exc:
                self._leave_compiled(schedule, i)
                self._complete(failed(i, 1, exc, format_error(exc), t0, clock(), 0))
                return
            except BaseException:  # KeyboardInterrupt: the run's interrupt sees i running
                self._leave_compiled(schedule, i)
                raise
            ends[i] = clock()
            starts[i] = t0
            values[i] = value
            status[i] = SUCCEEDED
        n = self.n
        self.order = list(schedule)
        self.workers = [0] * n
        self.attempt = [1] * n

    def _leave_compiled(self, schedule: list[int], i: int) -> None:
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

    def _revise(
        self,
        i: int,
        new: int,
        reason: str | None = None,
        error: tuple[BaseException, str] | None = None,
    ) -> None:
        """SUCCEEDED -> FAILED | SKIPPED for a backend whose successes are provisional
        (``backend.provisional``: Dask, where a success holds a future until its value
        is fetched, and throughput mode, where submitted counts as done until Dask
        says otherwise). The one transition ``states.ALLOWED`` does not list; any other
        use is refused, naming the node. Called by the backend's ``finalize``."""
        old = self.status[i]
        if (
            not getattr(self.backend, "provisional", False)
            or old != S.SUCCEEDED
            or new not in (S.FAILED, S.SKIPPED)
        ):
            raise S.illegal(self.names[i], old, new)
        self.status[i] = new
        self.values[i] = None
        if reason is not None:
            self.reasons[i] = reason
        if error is not None:
            self.errors[i] = error

    def _launch(self, i: int) -> None:
        """Start node ``i``: build its Job (arguments from its parents' values, a Task's
        keyword inputs) and decide ``Start`` (or ``Lookup`` when the node may be in the
        result cache) for the driver to apply."""
        o = self.opts[i]
        if o.exclusive:
            self.exclusive_running = True
        attempt = self._start(i)
        cb = self.callbacks
        if cb is not None and cb.on_node_start is not None:
            cb.on_node_start(self.names[i])
        kind = self.kinds[i]
        values = self.values
        args: Any = ()
        kwargs: Any = None
        if kind == K_POS:
            args = [values[p] for p in self.pred[i]]
            fn = self.fns[i]
            outputs = None
        elif kind == K_NOARGS:
            fn = self.fns[i]
            outputs = None
        else:
            fn, outputs, external = self.task_calls[i]
            select = self.select  # the backend's pure select, injected (engine.Run)
            kwargs = {
                inp: select(values[p], out)
                for p, out, inp in self.bindings.get(i, ())
                if values[p] is not None
            }
            for inp in external:
                kwargs[inp] = self.run_inputs[inp]
            kwargs["cfg"] = self.dag.config
        ser = None
        if self.profiling:
            ser = o.serializer or self.serializer or "pickle"
        if self.seed is not None:
            fn = Seeded(fn, node_seed(self.seed, self.names[i]))
        if self.capture is not None:
            fn = self.capture.wrap(self.names[i], fn)
        job = _new(Job, (i, attempt, kind, fn, args, kwargs, self.names[i], outputs, ser))
        if self.cache is not None and o.cache:
            # The cache is keyed on the call's inputs and the unwrapped callable: the
            # driver computes the key (Drivers._lookup) and answers _restored/_not_cached.
            self.outbox.append(_new(Lookup, (job,)))
            return
        if o.timeout is not None and not self.backend.synchronous:
            self._arm(TIMEOUT, i, attempt, o.timeout)
        self.outbox.append(_new(Start, (job,)))  # the decision; the driver applies it

    def _not_cached(self, job: Job, key: str | None) -> None:
        """The driver's answer to ``Lookup``: not in the cache (``key`` None: the inputs
        cannot be keyed). Decide ``Start``; a success will be stored under ``key``."""
        i = job.idx
        if key is not None:
            self.cache_keys[i] = key
        timeout = self.opts[i].timeout
        if timeout is not None and not self.backend.synchronous:
            self._arm(TIMEOUT, i, job.attempt, timeout)
        self.outbox.append(_new(Start, (job,)))

    def _restored(self, i: int, attempt: int, value: Any) -> None:
        """The driver's answer to ``Lookup``: the cache holds ``value`` for attempt
        ``attempt`` of node ``i``, which completes with it, run by no worker."""
        now = self.clock()
        if self.held:  # no worker ran it, so none gave its resources back early
            self._release(i, attempt)
        self.reasons[i] = "restored from the result cache"
        self.cached += 1
        self._complete(done(i, attempt, value, now, now, -1))

    def _ran(self, ev: Event) -> None:
        """A synchronous backend ran a ``Start`` in place and returned ``ev``: an attempt
        that returned past its timeout is timed out (``_late``), else ``ev`` applies."""
        timeout = self.opts[ev.idx].timeout
        if (
            timeout is not None
            and ev.t_end - ev.t_start > timeout
            and not isinstance(ev.error, KeyboardInterrupt)
        ):
            self._late(ev.idx, ev.attempt, ev.t_start, ev.t_end)
        else:
            self._complete(ev)

    def _complete(self, ev: Event) -> None:
        """Apply a completion event: the node succeeded or failed (retry, fail, skip
        descendants or stop); an event of a stale attempt is ignored."""
        i, attempt, ok, value, err, tb, t_start, t_end, wid, metrics = ev
        if attempt != self.attempt[i] or self.status[i] != S.RUNNING:
            return  # a late event from an abandoned attempt
        if not ok and isinstance(err, KeyboardInterrupt):
            raise KeyboardInterrupt from err  # Ctrl-C inside a node interrupts the run
        # SystemExit raised by a node is that node's failure (it is not retried by the
        # default retry_on=(Exception,)); it never ends the caller's process.
        o = self.opts[i]
        if o.exclusive:
            self.exclusive_running = False
        held = self.held
        # A threads worker already gave this attempt's resources back (early_attached:
        # admission._early_release); a cache hit releases in _restored.
        if held and not self.early_attached:
            if self.callbacks is None:  # _release, inlined for the common case
                req = held.pop((i, attempt), None)
                if req is not None:
                    self.gives[i](req, self.names[i])
            else:
                self._release(i, attempt)
        if metrics is not None:
            self.metrics[i] = metrics
        if o.retries or o.timeout is not None:
            self._record_attempt(i, attempt, ok, err, t_start, t_end, wid)
        cb = self.callbacks
        if ok:
            self._succeed(i, value, t_start, t_end, wid)
            if self.cache_keys:
                key = self.cache_keys.pop(i, None)
                if key is not None:
                    self.outbox.append(_new(Store, (i, key)))  # the driver stores it
            if cb is not None and cb.on_node_complete is not None:
                cb.on_node_complete(self.names[i], value)
        else:
            assert err is not None  # a failed event carries its error
            self.in_flight -= 1
            self.starts[i] = t_start
            self.ends[i] = t_end
            self.workers[i] = wid
            self._failed(i, attempt, err, tb, S.FAILED)
        if self.rules:
            self._apply_rules()

    def _release_children(self, i: int, value: Any) -> None:
        """Node ``i`` succeeded with ``value``: each child has one parent fewer to wait
        for; a child with none left is pushed (PENDING -> READY), or skipped when every
        incoming edge was switched off by its condition."""
        pending = self.pending
        status = self.status
        conditions = self.conditions
        for c in self.succ[i]:
            if conditions:
                cond = conditions.get((i, c))
                if cond is not None and not self._holds(i, c, cond, value):
                    self.dead[c] = self.dead.get(c, 0) + 1
            p = pending[c] - 1
            pending[c] = p
            if not p and status[c] == S.PENDING:
                if self.dead and self.dead.get(c, 0) == len(self.pred[c]):
                    self._skip_by_condition(c)
                else:
                    self._push(c)

    def _holds(self, i: int, c: int, cond: Callable[[Any], bool], value: Any) -> bool:
        """Evaluate the condition on edge ``i -> c`` on ``value``; a condition that raises is a
        ``GraphError`` naming the edge."""
        try:
            return bool(cond(value))
        except Exception as exc:
            raise GraphError(
                f"the condition on edge {self.names[i]!r} -> {self.names[c]!r} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _skip_by_condition(self, start: int) -> None:
        """Node ``start`` is not reached (every incoming edge switched off): skip it, and
        whatever is left with no live incoming edge below it."""
        stack = [start]
        while stack:
            c = stack.pop()
            parents = ", ".join(repr(self.names[p]) for p in self.pred[c])
            self._skip(c, f"not reached: every incoming edge (from {parents}) was switched off")
            for g in self.succ[c]:
                self.dead[g] = self.dead.get(g, 0) + 1
                self.pending[g] -= 1
                if not self.pending[g] and self.status[g] == S.PENDING:
                    if self.dead[g] == len(self.pred[g]):
                        stack.append(g)
                    else:
                        self._push(g)

    def _failed(self, i: int, attempt: int, err: BaseException, tb: str | None, state: int) -> None:
        """Attempt ``attempt`` of node ``i`` failed with ``err``: RUNNING -> RETRY_WAIT (a
        retry timer) while retries are left, else -> ``state`` (FAILED or
        TIMED_OUT), then stop the run (``fail_fast``) or skip the descendants."""
        o = self.opts[i]
        if attempt <= o.retries and isinstance(err, o.retry_on) and not self.stopping:
            self._set(i, S.RETRY_WAIT)
            self.retry_errors[i] = (err, tb or "")
            self._arm(RETRY, i, attempt, retry_delay(o, attempt))
            cb = self.callbacks
            if cb is not None and cb.on_node_retry is not None:
                cb.on_node_retry(self.names[i], attempt, err)
            return
        self._set(i, state)
        self.errors[i] = (err, tb or "")
        cb = self.callbacks
        if cb is not None and cb.on_node_error is not None:
            cb.on_node_error(self.names[i], err)
        name = self.names[i]
        if self.fail_fast:
            self._stop(f"the run stopped after {name!r} failed (fail_fast=True)")
        else:
            self._skip_descendants(i, f"upstream node {name!r} failed")

    def _skip(self, i: int, reason: str) -> None:
        """-> SKIPPED with ``reason`` (a node that will not run)."""
        self._set(i, S.SKIPPED)
        self.reasons[i] = reason
        cb = self.callbacks
        if cb is not None and cb.on_node_skipped is not None:
            cb.on_node_skipped(self.names[i], reason)

    def _skip_descendants(self, i: int, reason: str) -> None:
        """Skip every pending or ready node below ``i`` with ``reason``."""
        stack = list(self.succ[i])
        status = self.status
        while stack:
            c = stack.pop()
            if status[c] in (S.PENDING, S.READY):
                self._skip(c, reason)
                stack.extend(self.succ[c])

    def _stop(self, reason: str, state: int = S.SKIPPED) -> None:
        """Stop dispatching; every node not started is skipped (or cancelled)."""
        self.stopping = True
        self.heap.clear()
        self.blocked.clear()
        self.overtaken.clear()
        for i in range(self.n):
            st = self.status[i]
            if st == S.RETRY_WAIT:
                self._retry_dropped(i, reason, state)
            elif st in (S.PENDING, S.READY):
                if state == S.SKIPPED:
                    self._skip(i, reason)
                else:
                    self._set(i, S.CANCELLED)
                    self.reasons[i] = reason
        self._drop_retries()

    def _retry_dropped(self, i: int, reason: str, state: int) -> None:
        """A node waiting for its retry when the run stops: it ran and failed, so it is
        reported failed with that error (cancelled with it on an interrupt)."""
        err = self.retry_errors.pop(i)
        if state == S.SKIPPED:
            self._set(i, S.FAILED)
            self.reasons[i] = f"its retry did not run: {reason}"
            cb = self.callbacks
            if cb is not None and cb.on_node_error is not None:
                cb.on_node_error(self.names[i], err[0])
        else:
            self._set(i, S.CANCELLED)
            self.reasons[i] = f"{reason} while it waited for its retry"
        self.errors[i] = err

    def interrupt(self, reason: str) -> None:
        """Cancel: nothing new starts (a ``Start``/``Lookup`` not yet applied is taken
        back); running nodes are abandoned (``Abandon``); all say cancelled."""
        self.interrupted = True
        outbox = self.outbox
        outbox[:] = [d for d in outbox if type(d) is not Start and type(d) is not Lookup]
        for i in range(self.n):
            if self.status[i] == S.RUNNING:
                outbox.append(_new(Abandon, (i, self.attempt[i])))
                self._set(i, S.CANCELLED)
                self.reasons[i] = reason + " while it was running"
                self.errors[i] = (CancelledError(f"node {self.names[i]!r} was cancelled"), "")
                if self.held:
                    self._release(i, self.attempt[i])
        self.in_flight = 0
        self._stop(reason, S.CANCELLED)
