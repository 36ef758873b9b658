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

A node span starts when the engine starts the attempt and ends, when the run ends,
at the attempt's measured end time (so worker and bytes, which the engine only knows
then, are on it). Off costs nothing: nothing here is imported unless asked for, and
the engine's callback slots stay empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dagforge.execution.callbacks import ExecutionCallbacks

__all__ = ["OtelCallbacks", "combine", "traceparent_headers"]

_active_lock = threading.Lock()
_active: dict[tuple[str, str], str] = {}  # (run id, node family) -> traceparent


def traceparent_headers(run_id: str | None, node: str) -> dict[str, str]:
    """``{"traceparent": ...}`` of the running attempt of ``node`` in run ``run_id``
    (``{}`` when that run is not traced): what an HTTP function call sends on."""
    if not _active or run_id is None:
        return {}
    value = _active.get((run_id, node.split("#", 1)[0]))
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
    """Spans of one run through :class:`ExecutionCallbacks` (use one instance per run)."""

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
        self._spans: dict[str, list[Any]] = {}

    def callbacks(self) -> ExecutionCallbacks:
        return ExecutionCallbacks(
            on_run_start=self.on_run_start,
            on_node_start=self.on_node_start,
            on_node_skipped=self.on_node_skipped,
            on_run_complete=self.on_run_complete,
        )

    def on_run_start(self, dag: Any) -> None:
        attrs = {"dagforge.nodes": len(dag), **self.attributes}
        if self.run_id:
            attrs["dagforge.run_id"] = self.run_id
        self.run_span = self.tracer.start_span(self.name, context=self.parent, attributes=attrs)
        self._ctx = self._trace.set_span_in_context(self.run_span)

    def on_node_start(self, name: str) -> None:
        if self.run_span is None:  # a resumed engine without on_run_start: still one root
            self.on_run_start(())
        spans = self._spans.setdefault(name, [])
        span = self.tracer.start_span(
            "dagforge.node",
            context=self._ctx,
            attributes={"dagforge.node": name, "dagforge.attempt": len(spans) + 1},
        )
        spans.append(span)
        if self.run_id is not None:
            with _active_lock:
                _active[(self.run_id, name.split("#", 1)[0])] = _header(span)

    def on_node_skipped(self, name: str, reason: str) -> None:
        if self.run_span is not None:
            self.run_span.add_event("skipped", {"dagforge.node": name, "reason": reason[:500]})

    def on_run_complete(self, result: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        base = getattr(result, "started_at", None)
        results = result.results
        for name, spans in self._spans.items():
            nr = results.get(name)
            attempts = list(nr.attempts or []) if nr is not None else []
            for k, span in enumerate(spans):
                a = attempts[k] if k < len(attempts) else None
                status = a.status if a is not None else (nr.status if nr else "unknown")
                worker = (a.worker if a is not None else nr.worker) if nr else None
                error = a.error if a is not None else (nr.error if nr else None)
                end = a.end if a is not None else (nr.end if nr else None)
                if k < len(spans) - 1 and a is None:
                    status = "retried"
                span.set_attribute("dagforge.status", status)
                if worker:
                    span.set_attribute("dagforge.worker", str(worker))
                m = nr.metrics if nr is not None else None
                if m is not None:
                    span.set_attribute("dagforge.bytes_out", int(m.bytes_out))
                    span.set_attribute("dagforge.bytes_in", int(m.bytes_in))
                if error is not None and status != "succeeded":
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                elif status == "succeeded":
                    span.set_status(Status(StatusCode.OK))
                end_ns = None
                if base is not None and end is not None:
                    end_ns = max(int((base + end) * 1e9), span.start_time or 0)
                span.end(end_time=end_ns)
        if self.run_id is not None:
            with _active_lock:
                for key in [k for k in _active if k[0] == self.run_id]:
                    del _active[key]
        if self.run_span is not None:
            self.run_span.set_attribute("dagforge.status", result.status)
            self.run_span.set_attribute("dagforge.failed", result.failed)
            if not result.ok:
                self.run_span.set_status(Status(StatusCode.ERROR, result.summary()))
            else:
                self.run_span.set_status(Status(StatusCode.OK))
            self.run_span.end()

    def abandon(self) -> None:
        """End whatever is still open (the run raised before it completed)."""
        for spans in self._spans.values():
            for span in spans:
                if span.is_recording():
                    span.end()
        if self.run_id is not None:
            with _active_lock:
                for key in [k for k in _active if k[0] == self.run_id]:
                    del _active[key]
        if self.run_span is not None and self.run_span.is_recording():
            self.run_span.end()


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
