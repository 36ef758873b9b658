"""Drivers: move events between a backend and the core, nothing else.

- ``run``: a synchronous loop on the calling thread — dispatch, ``backend.wait``,
  apply, until the run is finished;
- ``_run_shared``: the same loop for backends whose workers apply their own
  completions (``attach``; the threads backend), under the run's engine lock;
- ``run_async``: the loop for asyncio (awaits ``backend.wait_async``);
- the Dask whole-graph mode uses ``run`` with its own backend (``dask_graph``).

Ctrl-C (``KeyboardInterrupt``) anywhere in a loop interrupts the run: running nodes
are abandoned, the rest cancelled, and the result returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from dagforge.execution.jobs import Event
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
        self.begin()
        try:
            while self._advance():
                self._apply(backend.wait(self._wait_timeout()))
        except KeyboardInterrupt:
            self.interrupt("interrupted by KeyboardInterrupt")
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
            self.begin()
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
            self.interrupt("interrupted by KeyboardInterrupt")
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
                self._submit_decided()
        except BaseException as exc:  # e.g. a callback raised: end the run on the engine thread
            if self.crash is None:
                self.crash = exc
            return True
        return bool(self.timers) or self.finished() or self.fatal is not None

    def _advance(self) -> bool:
        """Dispatch what can start and submit it; False once the run is over."""
        self.dispatch()
        if self.outbox:
            self._submit_decided()
        return not self.finished()

    def _submit_decided(self) -> None:
        """Hand the jobs the core decided to start to the backend, in order."""
        outbox = self.outbox
        submit = self.backend.submit
        for job in outbox:
            submit(job)
        outbox.clear()

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

        self.begin()
        backend = self.backend
        try:
            while self._advance():
                self._apply(await backend.wait_async(self._wait_timeout()))
        except KeyboardInterrupt:  # inside a node: cancel and return, like the other drivers
            self.interrupt("interrupted by KeyboardInterrupt")
        except asyncio.CancelledError:  # the awaiting task was cancelled: propagate it
            self.interrupt("the run was cancelled")
            raise
        finally:
            backend.shutdown(wait=not self.interrupted)
        return self._finish_or_raise()
