"""Operating the platform: logging, the access log, health checks, Prometheus metrics,
and the live view of running runs that the dashboard and the metrics read.

- **Logging** lives under ``dagforge.*`` (``dagforge.server`` at INFO for the platform,
  ``dagforge.execution`` at DEBUG for the engine). :func:`setup_logging` installs one
  handler on ``dagforge`` in ``text`` or ``json`` form; ``dagforge serve`` calls it and
  prints one startup line (:func:`startup_line`).
- **Access log**: :class:`AccessLog`, a pure ASGI middleware, one line per request on
  ``dagforge.server.access`` (client, method, path, status, duration, bytes).
- **Health**: ``GET /health`` answers while the process serves; ``GET /ready`` also
  reads the journal and the store (503 naming the part that failed), for a load
  balancer's readiness probe.
- **Metrics**: ``GET /metrics`` in the Prometheus text format, from a registry of its
  own per app (several apps in one process never collide): runs by status and class,
  queue depth per class, runs in flight, a node duration histogram, store errors.
- **Live runs**: :class:`RunMonitor` receives the engine's callbacks of every run the
  platform executes (node started / succeeded / failed / skipped / retried), keeps
  the states of the runs in flight in memory for the dashboard's server-sent events,
  and journals each node's captured logs, error and traceback (table ``node_logs``) so
  they outlive the process. ``GET /runs/{id}/nodes/{node}/logs`` serves them.

Concurrency: callbacks run under the engine's lock on dispatcher or worker threads;
HTTP handlers read concurrently. ``RunMonitor._lock`` guards the live table; a run's
node dict is replaced, never resized, while readers copy it under that lock.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from typing import Any

from pydantic import BaseModel

from dagforge.errors import ServerOptionError
from dagforge.server.api_models import NodeLogs

log = logging.getLogger("dagforge.server")
access_log = logging.getLogger("dagforge.server.access")

_OURS = "_dagforge_handler"
# the W3C traceparent of the request being handled (set by AccessLog, read by accept)
incoming_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dagforge_incoming_traceparent", default=None
)
MAX_TRACEPARENTS = 10_000
_RECORD_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


# -- logging ----------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_KEYS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(fmt: str = "text", level: str | int = "INFO", stream: Any = None) -> Any:
    """Send ``dagforge.*`` records to ``stream`` (stderr) as ``text`` or ``json`` lines.

    Idempotent: a second call replaces the handler the first one installed. The
    engine's logger ``dagforge.execution`` is set to DEBUG so ``--log-level DEBUG``
    shows scheduling detail; the platform logs at INFO.
    """
    if fmt not in ("text", "json"):
        raise ServerOptionError(f"--log-format must be 'text' or 'json', got {fmt!r}")
    if isinstance(level, str):
        named = logging.getLevelName(level.upper())
        if not isinstance(named, int):
            raise ServerOptionError(
                f"--log-level {level!r} is not a logging level (DEBUG, INFO, ...)"
            )
        level = named
    root = logging.getLogger("dagforge")
    for h in list(root.handlers):
        if getattr(h, _OURS, False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _OURS, True)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False  # our handler prints it once; not again through the root logger
    return handler


def tracer_from_environment() -> Any:
    """The tracer ``dagforge serve --otel`` uses: the global tracer provider when one is
    set (e.g. by ``opentelemetry-instrument``), else an SDK provider exporting over
    OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4318``)."""
    try:
        from opentelemetry import trace
    except ModuleNotFoundError:
        raise ServerOptionError(
            "--otel needs the otel extra: pip install 'dagforge[otel]'"
        ) from None
    provider = trace.get_tracer_provider()
    if type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider"):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ModuleNotFoundError:
            raise ServerOptionError(
                "--otel exports over OTLP/HTTP: pip install 'dagforge[otlp]' "
                "(opentelemetry-exporter-otlp-proto-http), or run under opentelemetry-instrument"
            ) from None
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        sdk = TracerProvider(resource=service_resource())
        sdk.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(sdk)
        provider = sdk
    return provider.get_tracer("dagforge")


def service_resource() -> Any:
    """The OpenTelemetry resource of ``serve --otel``'s own provider: what
    ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` say, with ``service.name``
    ``dagforge`` when neither names the service."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "dagforge"}))
    return resource


def startup_line(settings: Any, url: str) -> str:
    """The one line ``dagforge serve`` prints when it is up: where, with what, how guarded."""
    if settings.token:
        auth = "token (reads public)" if settings.public_reads else "token"
    else:
        auth = "none (open)"
    store = settings.store or f"local directory {settings.data_dir / 'store'}"
    return (
        f"dagforge serving on {url} data_dir={settings.data_dir} store={store} "
        f"backend={settings.backend} workers={settings.workers} auth={auth} "
        f"resources={_capacity_text(getattr(settings, 'resources', None))} "
        f"ui={url.rstrip('/')}/ui"
    )


def _capacity_text(capacities: Any) -> str:
    if not capacities:
        return "none"
    return ",".join(f"{k}={float(v):g}" for k, v in capacities.items())


_ACCESS_FORMAT = '%s "%s %s" %d %dB %.1fms'
_ACCESS_FILE = __file__


class _AccessWriter:
    """Writes the access log off the event loop: the middleware appends one tuple per
    request (no record, no formatting, no write there — a write releases the GIL, and
    getting it back from busy dispatcher threads was most of the line's cost), and a
    daemon thread turns them into records every ``interval`` seconds, in order.

    Bounded: at ``limit`` pending lines the request that adds one writes them all
    itself. :meth:`flush` writes what is pending now (at the app's shutdown and at
    exit). Each record keeps the time its request finished.
    """

    def __init__(self, interval: float = 0.05, limit: int = 4096):
        self.interval = interval
        self.limit = limit
        self._pending: deque[tuple[Any, ...]] = deque()  # append/popleft: thread-safe
        self._write_lock = threading.Lock()  # one writer at a time: lines stay in order
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        if hasattr(os, "register_at_fork"):  # a forked server starts a writer of its own
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._pending = deque()
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread = None

    def add(self, line: tuple[Any, ...]) -> None:
        pending = self._pending
        pending.append(line)
        if self._thread is None:
            self._start()
        if len(pending) >= self.limit:
            self.flush()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                import atexit

                atexit.register(self.flush)
                thread = threading.Thread(
                    target=self._loop, name="dagforge-access-log", daemon=True
                )
                thread.start()
                self._thread = thread

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            if self._pending:
                try:
                    self.flush()
                except Exception:  # a broken handler must not end the writer
                    log.exception("access log: writing the pending lines failed")

    def flush(self) -> None:
        with self._write_lock:
            pending = self._pending
            while pending:
                created, client, method, path, status, size, ms = pending.popleft()
                record = access_log.makeRecord(
                    access_log.name,
                    logging.INFO,
                    _ACCESS_FILE,
                    0,
                    _ACCESS_FORMAT,
                    (client, method, path, status, size, ms),
                    None,
                    "AccessLog",
                    {
                        "client": client,
                        "method": method,
                        "path": path,
                        "status": status,
                        "bytes": size,
                        "duration_ms": round(ms, 3),
                    },
                )
                record.created = created
                record.msecs = (created - int(created)) * 1000.0
                record.relativeCreated = (created - logging._startTime) * 1000.0  # type: ignore[attr-defined]
                access_log.handle(record)


_access_writer = _AccessWriter()


class AccessLog:
    """ASGI middleware: one INFO line per HTTP request on ``dagforge.server.access``
    (written by :class:`_AccessWriter` off the event loop, within ~50 ms, in order)."""

    def __init__(self, app: Any, metrics: Metrics | None = None):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            try:
                await self.app(scope, receive, send)
            finally:
                if scope["type"] == "lifespan":  # the app stops: write what is pending
                    _access_writer.flush()
            return
        t0 = time.perf_counter()
        facts = [500, 0]  # status, body bytes
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                incoming_traceparent.set(value.decode("latin-1")[:100])
                break

        async def watch(message: Any) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                facts[1] += len(message.get("body", b""))
            elif kind == "http.response.start":
                facts[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                _access_writer.add(
                    (
                        time.time(),
                        client[0],
                        scope.get("method", ""),
                        scope.get("path", ""),
                        facts[0],
                        facts[1],
                        (time.perf_counter() - t0) * 1000.0,
                    )
                )


# -- live runs ----------------------------------------------------------------------------------

_NODE_LOGS = """
CREATE TABLE IF NOT EXISTS node_logs (
    run_id TEXT NOT NULL, instance TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER,
    error TEXT, traceback TEXT, logs TEXT, PRIMARY KEY (run_id, instance)
)
"""
MAX_TRACEBACK = 20_000
# what each node of a run requires and the capacity it ran against (the run page's
# resource timeline, also after a restart); one row per run that requires anything
_RUN_RESOURCES = """
CREATE TABLE IF NOT EXISTS run_resources (run_id TEXT PRIMARY KEY, body TEXT NOT NULL)
"""


class _Live:
    __slots__ = ("attempts", "capture", "nodes", "otel", "resources", "started", "t0")

    def __init__(self, capture: Any):
        self.capture = capture
        self.resources: dict[str, Any] | None = None  # {"requirements", "capacities"}
        self.otel: Any = None
        self.nodes: dict[str, list[Any]] = {}  # name -> [status, start, end] (wall seconds)
        self.attempts: dict[str, int] = {}
        self.started = time.time()
        self.t0 = time.perf_counter()


class RunMonitor:
    """Live node states of the runs in flight, their logs, and the metrics they feed."""

    def __init__(self, db: Any, capture_limit: int | None = None):
        self.db = db
        self.capture_limit = capture_limit
        self.metrics: Metrics | None = None
        self.tracer: Any = None  # an OpenTelemetry tracer: spans per run and node attempt
        self._traceparents: dict[str, str] = {}
        self._runs = 0
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._ready_table = False

    def _table(self) -> None:
        if not self._ready_table:
            self.db._write(_NODE_LOGS)
            self.db._write(_RUN_RESOURCES)
            self._ready_table = True

    def resources(
        self,
        run_id: str,
        requirements: dict[str, dict[str, float]],
        capacities: dict[str, float] | None,
    ) -> None:
        """Learn, at a run's start, what each of its spec nodes requires (an instance
        ``n#2`` requires what ``n`` does) and the capacity it runs against: kept for the
        live page and journaled, so a finished run's timeline outlives the process."""
        facts = {"requirements": requirements, "capacities": capacities}
        with self._lock:
            live = self._live.get(run_id)
            if live is None:
                live = self._live[run_id] = _Live(None)
            live.resources = facts if requirements else None
        if not requirements:  # the common case costs no statement (a retry has the
            return  # same snapshot, so no stale row can be left from an earlier attempt)
        try:
            self._table()
            self.db._write("DELETE FROM run_resources WHERE run_id=?", (run_id,))
            self.db._write(
                "INSERT INTO run_resources (run_id, body) VALUES (?, ?)",
                (run_id, json.dumps(facts, allow_nan=False)),
            )
        except Exception as exc:  # the run goes on; its timeline is only in memory
            if self.metrics is not None:
                self.metrics.store_errors.inc()
            log.warning("resource requirements of run %s not journaled: %s", run_id, exc)

    def resource_facts(self, run_id: str) -> dict[str, Any] | None:
        """``{"requirements": {node: {resource: amount}}, "capacities": {...} | None}``
        of a run that required resources (live, else journaled), or ``None``."""
        live = self._live.get(run_id)
        if live is not None and live.resources is not None:
            return live.resources
        try:
            self._table()
            rows = self.db._exec("SELECT body FROM run_resources WHERE run_id=?", (run_id,))
        except Exception:
            return None
        return json.loads(rows[0][0]) if rows else None

    def accepted(self, run_id: str) -> None:
        """Remember the traceparent of the request that accepted ``run_id`` (if traced)."""
        header = incoming_traceparent.get()
        if header and self.tracer is not None:
            with self._lock:
                if len(self._traceparents) >= MAX_TRACEPARENTS:
                    self._traceparents.pop(next(iter(self._traceparents)))
                self._traceparents[run_id] = header

    # what platform._execute asks for, once per run
    def capture(self, run_id: str, *, fresh: bool = False) -> Any:
        """The log capture of one run attempt. ``fresh``: no node of the run has ever
        started (its first attempt, never started before), so it has no rows to clear."""
        from dagforge.execution.capture import DEFAULT_LIMIT, LogCapture

        capture = LogCapture(self.capture_limit or DEFAULT_LIMIT)
        if not fresh:
            try:  # a retried run: its failed attempts' rows go, completed nodes' logs stay
                self._table()
                self.db._write(
                    "DELETE FROM node_logs WHERE run_id=? AND status != 'succeeded'", (run_id,)
                )
            except Exception as exc:
                log.warning("stale node logs of run %s not cleared: %s", run_id, exc)
        with self._lock:
            self._live[run_id] = _Live(capture)
            self._runs += 1
            prune = self._runs % 200 == 0
        if prune:  # now and then: drop logs of runs the journal pruned
            try:
                self.forget_pruned()
            except Exception as exc:
                log.warning("pruning node logs failed: %s", exc)
        return capture

    def callbacks(self, run_id: str, journal: Any) -> Any:
        """Engine callbacks for one run: ``journal(name, value)`` first, then the live view."""
        from dagforge.execution.callbacks import ExecutionCallbacks

        live = self._live.get(run_id)
        if live is None:
            live = _Live(None)
            with self._lock:
                self._live[run_id] = live
        nodes = live.nodes
        clock = time.time

        def started(name: str) -> None:
            nodes[name] = ["running", clock(), None]
            live.attempts[name] = live.attempts.get(name, 0) + 1

        def completed(name: str, value: Any) -> None:
            journal(name, value)
            self._ended(run_id, live, name, "succeeded", None)

        def failed(name: str, exc: BaseException) -> None:
            self._ended(run_id, live, name, "failed", exc)

        def skipped(name: str, reason: str) -> None:
            nodes[name] = ["skipped", None, None]

        def retried(name: str, attempt: int, exc: BaseException) -> None:
            entry = nodes.get(name)
            if entry is not None:
                entry[0] = "retrying"

        mine = ExecutionCallbacks(
            on_node_start=started,
            on_node_complete=completed,
            on_node_error=failed,
            on_node_skipped=skipped,
            on_node_retry=retried,
        )
        if self.tracer is None:
            return mine
        from dagforge.otel import OtelCallbacks, combine

        with self._lock:
            parent = self._traceparents.pop(run_id, None)
        live.otel = OtelCallbacks(self.tracer, traceparent=parent, run_id=run_id)
        return combine(mine, live.otel.callbacks())

    def _ended(
        self, run_id: str, live: _Live, name: str, status: str, exc: BaseException | None
    ) -> None:
        entry = live.nodes.get(name)
        end = time.time()
        if entry is None:
            entry = live.nodes[name] = [status, end, end]
        entry[0] = status
        entry[2] = end
        metrics = self.metrics
        if metrics is not None and entry[1] is not None:
            metrics.node_duration.labels(status).observe(max(end - entry[1], 0.0))
            if exc is not None and _is_store_error(exc):
                metrics.store_errors.inc()
        logs = live.capture.get(name) if live.capture is not None else None
        if exc is None and not logs and live.attempts.get(name, 1) <= 1:
            return  # nothing to keep beyond what the journal already has
        tb = None
        if exc is not None:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            tb = tb[-MAX_TRACEBACK:]
        try:
            self._table()
            self.db._write(
                "INSERT OR REPLACE INTO node_logs "
                "(run_id, instance, status, attempts, error, traceback, logs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    name,
                    status,
                    live.attempts.get(name, 1),
                    None if exc is None else f"{type(exc).__name__}: {exc}"[:2000],
                    tb,
                    json.dumps(logs.to_dict()) if logs else None,
                ),
            )
        except Exception as fault:  # the run goes on; its logs are only in memory
            if self.metrics is not None:
                self.metrics.store_errors.inc()
            log.warning("logs of node %s of run %s not journaled: %s", name, run_id, fault)

    # readers (HTTP handlers)

    def live(self, run_id: str) -> dict[str, Any] | None:
        """``{node: {status, start, end, attempts}}`` of a run in flight (wall seconds)."""
        live = self._live.get(run_id)
        if live is None:
            return None
        with self._lock:
            items = list(live.nodes.items())
            attempts = dict(live.attempts)
        return {
            name: {"status": e[0], "start": e[1], "end": e[2], "attempts": attempts.get(name, 0)}
            for name, e in items
        }

    def forget(self, run_id: str) -> None:
        """The run left its dispatcher (finished, failed to start, or interrupted)."""
        with self._lock:
            live = self._live.pop(run_id, None)
            self._traceparents.pop(run_id, None)
        if live is not None and live.otel is not None:
            live.otel.abandon()  # spans of a run that raised instead of completing

    def in_flight(self) -> int:
        return len(self._live)

    def details(self, run_id: str, node: str | None = None) -> dict[str, dict[str, Any]]:
        """Journaled error, traceback and logs of a run's nodes (one node, or all)."""
        try:
            self._table()
        except Exception:
            return {}
        sql = "SELECT instance, status, attempts, error, traceback, logs FROM node_logs "
        if node is None:
            rows = self.db._exec(sql + "WHERE run_id=?", (run_id,))
        else:
            rows = self.db._exec(sql + "WHERE run_id=? AND instance=?", (run_id, node))
        out = {}
        for inst, status, attempts, error, tb, logs in rows:
            out[inst] = {
                "status": status,
                "attempts": attempts,
                "error": error,
                "traceback": tb,
                "logs": json.loads(logs) if logs else None,
            }
        live = self._live.get(run_id)
        if live is not None and live.capture is not None:  # logs so far of running nodes
            for name, logs in list(live.capture.logs.items()):
                if (node is None or name == node) and name not in out:
                    out[name] = {
                        "status": live.nodes.get(name, ["running"])[0],
                        "attempts": live.attempts.get(name, 1),
                        "error": None,
                        "traceback": None,
                        "logs": logs.to_dict(),
                    }
        return out

    def forget_pruned(self) -> None:
        """Drop the logs of runs the journal no longer holds (after journal pruning)."""
        self._table()
        self.db._write("DELETE FROM node_logs WHERE run_id NOT IN (SELECT id FROM runs)")
        self.db._write("DELETE FROM run_resources WHERE run_id NOT IN (SELECT id FROM runs)")


def _is_store_error(exc: BaseException) -> bool:
    from dagforge.errors import StorageFault, StoreError

    return isinstance(exc, StoreError | StorageFault)


# -- metrics ------------------------------------------------------------------------------------


class Metrics:
    """The platform's Prometheus metrics, in a registry of their own."""

    def __init__(self, platform: Any):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.platform = platform
        self.registry = CollectorRegistry(auto_describe=True)
        self.node_duration = Histogram(
            "dagforge_node_duration_seconds",
            "Wall time of node attempts of platform runs, by how they ended.",
            ["status"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300),
            registry=self.registry,
        )
        self.store_errors = Counter(
            "dagforge_store_errors",
            "Journal or data-store operations that failed (503 answers, node store errors).",
            registry=self.registry,
        )
        self.registry.register(_Collector(self))

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Collector:
    """Values read at scrape time from the journal, the queues and the monitor."""

    def __init__(self, metrics: Metrics):
        self.m = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        from dagforge.server.dispatch import CLASSES

        plat = self.m.platform
        runs = GaugeMetricFamily(
            "dagforge_runs",
            "Runs in the journal by status and priority class.",
            labels=["status", "class"],
        )
        try:
            rows = plat.db._exec("SELECT status, priority, COUNT(*) FROM runs GROUP BY 1, 2")
        except Exception:
            self.m.store_errors.inc()
            rows = []
        for status, cls, count in rows:
            runs.add_metric([status, cls], count)
        yield runs
        depth = GaugeMetricFamily(
            "dagforge_queue_depth", "Runs waiting per priority class.", labels=["class"]
        )
        sizes = plat.queues.sizes()
        for cls in CLASSES:
            depth.add_metric([cls], sizes.get(cls, 0))
        yield depth
        flight = GaugeMetricFamily("dagforge_runs_in_flight", "Runs executing right now.")
        flight.add_metric([], plat.monitor.in_flight())
        yield flight


# -- routes -------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    journal: str
    store: str


def install(app: Any, plat: Any) -> Metrics:
    """Add /health, /ready, /metrics, the node logs route and the access log to ``app``."""
    from fastapi import Depends, HTTPException, Response
    from fastapi.responses import JSONResponse

    from dagforge.errors import RegistryError, StorageFault

    metrics = Metrics(plat)
    plat.monitor.metrics = metrics
    app.state.metrics = metrics
    app.add_middleware(AccessLog, metrics=metrics)

    handler = app.exception_handlers.get(StorageFault)
    if handler is not None:

        async def counted(request: Any, exc: Exception) -> Any:
            metrics.store_errors.inc()
            return await handler(request, exc)

        app.exception_handlers[StorageFault] = counted

    @app.get("/health", tags=["operations"], response_model=Health)
    def health() -> Health:
        """Alive: the process answers HTTP (a liveness probe)."""
        return Health(status="ok")

    @app.get(
        "/ready",
        tags=["operations"],
        response_model=Ready,
        responses={503: {"model": Ready, "description": "journal or store unreachable"}},
    )
    def ready() -> Any:
        """Ready: the journal answers a query and the store answers a lookup."""
        journal = store = "ok"
        try:
            plat.db._exec("SELECT 1")
        except Exception as exc:
            journal = f"unreachable: {exc}"
        try:
            plat.store.exists("ready/probe/ping")
        except Exception as exc:
            store = f"unreachable: {type(exc).__name__}: {exc}"
        if journal == store == "ok":
            return Ready(status="ready", journal=journal, store=store)
        metrics.store_errors.inc()
        body = Ready(status="not ready", journal=journal, store=store)
        return JSONResponse(body.model_dump(), status_code=503)

    @app.get("/metrics", tags=["operations"], response_class=Response, response_model=None)
    def scrape(_: None = Depends(app.state.read_auth)) -> Response:
        """Prometheus text format (needs the token like every read, unless --public-reads)."""
        body, ctype = metrics.render()
        return Response(body, media_type=ctype)

    @app.get("/runs/{run_id}/nodes/{node}/logs", tags=["runs"], response_model=NodeLogs)
    def node_logs(run_id: str, node: str, _: None = Depends(app.state.read_auth)) -> Any:
        """A node's captured stdout, stderr and log records, its error and traceback."""
        try:
            record = plat.db.run(run_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        found = plat.monitor.details(run_id, node).get(node)
        nodes = record.get("nodes") or {}
        live = plat.monitor.live(run_id) or {}
        if found is None:
            known = nodes.get(node) or live.get(node)
            if known is None and node not in plat.db.completed_nodes(run_id):
                raise HTTPException(
                    404, f"run {run_id!r} has no node {node!r} (yet); see GET /runs/{run_id}"
                )
            status = (known or {}).get("status", "succeeded")
            found = {"status": status, "logs": None}
        logs = found.get("logs") or {}
        status = (nodes.get(node) or {}).get("status") or found["status"]
        return NodeLogs(
            run_id=run_id,
            node=node,
            status=status,
            attempts=found.get("attempts"),
            error=found.get("error"),
            traceback=found.get("traceback"),
            stdout=logs.get("stdout", ""),
            stderr=logs.get("stderr", ""),
            records=logs.get("records", []),
            truncated=logs.get("truncated", False),
        )

    return metrics
