"""OpenTelemetry traces of runs (the optional ``dagforge[otel]`` extra).

One span per run (``dagforge.run``) and one per node *attempt* (``dagforge.node``),
children of the run's span, with the node, attempt, status, worker and — when the run
was profiled — bytes as attributes; a failed attempt records its exception. For library
runs::

    from dagforge.otel import OtelCallbacks
    tracing = OtelCallbacks(tracer)                      # or the global tracer provider
    Executor(dag, callbacks=tracing.callbacks()).execute()

``traceparent=`` (a W3C ``traceparent`` header) makes the run's span a child of a span
elsewhere — the platform passes the header of the HTTP request that triggered the run,
and sends the running node's context on to HTTP functions as their own
``traceparent`` header (:func:`traceparent_headers`), so one trace covers the caller,
the run, its nodes and the services they call.

Node spans carry the attempts' measured start and end times and are built after the
run from its result, on a background thread (``OtelCallbacks.done`` is set when they
have all ended), so tracing adds next to nothing to a run's own time. Off costs
nothing: nothing here is imported unless asked for, and the callback slots stay empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dagforge.execution.callbacks import ExecutionCallbacks

__all__ = ["OtelCallbacks", "combine", "traceparent_headers"]

_active_lock = threading.Lock()
_active: dict[str, OtelCallbacks] = {}  # run id -> its tracing, while it runs


def traceparent_headers(run_id: str | None, node: str) -> dict[str, str]:
    """``{"traceparent": ...}`` of the running attempt of ``node`` in run ``run_id``
    (``{}`` when that run is not traced): what an HTTP function call sends on."""
    if not _active or run_id is None:
        return {}
    tracing = _active.get(run_id)
    value = tracing.traceparent(node.split("#", 1)[0]) if tracing is not None else None
    return {"traceparent": value} if value else {}


def _require() -> Any:
    try:
        from opentelemetry import trace
    except ModuleNotFoundError:  # pragma: no cover - the extra is part of the dev install
        raise ModuleNotFoundError(
            "OpenTelemetry traces need the otel extra: pip install 'dagforge[otel]'",
            name="opentelemetry",
        ) from None
    return trace


def _header(span: Any) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class OtelCallbacks:
    """Spans of one run through :class:`ExecutionCallbacks` (use one instance per run).

    Cheap on the engine's hot path: the run's span starts with the run; node spans are
    built when the run completes, from the attempts the result recorded (exact start
    and end times, worker, status, bytes), on a background thread — except the span of
    a node that calls an HTTP function while the run is traced, which is started at
    that moment so its context can travel in the request.
    """

    def __init__(
        self,
        tracer: Any = None,
        *,
        traceparent: str | None = None,
        run_id: str | None = None,
        name: str = "dagforge.run",
        attributes: dict[str, Any] | None = None,
    ):
        trace = _require()
        self._trace = trace
        self.tracer = tracer or trace.get_tracer("dagforge")
        self.run_id = run_id
        self.name = name
        self.attributes = dict(attributes or {})
        self.parent = None
        if traceparent:
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            self.parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
        self.run_span: Any = None
        self._ctx: Any = None
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, int]] = {}  # node family -> (instance, attempt)
        self._attempts: dict[str, int] = {}
        self._live: dict[tuple[str, int], Any] = {}  # spans started early (HTTP calls)
        self.done = threading.Event()  # set when every span of the run has ended
        # set by on_run_complete: the finisher thread now owns the spans, and abandon()
        # (called by whoever lets go of the run) must leave them to it
        self.completed = False

    def callbacks(self) -> ExecutionCallbacks:
        return ExecutionCallbacks(
            on_run_start=self.on_run_start,
            on_node_start=self.on_node_start if self.run_id is not None else None,
            on_run_complete=self.on_run_complete,
        )

    def on_run_start(self, dag: Any) -> None:
        attrs = {"dagforge.nodes": len(dag), **self.attributes}
        if self.run_id:
            attrs["dagforge.run_id"] = self.run_id
        self.run_span = self.tracer.start_span(self.name, context=self.parent, attributes=attrs)
        self._ctx = self._trace.set_span_in_context(self.run_span)
        if self.run_id is not None:
            with _active_lock:
                _active[self.run_id] = self

    def on_node_start(self, name: str) -> None:
        attempt = self._attempts.get(name, 0) + 1
        self._attempts[name] = attempt
        self._running[name.split("#", 1)[0]] = (name, attempt)

    def traceparent(self, family: str) -> str | None:
        """Start (once) the span of the running attempt of ``family``; its traceparent."""
        running = self._running.get(family)
        if running is None or self._ctx is None:
            return None
        with self._lock:
            span = self._live.get(running)
            if span is None:
                span = self.tracer.start_span("dagforge.node", context=self._ctx)
                self._live[running] = span
        return _header(span)

    def on_run_complete(self, result: Any) -> None:
        self.completed = True
        if self.run_id is not None:
            with _active_lock:
                _active.pop(self.run_id, None)
        _finisher().put((self, result))

    def _finish(self, result: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        if self.run_span is None:
            self.on_run_start(result.dag)
        base = result.started_at
        ok = Status(StatusCode.OK)
        for name, nr in result.results.items():
            m = nr.metrics
            if nr.attempts:
                tries = [
                    (a.number, a.start, a.end, a.worker, a.status, a.error) for a in nr.attempts
                ]
            elif nr.start is not None and nr.end is not None:
                tries = [(1, nr.start, nr.end, nr.worker, nr.status, nr.error)]
            else:
                if nr.status == "skipped":
                    self.run_span.add_event(
                        "skipped", {"dagforge.node": name, "reason": (nr.reason or "")[:500]}
                    )
                continue
            for number, start, end, worker, status, error in tries:
                attrs: dict[str, Any] = {
                    "dagforge.node": name,
                    "dagforge.attempt": number,
                    "dagforge.status": status,
                }
                if worker:
                    attrs["dagforge.worker"] = str(worker)
                if m is not None:
                    attrs["dagforge.bytes_out"] = int(m.bytes_out)
                    attrs["dagforge.bytes_in"] = int(m.bytes_in)
                span = self._live.pop((name, number), None)
                if span is None:
                    span = self.tracer.start_span(
                        "dagforge.node",
                        context=self._ctx,
                        start_time=int((base + start) * 1e9),
                        attributes=attrs,
                    )
                else:
                    span.set_attributes(attrs)
                if error is not None and status != "succeeded":
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                elif status == "succeeded":
                    span.set_status(ok)
                span.end(end_time=max(int((base + end) * 1e9), span.start_time or 0))
        for span in self._live.values():  # started for a call, never completed
            span.end()
        self._live.clear()
        self.run_span.set_attribute("dagforge.status", result.status)
        self.run_span.set_attribute("dagforge.failed", result.failed)
        if result.ok:
            self.run_span.set_status(ok)
        else:
            self.run_span.set_status(Status(StatusCode.ERROR, result.summary()))
        self.run_span.end(end_time=int((base + result.duration) * 1e9))
        self.done.set()

    def abandon(self) -> None:
        """End whatever is still open (the run raised before it completed)."""
        if self.run_id is not None:
            with _active_lock:
                _active.pop(self.run_id, None)
        if self.completed or self.done.is_set():
            return  # the finisher ends these spans, with the run's status
        self.end_open()

    def end_open(self) -> None:
        """End every span still open, without a status (nothing more is known)."""
        for span in self._live.values():
            span.end()
        self._live.clear()
        if self.run_span is not None and self.run_span.is_recording():
            self.run_span.end()
        self.done.set()


class _Finisher:
    """One daemon thread that builds and ends the node spans of completed runs, so a
    run's caller does not wait for span construction."""

    def __init__(self) -> None:
        import queue

        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="dagforge-otel", daemon=True)
        self.thread.start()

    def put(self, job: tuple[OtelCallbacks, Any]) -> None:
        self.queue.put(job)

    def _loop(self) -> None:
        while True:
            tracing, result = self.queue.get()
            try:
                tracing._finish(result)
            except Exception:  # tracing must never take anything down
                import logging

                logging.getLogger("dagforge.otel").exception("spans of a run were not built")
                tracing.end_open()


_finisher_lock = threading.Lock()
_finisher_obj: _Finisher | None = None


def _finisher() -> _Finisher:
    global _finisher_obj
    with _finisher_lock:
        if _finisher_obj is None:
            _finisher_obj = _Finisher()
        return _finisher_obj


def combine(*callbacks: ExecutionCallbacks | None) -> ExecutionCallbacks:
    """One ``ExecutionCallbacks`` calling each given one's hooks in order."""
    given = [c for c in callbacks if c is not None]
    hooks: dict[str, Callable[..., Any]] = {}
    for slot in ExecutionCallbacks.__slots__:
        fns = [getattr(c, slot) for c in given if getattr(c, slot) is not None]
        if len(fns) == 1:
            hooks[slot] = fns[0]
        elif fns:

            def chained(*args: Any, _fns: list[Callable[..., Any]] = fns) -> None:
                for fn in _fns:
                    fn(*args)

            hooks[slot] = chained
    return ExecutionCallbacks(**hooks)
