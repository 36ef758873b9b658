"""The platform core: registries, run queues, dispatcher threads, request log.

HTTP is a thin layer over this (``app.py``). A run's life:
``accept`` (journaled, queued by priority class) -> a dispatcher thread takes it by
weighted round robin -> ``run_workflow`` on the one engine (node completions
journaled as they happen) -> finished (journaled, logged, waiters woken). On start-up
every journaled run that had not finished is queued again and resumes from the nodes
it had completed, so accepted work is never lost and no completed node runs twice.

Concurrency hazards: request handlers call ``accept``/``subscribe``/read methods;
dispatcher threads call ``_execute``. Shared state: ``db`` (own lock), ``queues`` (own
condition), ``_waiters`` and ``_results`` (guarded by ``_lock``; never held while running
a run). A waiter is one ``Future`` per waiting request, so a request that gives up
(timeout, client gone) cancels only its own future; the finisher skips done futures.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagforge.errors import DagforgeError, RegistryError, SpecError, UnknownFunctionError
from dagforge.server.db import Database
from dagforge.server.dispatch import CLASSES, RunQueues


@dataclass
class Settings:
    """Everything ``dagforge serve`` can be told."""

    data_dir: Path = Path("dagforge-data")
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


class Platform:
    """The workflow platform, usable without HTTP (tests, embedding)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        _check_serializer(settings)
        settings.data_dir = Path(settings.data_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.data_dir / "dagforge.sqlite3")
        self.queues = RunQueues(settings.weights or None)
        self.store = self._open_store()
        self.log_path = settings.data_dir / "requests.log"
        self.jsonl_path = settings.data_dir / "requests.jsonl"
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Future]] = {}
        self._results: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def _open_store(self) -> Any:
        from dagforge.store import LocalDirStore, open_store

        if self.settings.store:
            return open_store(self.settings.store)
        return LocalDirStore(self.settings.data_dir / "store")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for run in self.db.unfinished_runs():  # resume what a crash interrupted
            self.queues.put(run["priority"], run["id"])
        for k in range(self.settings.workers):
            t = threading.Thread(
                target=self._dispatch_loop, name=f"dagforge-dispatch-{k}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stopping = True
        self.queues.close()
        for t in self._threads:
            t.join(timeout=5)
        self.db.close()

    # -- registries ----------------------------------------------------------------------------

    def register_function(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _name(body.get("name") or body.get("function_name"), "function", "name")
        kind = body.get("kind", "python")
        if kind == "python":
            path = body.get("path") or body.get("import_path")
            if not isinstance(path, str) or ":" not in path:
                raise RegistryError(
                    f"function {name!r}: kind 'python' needs 'path': 'package.module:function'"
                )
            self._registry_for().register_path(name, path)  # checks --allow-module
        elif kind == "http":
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise RegistryError(f"function {name!r}: kind 'http' needs an http(s) 'url'")
        else:
            raise RegistryError(f"function {name!r}: kind must be 'python' or 'http', got {kind!r}")
        ftype = body.get("type", "cpu")
        if ftype not in ("cpu", "gpu"):
            raise RegistryError(f"function {name!r}: type must be 'cpu' or 'gpu'")
        record = {k: v for k, v in body.items() if k != "function_name"}
        record.update(name=name, kind=kind, type=ftype)
        self.db.put("functions", name, record)
        return record

    def register_dag(self, body: dict[str, Any]) -> dict[str, Any]:
        from dagforge.spec import load_spec

        spec = load_spec(body)  # SpecError with the JSON path
        _name(spec.name, "DAG", "name")
        self.db.put("dags", spec.name, body)
        return body

    def register_trigger(self, body: dict[str, Any]) -> dict[str, Any]:
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

    # -- runs ------------------------------------------------------------------------------------

    def accept(
        self, trigger: str, arguments: dict[str, Any], waiter: Future | None = None
    ) -> dict[str, Any]:
        """Journal and queue a run; return its id.

        ``waiter`` (optional) is registered before the run is queued, so it is resolved
        with the run's record when it finishes, however fast that is.
        """
        record = self.db.get("triggers", trigger)
        run_id = uuid.uuid4().hex
        dag = record["dags"][0] if record["type"] == "dag" else None
        accepted = self.db.accept_run(run_id, trigger, dag, record["priority"], arguments)
        if waiter is not None:
            with self._lock:
                self._waiters.setdefault(run_id, []).append(waiter)
        self.queues.put(record["priority"], run_id)
        return {
            "run_id": run_id,
            "status": "queued",
            "priority": record["priority"],
            "accepted": accepted,
        }

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
        if record["status"] not in ("queued", "running"):
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
            return self._results.get(run_id)

    def _dispatch_loop(self) -> None:
        while not self._stopping:
            item = self.queues.get(timeout=0.5)
            if item is None:
                continue
            _, run_id = item
            try:
                self._execute(run_id)
            except Exception as exc:  # never let a dispatcher die with a run half-done
                if self._stopping:
                    return  # the journal still says 'running': the next start resumes it
                try:
                    self.db.run_finished(
                        run_id, "failed", None, f"internal error: {type(exc).__name__}: {exc}", {}
                    )
                    self._wake(run_id)
                except Exception:  # the journal itself is unusable; the run resumes later
                    pass

    def _execute(self, run_id: str) -> None:
        from dagforge.execution.callbacks import ExecutionCallbacks
        from dagforge.spec import run_workflow

        run = self.db.run(run_id)
        started = self.db.run_started(run_id)
        completed = self.db.completed_nodes(run_id)
        trigger = self.db.get("triggers", run["trigger"])
        callbacks = ExecutionCallbacks(
            on_node_complete=lambda inst, out: self.db.node_done(run_id, inst, out),
        )
        status, outputs, error, nodes, result = "failed", None, None, {}, None
        try:
            spec, registry = self._spec_for(trigger, run_id)
            result = run_workflow(
                spec,
                registry,
                run["arguments"],
                backend=self._backend_for(spec),
                store=self.store,
                run_id=run_id,
                completed=completed,
                callbacks=callbacks,
                enable_tracing=True,
                profile=False,
                serializer=self.settings.serializer,
            )
            status = "succeeded" if result.ok else "failed"
            outputs = result.workflow_outputs
            error = (
                "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in result.failures.items())
                or None
            )
        except DagforgeError as exc:
            error = f"{type(exc).__name__}: {exc}"
            result = getattr(exc, "result", None)
        except Exception as exc:  # a function's bug must fail its run, not the platform
            if self._stopping:
                raise
            error = f"internal error: {type(exc).__name__}: {exc}"
        if result is not None:
            nodes = {
                name: {
                    "status": r.status,
                    "start": r.start,
                    "end": r.end,
                    "worker": r.worker,
                    "reason": r.reason,
                    "restored": name in completed,
                }
                for name, r in result.results.items()
            }
        finished = self.db.run_finished(run_id, status, outputs, error, nodes)
        if self.settings.retention is not None:
            self.store.expire_prefix(f"{run_id}/", self.settings.retention)
        self._log(run, started, finished, status)
        with self._lock:
            if result is not None:
                self._results[run_id] = result
                if len(self._results) > 1000:  # keep memory bounded on a long-lived server
                    self._results.pop(next(iter(self._results)))
        self._wake(run_id)

    def _wake(self, run_id: str) -> None:
        """Resolve every waiter of a finished run (called after the final commit)."""
        with self._lock:
            waiting = self._waiters.pop(run_id, [])
        if waiting:
            record = self.db.run(run_id)
            for future in waiting:
                _resolve(future, record)

    def _spec_for(self, trigger: dict[str, Any], run_id: str) -> tuple[Any, Any]:
        """The spec to run: a registered DAG, or a one-node spec for a function trigger."""
        registry = self._registry_for()
        if trigger["type"] == "dag":
            name = trigger["dags"][0]
            try:
                spec = self.db.get("dags", name)
            except RegistryError:
                raise SpecError(
                    f"trigger {trigger['trigger_name']!r} names DAG {name!r}, "
                    "which is not registered"
                ) from None
        else:
            fname = trigger["functions"][0]
            spec = {
                "name": f"function:{fname}",
                "dag": [
                    {
                        "node_id": fname,
                        "properties": {"label": fname, "primitive": "serial", "next": ""},
                    }
                ],
            }
        for fn in self.db.list("functions"):
            if fn["kind"] == "python":
                path = fn["path"] if "path" in fn else fn["import_path"]
                try:
                    registry.register_path(fn["name"], path)
                except UnknownFunctionError as exc:
                    # e.g. registered under a wider --allow-module than this server has:
                    # only the runs that call it fail, with this reason
                    registry.register(fn["name"], _Refused(str(exc)))
            else:
                from dagforge.server.httpfunc import HttpFunction

                registry.register(
                    fn["name"],
                    HttpFunction(
                        fn["url"],
                        fn["name"],
                        self.store,
                        run_id=run_id,
                        serializer=self.settings.serializer,
                        allow_pickle=self.settings.allow_pickle,
                    ),
                )
        return spec, registry

    def _backend_for(self, spec: dict[str, Any]) -> str:
        """Run sequential specs inline: dispatcher threads already run many runs at once,
        and a per-run thread pool would only cost thread start-ups."""
        backend = self.settings.backend
        if backend != "threads":
            return backend
        parallel = any(
            e.get("properties", {}).get("primitive") == "parallel" for e in spec.get("dag", [])
        )
        return "threads" if parallel else "inline"

    def _registry_for(self) -> Any:
        from dagforge.spec import FunctionRegistry

        return FunctionRegistry(allowed_modules=self.settings.allow_modules)

    # -- the request log ---------------------------------------------------------------------------

    def _log(self, run: dict[str, Any], started: float, finished: float, status: str) -> None:
        accepted = run["accepted"]
        entry = {
            "request_start": _ts(accepted),
            "request_end": _ts(finished),
            "workflow_start": _ts(started),
            "workflow_end": _ts(finished),
            "total_response_time": round(finished - accepted, 3),
            "workflow_response_time": round(finished - started, 3),
            "queue_delay": round(started - accepted, 3),
            "priority": run["priority"],
            "trigger": run["trigger"],
            "dag": run["dag"] or "",
            "run_id": run["id"],
            "status": status,
        }
        line = ", ".join(
            str(entry[k])
            for k in (
                "request_start",
                "request_end",
                "workflow_start",
                "workflow_end",
                "total_response_time",
                "workflow_response_time",
                "queue_delay",
                "priority",
                "trigger",
                "dag",
                "run_id",
            )
        )
        with self._lock:
            with open(self.log_path, "a") as fh:
                fh.write(line + "\n")
            with open(self.jsonl_path, "a") as fh:
                fh.write(json.dumps(entry) + "\n")


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


class _Refused:
    """Stands for a registered function this server may not import; fails when called."""

    def __init__(self, reason: str):
        self.reason = reason

    def __call__(self, **_: Any) -> Any:
        raise UnknownFunctionError(self.reason)


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


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
