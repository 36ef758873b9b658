"""The platform core: registries, run queues, dispatcher threads.

The request log is ``request_log.py``; what wraps a run against cancels and lost
leases is ``run_guards.py``.

HTTP is a thin layer over this (``app.py``). A run's life:
``accept`` (journaled, queued by priority class) -> a dispatcher thread takes it by
weighted round robin -> ``run_workflow`` on the one engine (node completions
journaled as they happen) -> finished (journaled, logged, waiters woken). On start-up
every journaled run that had not finished is queued again and resumes from the nodes
it had completed, so accepted work is never lost and no completed node runs twice.
A failed or cancelled run can be retried (``retry``): the same run is queued again as a
new attempt and resumes the same way; the attempts that ended are its ``history``.
A cancel sets the run's event: its functions refuse to start, and a run on the threads
backend stops waiting for its running nodes (the engine abandons them).

Concurrency hazards: request handlers call ``accept``/``subscribe``/read methods;
dispatcher threads call ``_execute``. Shared state: ``db`` (own lock), ``queues`` (own
condition), ``_waiters`` and ``_results`` (guarded by ``_lock``; never held while running
a run). A waiter is one ``Future`` per waiting request, so a request that gives up
(timeout, client gone) cancels only its own future; the finisher skips done futures.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagforge.errors import (
    DagforgeError,
    LeaseLost,
    RegistryError,
    SpecError,
    StorageFault,
    UnknownFunctionError,
)
from dagforge.server.database.wiring import (
    open_platform_database,
    platform_queues,
    start_platform,
)
from dagforge.server.dispatch import CLASSES, QueueFull
from dagforge.server.guards import UrlPolicy, check_json
from dagforge.server.request_log import RequestLog
from dagforge.server.run_guards import (
    CANCELLED_REASON,
    Guarded,
    Refused,
    RunCancelled,
    cancellable,
    fenced,
    unused,
)

log = logging.getLogger("dagforge.server")

MAX_ERROR = 2000  # characters of a run's error kept in the journal
LIVE = ("queued", "running")
RETRYABLE = ("failed", "cancelled")
RELEASE_WAIT = 10.0  # seconds a retry waits for a cancelled run's dispatcher to let it go
MAX_SPECS = 256  # validated spec models kept (_checked_spec), oldest dropped first


@dataclass
class Settings:
    """Everything ``dagforge serve`` can be told."""

    data_dir: Path = Path("dagforge-data")
    database_url: str | None = None  # default: <data_dir>/dagforge.sqlite3
    store: str | None = None
    workers: int = 2
    token: str | None = None
    allow_modules: tuple[str, ...] | None = None
    max_body: int = 1_000_000
    backend: str = "threads"
    weights: dict[str, int] = field(default_factory=dict)
    retention: float | None = None
    serializer: str = "json"
    allow_pickle: bool = False
    allow_urls: tuple[str, ...] | None = None
    public_reads: bool = False
    max_iterations: int = 1000
    max_queued: int = 10_000
    max_depth: int = 64
    journal_retention: float | None = None
    results_bytes: int = 64_000_000
    max_list: int = 500
    resources: dict[str, float] | None = None  # --resources: the capacity runs share


class Platform:
    """The workflow platform, usable without HTTP (tests, embedding)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        _check_serializer(settings)
        settings.data_dir = Path(settings.data_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(settings.max_iterations, bool) or settings.max_iterations < 1:
            raise RegistryError(
                f"--max-iterations must be a positive integer, got {settings.max_iterations!r}"
            )
        token = settings.token
        if token is not None and (not token or not token.isascii() or not token.isprintable()):
            raise RegistryError(
                "--token must be non-empty printable ASCII (it travels in an HTTP header)"
            )
        self.urls = UrlPolicy(settings.allow_urls)
        from dagforge.server.capacity import Capacity

        self.capacity = Capacity(settings.resources)  # one ResourcePool for every run
        self.db = open_platform_database(settings)  # SchemaError if not migrated
        self.queues = platform_queues(self.db, settings)  # leased on PostgreSQL
        self.store = self._open_store()
        self.request_log = RequestLog(settings.data_dir)  # DAGit's ten fields, and JSON lines
        self.log_path = self.request_log.path
        self.jsonl_path = self.request_log.jsonl_path
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Future]] = {}
        self._results: dict[str, tuple[Any, int]] = {}
        self._specs: dict[str, Any] = {}  # spec JSON -> its validated model (_checked_spec)
        self._results_bytes = 0
        self._cancel: dict[str, threading.Event] = {}
        self._finishing: set[str] = set()
        self._released = threading.Condition(self._lock)  # a dispatcher let a run go
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._wakeup = threading.Event()
        from dagforge.server.observability import RunMonitor

        self.monitor = RunMonitor(self.db)  # live node states, logs, metrics (issue 15)
        from dagforge.server.schedules import Scheduler

        self.schedules = Scheduler(self.db, self.queues, snapshot=self._snapshot)

    def _open_store(self) -> Any:
        from dagforge.store import LocalDirStore, open_store

        if self.settings.store:
            return open_store(self.settings.store)
        return LocalDirStore(self.settings.data_dir / "store")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for run in self.db.unfinished_runs():  # resume what a crash interrupted
            self.queues.put(run["priority"], run["id"], force=True)
        for k in range(self.settings.workers):
            t = threading.Thread(
                target=self._dispatch_loop, name=f"dagforge-dispatch-{k}", daemon=True
            )
            t.start()
            self._threads.append(t)
        if self.settings.journal_retention is not None:
            t = threading.Thread(target=self._prune_loop, name="dagforge-prune", daemon=True)
            t.start()
            self._threads.append(t)
        start_platform(self)  # schedules; leased queues learn waiters and cancels

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        self.schedules.stop()
        self.queues.close()
        for t in self._threads:
            t.join(timeout=5)
        self.db.close()

    # -- registries ----------------------------------------------------------------------------

    def register_function(self, body: dict[str, Any]) -> dict[str, Any]:
        body = self._body(body)
        name = _name(body.get("name") or body.get("function_name"), "function", "name")
        kind = body.get("kind", "python")
        if kind == "python":
            path = body.get("path") or body.get("import_path")
            if not isinstance(path, str) or ":" not in path:
                raise RegistryError(
                    f"function {name!r}: kind 'python' needs 'path': 'package.module:function'"
                )
            if self.settings.allow_modules is None:
                raise UnknownFunctionError(
                    f"function {name!r}: python functions are disabled on this server; the "
                    "operator enables them with --allow-module PACKAGE (the packages whose "
                    "functions may run)"
                )
            registry = self._registry_for()
            registry.register_path(name, path)  # checks --allow-module
            registry.resolve(name)  # defined in an allowed package, no module hops
        elif kind == "http":
            self.urls.check(name, body.get("url"))  # checks --allow-url
        else:
            raise RegistryError(f"function {name!r}: kind must be 'python' or 'http', got {kind!r}")
        ftype = body.get("type", "cpu")
        if ftype not in ("cpu", "gpu"):
            raise RegistryError(f"function {name!r}: type must be 'cpu' or 'gpu'")
        self.capacity.check_function(name, body)  # 422: malformed, no --resources, too big
        record = {k: v for k, v in body.items() if k != "function_name"}
        record.update(name=name, kind=kind, type=ftype)
        self.db.put("functions", name, record)
        return record

    def register_dag(self, body: dict[str, Any]) -> dict[str, Any]:
        from dagforge.spec import load_spec

        body = self._body(body)
        spec = load_spec(body)  # SpecError with the JSON path
        _name(spec.name, "DAG", "name")
        cap = self.settings.max_iterations
        if spec.max_iterations > cap and "max_iterations" in body:
            raise SpecError(
                f"max_iterations {spec.max_iterations} is over this server's limit of {cap} "
                "(--max-iterations)",
                path="max_iterations",
            )
        self.capacity.check_spec(spec)  # 422 at the node's resources path
        self.db.put("dags", spec.name, body)
        return body

    def register_trigger(self, body: dict[str, Any]) -> dict[str, Any]:
        body = self._body(body)
        name = _name(body.get("trigger_name"), "trigger", "trigger_name")
        ttype = body.get("type")
        if ttype not in ("dag", "function"):
            raise RegistryError(f"trigger {name!r}: type must be 'dag' or 'function'")
        priority = body.get("priority", "bronze")
        if priority not in CLASSES:
            raise RegistryError(f"trigger {name!r}: priority must be one of {CLASSES}")
        dags = body.get("dags") or []
        functions = body.get("functions") or []
        targets = dags if ttype == "dag" else functions
        if not isinstance(targets, list) or not targets:
            raise RegistryError(
                f"trigger {name!r}: type {ttype!r} needs a non-empty "
                f"'{'dags' if ttype == 'dag' else 'functions'}' list"
            )
        if not all(isinstance(t, str) and t for t in targets):
            raise RegistryError(
                f"trigger {name!r}: '{'dags' if ttype == 'dag' else 'functions'}' must list "
                f"names (non-empty strings), got {targets!r}"
            )
        record = {
            "trigger_name": name,
            "type": ttype,
            "priority": priority,
            "dags": dags if ttype == "dag" else [],
            "functions": functions if ttype == "function" else [],
        }
        self.db.put("triggers", name, record)
        return record

    def registry_page(
        self, table: str, limit: int, after: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` registered bodies of ``table`` by name, after the name ``after``."""
        if table not in ("functions", "dags", "triggers"):
            raise RegistryError(f"unknown registry {table!r}")
        if after is None:
            rows = self.db._exec(f"SELECT body FROM {table} ORDER BY name LIMIT ?", (limit,))
        else:
            rows = self.db._exec(
                f"SELECT body FROM {table} WHERE name > ? ORDER BY name LIMIT ?", (after, limit)
            )
        return [json.loads(r[0]) for r in rows]

    def _body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RegistryError(f"the body must be a JSON object, got {type(body).__name__}")
        check_json(body, "body", self.settings.max_depth)
        return body

    # -- runs ------------------------------------------------------------------------------------

    def accept(
        self, trigger: str, arguments: dict[str, Any], waiter: Future | None = None
    ) -> dict[str, Any]:
        """Journal and queue a run; return its id.

        ``waiter`` (optional) is registered before the run is queued, so it is resolved
        with the run's record when it finishes, however fast that is.
        """
        if not isinstance(arguments, dict):
            raise RegistryError(
                f"trigger arguments must be a JSON object, got {type(arguments).__name__}"
            )
        check_json(arguments, "arguments", self.settings.max_depth)
        record = self.db.get("triggers", trigger)
        run_id = uuid.uuid4().hex
        self.monitor.accepted(run_id)  # the request's traceparent, for OTel (issue 15)
        dag = record["dags"][0] if record["type"] == "dag" else None
        if self.queues.sizes()[record["priority"]] >= self.settings.max_queued:
            raise QueueFull(record["priority"], self.settings.max_queued)  # before journaling
        snapshot = self._snapshot(record)
        self.capacity.check_run(trigger, snapshot)  # 422: a node could never start here
        accepted = self.db.accept_run(
            run_id, trigger, dag, record["priority"], arguments, snapshot
        )  # StorageFault: nothing was written
        if waiter is not None:
            with self._lock:
                self._waiters.setdefault(run_id, []).append(waiter)
        try:
            self.queues.put(record["priority"], run_id)
        except QueueFull:  # filled up since the check above: take the accept back
            if waiter is not None:
                self.unsubscribe(run_id, waiter)
            self.db.forget_run(run_id)
            raise
        return {
            "run_id": run_id,
            "status": "queued",
            "priority": record["priority"],
            "accepted": accepted,
        }

    def _snapshot(self, trigger: dict[str, Any]) -> dict[str, Any]:
        """What an accepted run will execute: its spec and the functions it names."""
        snapshot: dict[str, Any] = {"trigger": trigger, "spec": None, "functions": {}}
        if trigger["type"] == "dag":
            try:
                snapshot["spec"] = self.db.get("dags", trigger["dags"][0])
            except RegistryError:
                return snapshot  # the run fails with a clear SpecError when it runs
        else:
            snapshot["spec"] = _function_spec(trigger["functions"][0])
        names = {e.get("node_id") for e in snapshot["spec"].get("dag", []) if isinstance(e, dict)}
        wanted = sorted(n for n in names if isinstance(n, str))
        snapshot["functions"] = self.db.get_many("functions", wanted)  # unknown: fail at run
        return snapshot

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run: a queued one never starts; a running one starts nothing new and
        its running nodes are abandoned (their outputs are dropped). Journaled, so a
        restart does not resume it. Returns the run's record; ``RunFinished`` if it had
        finished already, ``RegistryError`` for an unknown id.
        """
        record = self.db.run(run_id)
        with self._lock:
            finishing = run_id in self._finishing
            event = None
            if not finishing and record["status"] in LIVE and self.db.run_cancelled(run_id):
                event = self._cancel.get(run_id)
                if event is not None:
                    event.set()  # its dispatcher ends it and writes its log line
                cancelled = True
            else:
                cancelled = False
        if not cancelled:
            record = self.db.run(run_id)
            raise RunFinished(f"run {run_id!r} has already finished ({record['status']})")
        self.queues.discard(record["priority"], run_id)
        record = self.db.run(run_id)
        if event is None:  # no dispatcher holds it (queued, or resumed and waiting)
            started = record["started"] or record["finished"]
            attempt = len(self.history(run_id)) + 1
            self._log_safely(record, started, record["finished"], "cancelled", None, attempt)
        self._wake(run_id)
        return record

    def retry(self, run_id: str) -> dict[str, Any]:
        """Redrive a failed or cancelled run: the same run, a new attempt.

        The run goes back to ``queued`` under its id; its journaled node outputs stay, so
        the dispatcher resumes it from where it stopped (completed nodes are restored,
        not called again) with the snapshot it was accepted with. The attempt that ended
        is appended to the run's history (kept in its snapshot). ``RunNotRetryable`` for
        a live or succeeded run, ``QueueFull`` when its class is full, ``RegistryError``
        for an unknown id. A cancelled run whose dispatcher is still abandoning its
        nodes is waited for (up to ``RELEASE_WAIT`` s) so the two never overlap.
        """
        record = self.db.run(run_id)
        if record["status"] not in RETRYABLE:
            raise RunNotRetryable(
                f"run {run_id!r} is {record['status']}: only a failed or cancelled run can "
                "be retried"
            )
        with self._lock:
            if not self._released.wait_for(lambda: run_id not in self._cancel, RELEASE_WAIT):
                raise RunNotRetryable(
                    f"run {run_id!r} is still stopping (its dispatcher has not let it go "
                    f"after {RELEASE_WAIT:g}s); retry it later"
                )
        priority = record["priority"]
        if self.queues.sizes()[priority] >= self.settings.max_queued:
            raise QueueFull(priority, self.settings.max_queued)
        snapshot = self.db.snapshot(run_id)
        if snapshot is None:  # journaled before snapshots existed: the registries now
            snapshot = self._snapshot(self.db.get("triggers", record["trigger"]))
        history = list(snapshot.get("history") or [])
        history.append(
            {
                "attempt": len(history) + 1,
                "status": record["status"],
                "started": record["started"],
                "finished": record["finished"],
                "error": record["error"],
                "nodes": {
                    name: node.get("status") if isinstance(node, dict) else node
                    for name, node in (record["nodes"] or {}).items()
                },
                "retried": time.time(),
            }
        )
        reused = len(self.db.completed_nodes(run_id))
        written = json.dumps({**snapshot, "history": history}, allow_nan=False)
        changed = self.db._write(
            "UPDATE runs SET status='queued', started=NULL, finished=NULL, outputs=NULL, "
            "error=NULL, nodes=NULL, snapshot=? WHERE id=? AND status=?",
            (written, run_id, record["status"]),
        )  # one statement: a concurrent retry (or anything else) that got there first wins
        if not changed:
            now = self.db.run(run_id)["status"]
            raise RunNotRetryable(f"run {run_id!r} is {now}: it changed while being retried")
        self.queues.put(priority, run_id, force=True)  # accepted work: never dropped
        return {
            "run_id": run_id,
            "status": "queued",
            "priority": priority,
            "attempt": len(history) + 1,
            "reused_nodes": reused,
            "history": history,
        }

    def history(self, run_id: str) -> list[dict[str, Any]]:
        """The attempts of a run that ended before it was retried, oldest first."""
        snapshot = self.db.snapshot(run_id)
        return list((snapshot or {}).get("history") or [])

    def subscribe(self, run_id: str) -> Future:
        """A future resolved with the run's record when it finishes (at once if it has).

        Race-free against the finisher: it commits the final status *before* taking the
        waiters under ``_lock``, so a subscriber registered too late for that sees the
        final status in the journal instead. Raises ``RegistryError`` for unknown ids.
        """
        future: Future = Future()
        with self._lock:
            self._waiters.setdefault(run_id, []).append(future)
        record = self.db.run(run_id)
        if record["status"] not in LIVE:
            with self._lock:
                waiting = self._waiters.get(run_id, [])
                if future in waiting:
                    waiting.remove(future)
                if not waiting:
                    self._waiters.pop(run_id, None)
            _resolve(future, record)
        return future

    def unsubscribe(self, run_id: str, future: Future) -> None:
        """Forget a waiter that gave up (so abandoned waits do not accumulate)."""
        with self._lock:
            waiting = self._waiters.get(run_id)
            if waiting and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiters[run_id]

    def result(self, run_id: str) -> Any:
        with self._lock:
            held = self._results.get(run_id)
        return None if held is None else held[0]

    def _keep_result(self, run_id: str, result: Any, size: int) -> None:
        """Hold a finished run's result (for profiles/traces) within ``results_bytes``."""
        limit = self.settings.results_bytes
        if size > limit:
            return
        # what a held result is read for (profiles, traces, pages, DAGit's output
        # routes) needs the run's structure, not its callables: holding the skeleton
        # keeps ~75 fewer objects a run for every full garbage collection to walk
        dag = getattr(result, "dag", None)
        if dag is not None:
            result.dag = dag.skeleton()
        result.planner = None
        result.release_frames()  # a failed node's locals are not what the byte bound counts
        with self._lock:
            old = self._results.pop(run_id, None)
            if old is not None:
                self._results_bytes -= old[1]
            self._results[run_id] = (result, size)
            self._results_bytes += size
            while self._results_bytes > limit or len(self._results) > 1000:
                _, dropped = self._results.pop(next(iter(self._results)))
                self._results_bytes -= dropped

    def _dispatch_loop(self) -> None:
        while not self._stopping:
            try:
                item = self.queues.get(timeout=0.5)  # leased queues read the database
            except StorageFault as exc:  # the database is away: keep the dispatcher alive
                if not self._stopping:
                    log.warning("claiming a run failed, trying again: %s", exc)
                    self._wakeup.wait(1.0)
                continue
            if item is not None:
                self._dispatch(*item)  # leased queues add the claim's fence

    def _dispatch(self, priority: str, run_id: str, fence: int | None = None) -> None:
        """Execute one claimed run; whatever happens, let go of it (never raises, so a
        dispatcher thread never dies with a run half-done).

        ``fence``: the claim this replica got for the run (leased queues; None for the
        single server's own queues). The run's journal writes carry it; once another
        replica has claimed the run (this one's lease expired) they raise ``LeaseLost``
        and this replica drops the run: it writes nothing more for it, logs no request
        line and resolves no waiter (the new owner does; the keeper wakes local waiters
        when the journal says the run finished)."""
        try:
            self._execute(run_id, fence)
        except LeaseLost as exc:
            self._lease_lost(exc)
        except StorageFault as exc:  # the journal cannot be written: try again later
            if self._stopping:
                return  # the journal still says 'running': the next start resumes it
            log.error("run %s interrupted by a storage fault, queued again: %s", run_id, exc)
            self._requeue_later(priority, run_id)
        except Exception as exc:
            if self._stopping:
                return
            log.exception("run %s: internal error", run_id)
            try:
                self.db.run_finished(
                    run_id,
                    "failed",
                    None,
                    _bounded(f"internal error: {_describe(exc)}"),
                    {},
                    fence,
                )
                self._wake(run_id)
            except LeaseLost as lost:
                self._lease_lost(lost)
            except Exception:  # the journal itself is unusable; the run resumes later
                self._requeue_later(priority, run_id)
        finally:
            with self._lock:
                self._cancel.pop(run_id, None)
                self._finishing.discard(run_id)
                self._released.notify_all()
            self.monitor.forget(run_id)

    @staticmethod
    def _lease_lost(exc: LeaseLost) -> None:
        log.warning(
            "run %s: lease lost (this replica's claim %s, the journal's now %s%s): "
            "stopped here, nothing more journaled; the new owner finishes it",
            exc.run_id,
            exc.fence,
            exc.claims,
            f", held by {exc.owner}" if exc.owner else "",
        )

    def _requeue_later(self, priority: str, run_id: str, delay: float = 1.0) -> None:
        """Queue a run again once a storage fault may have cleared (a timer, not a sleep)."""

        def again() -> None:
            if not self._stopping:
                self.queues.put(priority, run_id, force=True)

        timer = threading.Timer(delay, again)
        timer.daemon = True
        timer.start()

    def _execute(self, run_id: str, fence: int | None = None) -> None:
        from dagforge.spec import run_workflow

        run, snapshot = self.db.run_and_snapshot(run_id)
        if run["status"] not in LIVE:  # cancelled while queued, or queued again after a
            self._wake(run_id, run)  # storage fault hit its final steps: wake the waiters
            return
        cancel = threading.Event()
        with self._lock:
            self._cancel[run_id] = cancel
        started = self.db.run_started(run_id, fence)  # LeaseLost: claimed again since
        if started is None:
            return  # cancelled between the two statements above
        history = (snapshot or {}).get("history") or []
        attempt = len(history) + 1
        # A run that never started and was never retried has no node results or node
        # logs yet (both are written only after run_started): two statements saved a run.
        # Snapshot-less runs (older journals) cannot tell, so they always look.
        fresh = run["started"] is None and snapshot is not None and not history
        completed = {} if fresh else self.db.completed_nodes(run_id)

        lost: list[LeaseLost] = []

        def journal(inst: str, out: Any) -> None:
            if not cancel.is_set():
                try:
                    self.db.node_done(run_id, inst, out, fence)
                except LeaseLost as exc:  # taken over: start nothing more, write nothing
                    lost.append(exc)
                    cancel.set()

        capture = self.monitor.capture(run_id, fresh=fresh)  # per-node output/log records
        if fence is None:
            callbacks = self.monitor.callbacks(run_id, journal)  # journal, then live view
        else:  # once the run is another replica's, its node logs are not written here
            claim: int = fence

            def still_mine() -> bool:
                if cancel.is_set() and not lost:  # a cancel, or the keeper saw a takeover
                    try:
                        self.db.check_fence(run_id, claim)
                    except LeaseLost as exc:
                        lost.append(exc)
                return not lost

            callbacks = fenced(self.monitor.callbacks(run_id, unused), journal, still_mine)
        status, outputs, error, nodes, result = "failed", None, None, {}, None
        try:
            spec, registry = self._spec_for(run, snapshot, run_id, cancel)
            needs = self.capacity.for_run(snapshot)  # ResourceError: no --resources now
            self.monitor.resources(run_id, needs, self.capacity.capacities)  # the timeline
            limit = self.settings.max_iterations
            asked = spec.get("max_iterations") if isinstance(spec, dict) else None
            result = run_workflow(
                self._checked_spec(spec),
                registry,
                run["arguments"],
                # a run that may wait for the shared pool waits on a cancellable backend
                # (inline, a cancel would be seen only once its resources were free)
                backend=cancellable("threads", cancel)
                if needs and self.settings.backend == "threads"
                else self._backend_for(spec, cancel),
                store=self.store,
                run_id=run_id,
                completed=completed,
                callbacks=callbacks,
                enable_tracing=True,
                profile=False,
                serializer=self.settings.serializer,
                max_iterations=min(asked, limit) if isinstance(asked, int) else limit,
                capture_logs=capture,
                resources=needs,
                resource_pool=self.capacity.pool if needs else None,
            )
            status = "succeeded" if result.ok else "failed"
            outputs = result.workflow_outputs
            error = "; ".join(f"{n}: {_describe(e)}" for n, e in result.failures.items()) or None
        except (StorageFault, LeaseLost):
            raise
        except RunCancelled:  # the engine's wait saw the cancel outside its own loop
            error = CANCELLED_REASON
        except DagforgeError as exc:
            error = _describe(exc)
            result = getattr(exc, "result", None)
        except Exception as exc:  # a function's bug must fail its run, not the platform
            if self._stopping:
                raise
            error = f"internal error: {_describe(exc)}"
        if lost:
            raise lost[0]
        if result is not None:
            cancelled = cancel.is_set()
            nodes = {
                name: {
                    "status": "cancelled"
                    if cancelled and r.status in ("failed", "skipped")
                    else r.status,
                    "start": r.start,
                    "end": r.end,
                    "worker": r.worker,
                    "reason": CANCELLED_REASON
                    if cancelled and r.status == "cancelled" and r.reason
                    else r.reason,
                    "restored": name in completed,
                }
                for name, r in result.results.items()
            }
        with self._lock:
            self._finishing.add(run_id)  # from here on a cancel answers "already finished"
            if cancel.is_set():
                status, outputs, error = "cancelled", None, "cancelled"
        outputs_text = _json_text(outputs)  # the journal's encoding, made once here
        size = len(outputs_text or "") + 200 * len(nodes)
        final = None  # the finished run's record, as the journal now holds it
        if status == "cancelled":  # the cancel journaled it: add the node states only
            finished = self._cancelled_nodes(run_id, nodes, fence)  # or LeaseLost
        else:
            error = _bounded(error)
            finished = self.db.run_finished(run_id, status, outputs, error, nodes, fence)
            final = {
                **run,
                "status": status,
                "started": run["started"] if run["started"] is not None else started,
                "finished": finished,
                "outputs": None if outputs_text is None else json.loads(outputs_text),
                "error": error,
                "nodes": _as_journaled(nodes),
            }
        cleanup_error = None
        if self.settings.retention is not None:
            try:
                self.store.expire_prefix(f"{run_id}/", self.settings.retention)
            except Exception as exc:  # the run stays what its nodes made it
                cleanup_error = _bounded(f"retention: {_describe(exc)}")
                log.warning("run %s finished %s; cleanup failed: %s", run_id, status, exc)
        self._log_safely(run, started, finished, status, cleanup_error, attempt)
        if result is not None:
            self._keep_result(run_id, result, size)
        self._wake(run_id, final)

    def _checked_spec(self, spec: Any) -> Any:
        """The validated model of a run's spec, validated once per distinct document.

        Runs of one trigger carry equal spec documents (their snapshots), and validating
        one again costs about 0.15 ms a run; the model is only read by the runs that
        share it. A spec that does not validate is not kept: ``load_spec`` raises for
        it at every run, as before.
        """
        if not isinstance(spec, dict):
            return spec
        from dagforge.spec import load_spec

        key = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
        with self._lock:
            model = self._specs.get(key)
        if model is None:
            model = load_spec(spec)
            with self._lock:
                if len(self._specs) >= MAX_SPECS:
                    self._specs.pop(next(iter(self._specs)))
                self._specs[key] = model
        return model

    def _cancelled_nodes(
        self, run_id: str, nodes: dict[str, Any], fence: int | None = None
    ) -> float:
        """Record a cancelled run's node states, unless it was retried since (from another
        replica, while this one still waited for a running node): then the row is the
        new attempt's and is left alone. With a ``fence``, also only while the run is
        still this replica's claim; ``LeaseLost`` when another replica has claimed it
        since (the keeper sets the cancel event of a run taken over)."""
        sql = "UPDATE runs SET nodes=?, outputs=? WHERE id=? AND status='cancelled'"
        args: tuple[Any, ...] = (json.dumps(nodes, default=str), json.dumps(None), run_id)
        if fence is None:
            self.db._write(sql, args)
        elif not self.db._write(sql + " AND claims=?", (*args, fence)):
            self.db.check_fence(run_id, fence)  # LeaseLost; else retried since: left alone
        return time.time()

    def _wake(self, run_id: str, record: dict[str, Any] | None = None) -> None:
        """Resolve every waiter of a finished run (called after the final commit) with
        ``record``, the run as journaled, when the caller has it; else read it."""
        with self._lock:
            waiting = self._waiters.pop(run_id, [])
        if waiting:
            if record is None:
                record = self.db.run(run_id)
            for future in waiting:
                _resolve(future, record)

    def _spec_for(
        self,
        run: dict[str, Any],
        snapshot: dict[str, Any] | None,
        run_id: str,
        cancel: threading.Event,
    ) -> tuple[Any, Any]:
        """The spec and functions to run: the run's snapshot (the registries as they were
        when it was accepted), or the live registries for runs journaled before
        snapshots existed. Every function is checked again against this server's
        --allow-module / --allow-url, and wrapped so a cancel starts nothing new."""
        if snapshot is None:
            trigger = self.db.get("triggers", run["trigger"])
            snapshot = self._snapshot(trigger)
        trigger = snapshot["trigger"]
        spec = snapshot["spec"]
        if spec is None:
            raise SpecError(
                f"trigger {trigger['trigger_name']!r} names DAG {trigger['dags'][0]!r}, "
                "which was not registered when the run was accepted"
            )
        registry = self._registry_for()
        for fname, fn in snapshot["functions"].items():
            call: Any
            try:
                if fn["kind"] == "python":
                    if self.settings.allow_modules is None:
                        raise UnknownFunctionError(
                            f"function {fname!r}: python functions are disabled on this "
                            "server (no --allow-module)"
                        )
                    path = fn["path"] if "path" in fn else fn["import_path"]
                    registry.register_path(fname, path)
                    call = registry.resolve(fname)
                else:
                    from dagforge.server.httpfunc import HttpFunction

                    call = HttpFunction(
                        self.urls.check(fname, fn["url"]),
                        fname,
                        self.store,
                        run_id=run_id,
                        serializer=self.settings.serializer,
                        allow_pickle=self.settings.allow_pickle,
                        policy=self.urls,
                    )
            except (UnknownFunctionError, RegistryError) as exc:
                # e.g. registered under a wider allow list than this server has:
                # only the runs that call it fail, with this reason
                call = Refused(str(exc))
            registry.register(fname, Guarded(fname, call, cancel))
        return spec, registry

    def _backend_for(self, spec: dict[str, Any], cancel: threading.Event) -> Any:
        """Run sequential specs inline: dispatcher threads already run many runs at once,
        and a per-run thread pool would only cost thread start-ups (about 0.3 ms a run).
        Specs with ``parallel`` steps get a thread pool that stops waiting as soon as
        the run is cancelled, so the engine abandons its running nodes at once (inline,
        the running node is the dispatcher's own call: the run ends when it returns)."""
        backend = self.settings.backend
        if backend == "processes":
            return cancellable(backend, cancel)
        if backend != "threads":
            return backend
        parallel = any(
            e.get("properties", {}).get("primitive") == "parallel"
            for e in spec.get("dag", [])
            if isinstance(e, dict)
        )
        return cancellable("threads", cancel) if parallel else "inline"

    def _registry_for(self) -> Any:
        from dagforge.spec import FunctionRegistry

        return FunctionRegistry(allowed_modules=self.settings.allow_modules or ())

    # -- journal retention -------------------------------------------------------------------------

    def _prune_loop(self) -> None:
        keep = float(self.settings.journal_retention or 0)
        every = min(max(keep / 2, 0.05), 60.0)
        while not self._wakeup.wait(every):
            try:
                self.prune_journal()
            except Exception as exc:  # a storage fault: the next round tries again
                log.warning("journal pruning failed: %s", exc)

    def prune_journal(self) -> list[str]:
        """Forget finished runs older than ``--journal-retention`` seconds."""
        keep = self.settings.journal_retention
        if keep is None:
            return []
        gone = self.db.prune_runs(time.time() - keep)
        if gone:
            with self._lock:
                for run_id in gone:
                    held = self._results.pop(run_id, None)
                    if held is not None:
                        self._results_bytes -= held[1]
        return gone

    # -- the request log ---------------------------------------------------------------------------

    def _log_safely(
        self,
        run: dict[str, Any],
        started: float,
        finished: float,
        status: str,
        cleanup_error: str | None,
        attempt: int = 1,
    ) -> None:
        try:
            self.request_log.write(run, started, finished, status, cleanup_error, attempt)
        except Exception as exc:  # a full disk must not undo a finished run
            log.error("request log of run %s not written: %s", run["id"], exc)


def _function_spec(fname: str) -> dict[str, Any]:
    return {
        "name": f"function:{fname}",
        "dag": [
            {
                "node_id": fname,
                "properties": {"label": fname, "primitive": "serial", "next": ""},
            }
        ],
    }


class RunFinished(RegistryError):
    """A cancel of a run that has already finished (409)."""


class RunNotRetryable(RegistryError):
    """A retry of a run that is queued, running or succeeded (409)."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _bounded(text: str | None, limit: int = MAX_ERROR) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


def _as_journaled(value: Any) -> Any:
    """``value`` as the journal gives it back (it is written with ``json.dumps(value,
    default=str)``): tuples become lists, keys strings, unknown objects their ``str``."""
    return json.loads(json.dumps(value, default=str))


def _json_text(value: Any) -> str | None:
    """``value`` as the journal writes it (``json.dumps(value, default=str)``); None if
    it cannot be (then the journal's own write fails with the reason)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return None


def _name(value: Any, kind: str, field_name: str) -> str:
    """A registry name: it is a URL path segment, so no '/', no leading '.', <= 200 chars."""
    if not value or not isinstance(value, str):
        raise RegistryError(f"a {kind} needs a non-empty string {field_name!r}")
    if "/" in value or "\\" in value or value.startswith(".") or len(value) > 200:
        raise RegistryError(
            f"{kind} {field_name} {value!r} must not contain '/' or '\\', start with '.', "
            "or be longer than 200 characters"
        )
    if any(ord(c) < 32 for c in value):
        raise RegistryError(f"{kind} {field_name} {value!r} must not contain control characters")
    return value


def _resolve(future: Future, record: dict[str, Any]) -> None:
    if not future.done():
        try:
            future.set_result(record)
        except InvalidStateError:  # cancelled by its waiter in the meantime
            pass


def _check_serializer(settings: Settings) -> None:
    """Pickle-like serializers need the operator's explicit opt-in (``--allow-pickle``)."""
    from dagforge.serializers import get_serializer, is_trusted_only

    try:
        ser = get_serializer(settings.serializer)
    except Exception as exc:
        raise RegistryError(f"unknown serializer {settings.serializer!r}: {exc}") from exc
    if is_trusted_only(ser) and not settings.allow_pickle:
        raise RegistryError(
            f"serializer {settings.serializer!r} can run code when values are loaded; "
            "start the server with --allow-pickle only if every writer of the store is trusted"
        )
