"""Drivers: move events from a backend into the core, and the core's decisions out to
the backend and the result cache — nothing else.

- ``run``: a synchronous loop on the calling thread — dispatch, ``backend.wait``,
  apply, until the run is finished;
- ``_run_shared``: the same loop for backends whose workers apply their own
  completions (``attach``; the threads backend), under the run's engine lock;
- ``run_async``: the loop for asyncio (awaits ``backend.wait_async``);
- the Dask whole-graph mode uses ``run`` with its own backend (``dask_graph``).

Every loop applies the core's decisions the same way (``_apply_decisions``, see
:mod:`dagforge.execution.decisions`): ``Start`` submits a job (a synchronous backend
runs it in place and its event goes straight back to the core, ``Core._ran``),
``Lookup`` asks the result cache, ``Store`` fills it, ``Abandon`` abandons an attempt.

Ctrl-C (``KeyboardInterrupt``) anywhere in a loop interrupts the run: running nodes
are abandoned, the rest cancelled, and the result returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dagforge.execution import states as S
from dagforge.execution.decisions import Abandon, Lookup, Start
from dagforge.execution.jobs import Event, Job
from dagforge.execution.result import ExecutionResult
from dagforge.execution.state import RunState


class Drivers(RunState):
    """The loops that drive a run."""

    def run(self) -> ExecutionResult:
        """Drive the run on the calling thread until every node settled."""
        backend = self.backend
        attach = getattr(backend, "attach", None)
        if attach is not None:
            return self._run_shared(attach)
        self._open()
        try:
            while self._advance():
                self._apply(backend.wait(self._wait_timeout()))
        except KeyboardInterrupt:
            self._interrupt("interrupted by KeyboardInterrupt")
        finally:
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()

    def _run_shared(self, attach: Callable[..., None]) -> ExecutionResult:
        """The loop for backends whose workers may apply their own completions.

        Whoever holds ``lock`` is the engine: this thread while it dispatches and
        applies queued events, a worker while it applies the event it just produced.
        """
        lock = threading.Lock()
        backend = self.backend
        early = self._early_release() if self.pool is not None and self.callbacks is None else None
        attach(lock, self._apply_and_dispatch, early)
        held = False
        try:
            lock.acquire()
            held = True
            self._open()
            while self._advance():
                timeout = self._wait_timeout()
                lock.release()
                held = False
                events = backend.wait(timeout)
                lock.acquire()
                held = True
                if self.crash is not None:
                    raise self.crash
                self._apply(events)
        except KeyboardInterrupt:
            if not held:
                lock.acquire()
                held = True
            self._interrupt("interrupted by KeyboardInterrupt")
        finally:
            if held:
                lock.release()
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()

    def _apply_and_dispatch(self, event: Event) -> bool:
        """Apply one event and dispatch; called by a threads *worker* holding the engine
        lock (so the core runs on that worker's thread, see ``state``).

        True when the engine thread should wake: the run may be over or a timer is set.
        """
        try:
            self._apply([event])
            self.dispatch()
            if self.outbox:
                self._apply_decisions()
        except BaseException as exc:  # e.g. a callback raised: end the run on the engine thread
            if self.crash is None:
                self.crash = exc
            return True
        return bool(self.timers) or self.finished() or self.fatal is not None

    def _open(self) -> None:
        """Start the backend for this run, then the run itself (``Core.begin``)."""
        S.check_run_transition(self.state, S.RUN_RUNNING)  # before starting anything
        backend = self.backend
        if hasattr(backend, "run_opts"):
            backend.run_opts = self.opts  # remote backends map options (resources)
        if hasattr(backend, "run_conditions"):
            backend.run_conditions = self.conditions  # and see conditional edges
        backend.start()
        self.wall_start = time.time()  # the run's start as a date, beside t0 (begin)
        self.begin()

    def _interrupt(self, reason: str) -> None:
        """Interrupt the run (``Core.interrupt``) and abandon what it still runs."""
        self.interrupt(reason)
        self._apply_decisions()

    def _advance(self) -> bool:
        """Dispatch what can start and apply the decisions; False once the run is over.

        On a synchronous backend each applied ``Start`` ran in place and may have made
        more nodes ready, so dispatch again until nothing more is decided."""
        self.dispatch()
        if self.outbox:
            self._apply_decisions()
            if self.backend.synchronous:
                while True:
                    self.dispatch()
                    if not self.outbox:
                        break
                    self._apply_decisions()
        return not self.finished()

    def _apply_decisions(self) -> None:
        """Apply the core's decisions in ``outbox`` to the backend and the result cache,
        in order; what applying one decides (a synchronous backend's completion, a cache
        answer) is appended and applied in the same pass."""
        outbox = self.outbox
        backend = self.backend
        submit = backend.submit
        sync = backend.synchronous
        k = 0
        if not sync:  # the common case, first: only Starts, submitted in order
            for d in outbox:
                if type(d) is not Start:
                    break
                submit(d[0])
                k += 1
            else:
                outbox.clear()
                return
        try:
            while k < len(outbox):
                d = outbox[k]
                k += 1
                t = type(d)
                if t is Start:
                    if sync:
                        self._ran(submit(d[0]))  # it ran in place: its event, at once
                    else:
                        submit(d[0])
                elif t is Abandon:
                    backend.abandon(d[0], d[1])
                elif t is Lookup:
                    self._lookup(d[0])
                else:  # Store
                    self._store(d[0], d[1])
        finally:
            del outbox[:k]  # applied (an error leaves the rest for the interrupt)

    def _lookup(self, job: Job) -> None:
        """``Lookup``: key the node's call (its code, config dependencies and inputs) and
        ask the result cache; the core hears the answer (``_restored``/``_not_cached``)."""
        i = job.idx
        task = self.fns[i]
        cfg = self.dag.config
        deps = [(k, cfg.get(k)) for k in getattr(task, "config_deps", ())]
        kwargs = job.kwargs
        args: list = list(job.args)
        inputs = {k: v for k, v in kwargs.items() if k != "cfg"} if kwargs else None
        resolve = getattr(self.backend, "resolve", None)
        if resolve is not None:  # Dask: key on the inputs' values, not on their futures
            args = [resolve(a) for a in args]
            inputs = {k: resolve(v) for k, v in inputs.items()} if inputs else inputs
        cache = self.cache
        key = cache.key(task, deps, args, inputs, self.opts[i].cache_key)
        if key is not None:
            value = cache.get(key)
            if cache.is_hit(value):
                self._restored(i, job.attempt, value)
                return
        self._not_cached(job, key)

    def _store(self, i: int, key: str) -> None:
        """``Store``: keep node ``i``'s value in the result cache under ``key``."""
        fetch = getattr(self.backend, "materialize", None)  # Dask: the value, not the future
        self.cache.put(key, self.values[i] if fetch is None else fetch(self, i))

    def _apply(self, events: list[Event]) -> None:
        """Apply completion events, then any due retry/timeout timers."""
        for ev in events:
            self._complete(ev)
        if self.timers:
            self._fire_timers()

    def _finish_or_raise(self) -> ExecutionResult:
        """Build the result; a run that ended on a fatal error (a rule that raised) raises it,
        with the result attached as ``.result``."""
        result = self.finish()
        if self.fatal is not None:
            self.fatal.result = result  # type: ignore[attr-defined]
            raise self.fatal
        return result

    async def run_async(self) -> ExecutionResult:
        """The same loop for asyncio: awaits completions instead of blocking."""
        import asyncio

        self._open()
        backend = self.backend
        try:
            while self._advance():
                self._apply(await backend.wait_async(self._wait_timeout()))
        except KeyboardInterrupt:  # inside a node: cancel and return, like the other drivers
            self._interrupt("interrupted by KeyboardInterrupt")
        except asyncio.CancelledError:  # the awaiting task was cancelled: propagate it
            self._interrupt("the run was cancelled")
            raise
        finally:
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()
