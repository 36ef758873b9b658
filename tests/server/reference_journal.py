"""The reference journal: the platform's original ``sqlite3`` registries and run journal.

The platform runs on :mod:`dagforge.server.database` (SQLAlchemy, SQLite or PostgreSQL);
this module is the oracle its parity tests compare against, and the shape of the older
journal files it adopts.

One database file per platform (``<data-dir>/dagforge.sqlite3``), WAL mode. Every write
is committed before the HTTP layer answers, so an accepted run or a finished node
survives a crash: on restart, unfinished runs are read back with the nodes they already
completed (``unfinished_runs`` / ``completed_nodes``).

Each accepted run also holds a *snapshot* (the spec and the function registrations it
was accepted with), so a re-registration after the accept does not change what runs.
A statement SQLite cannot carry out (disk full, I/O error, a locked file) raises
:class:`StorageFault`, which the HTTP layer answers with 503: a fault is never
reported as "not found" or "invalid".

Concurrency hazards: the connection is shared by the request handlers and the
dispatcher threads; ``_lock`` serialises every statement (SQLite would serialise writes
anyway, and the statements are tiny).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from dagforge.errors import RegistryError, StorageFault

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dags (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS triggers (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, trigger TEXT NOT NULL, dag TEXT, priority TEXT NOT NULL,
    arguments TEXT NOT NULL, status TEXT NOT NULL, accepted REAL NOT NULL,
    started REAL, finished REAL, outputs TEXT, error TEXT, nodes TEXT
);
CREATE TABLE IF NOT EXISTS node_results (
    run_id TEXT NOT NULL, instance TEXT NOT NULL, outputs TEXT NOT NULL,
    PRIMARY KEY (run_id, instance)
);
CREATE INDEX IF NOT EXISTS runs_by_accept ON runs (accepted, id);
"""

_SUMMARY = "id, trigger, dag, priority, status, accepted, started, finished, error"
_LIVE = ("queued", "running")


KINDS = {"functions": "function", "dags": "DAG", "triggers": "trigger"}


class Database:
    """Registries and journal over one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}
            if "snapshot" not in columns:  # journals written before snapshots existed
                self._conn.execute("ALTER TABLE runs ADD COLUMN snapshot TEXT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StorageFault(f"journal error in {self.path}: {exc}") from exc

    def _write(self, sql: str, args: tuple = ()) -> int:
        """Run one write; the number of rows it changed."""
        with self._lock:
            try:
                return self._conn.execute(sql, args).rowcount
            except sqlite3.Error as exc:
                raise StorageFault(f"journal error in {self.path}: {exc}") from exc

    # -- registries --------------------------------------------------------------------

    def put(self, table: str, name: str, body: dict[str, Any]) -> None:
        self._write(
            f"INSERT OR REPLACE INTO {table} (name, body) VALUES (?, ?)", (name, json.dumps(body))
        )

    def get(self, table: str, name: str) -> dict[str, Any]:
        rows = self._exec(f"SELECT body FROM {table} WHERE name = ?", (name,))
        if not rows:
            raise RegistryError(f"no {KINDS[table]} named {name!r} is registered")
        return json.loads(rows[0][0])

    def get_many(self, table: str, names: list[str]) -> dict[str, dict[str, Any]]:
        """The registered bodies among ``names`` (one statement; unknown names left out)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 500):  # SQLite caps the variables per statement
            part = tuple(names[start : start + 500])
            marks = ", ".join("?" for _ in part)
            rows = self._exec(f"SELECT name, body FROM {table} WHERE name IN ({marks})", part)
            found.update((name, json.loads(body)) for name, body in rows)
        return found

    def list(self, table: str) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._exec(f"SELECT body FROM {table} ORDER BY name")]

    def delete(self, table: str, name: str) -> None:
        self.get(table, name)  # raises for an unknown name
        self._exec(f"DELETE FROM {table} WHERE name = ?", (name,))

    # -- the run journal -----------------------------------------------------------------

    def accept_run(
        self,
        run_id: str,
        trigger: str,
        dag: str | None,
        priority: str,
        arguments: dict[str, Any],
        snapshot: dict[str, Any] | None = None,
    ) -> float:
        """Journal an accepted run (one INSERT: all of it or nothing) with its snapshot."""
        now = time.time()
        self._write(
            "INSERT INTO runs (id, trigger, dag, priority, arguments, status, accepted, snapshot) "
            "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
            (
                run_id,
                trigger,
                dag,
                priority,
                json.dumps(arguments, allow_nan=False),
                now,
                None if snapshot is None else json.dumps(snapshot, allow_nan=False),
            ),
        )
        return now

    def forget_run(self, run_id: str) -> None:
        """Remove a run and its node results (an accept that could not be queued)."""
        self._write("DELETE FROM node_results WHERE run_id=?", (run_id,))
        self._write("DELETE FROM runs WHERE id=?", (run_id,))

    def snapshot(self, run_id: str) -> dict[str, Any] | None:
        """The spec and functions a run was accepted with (None for older journals)."""
        rows = self._exec("SELECT snapshot FROM runs WHERE id=?", (run_id,))
        if not rows:
            raise RegistryError(f"no run with id {run_id!r}")
        return None if rows[0][0] is None else json.loads(rows[0][0])

    def run_started(self, run_id: str) -> float | None:
        """Mark a queued (or resumed) run running; None if it is no longer live
        (cancelled while it waited)."""
        now = time.time()
        changed = self._write(
            "UPDATE runs SET status='running', started=COALESCE(started, ?) "
            "WHERE id=? AND status IN ('queued', 'running')",
            (now, run_id),
        )
        return now if changed else None

    def run_cancelled(self, run_id: str) -> bool:
        """Journal a cancellation of a live run; False if it had already finished."""
        return bool(
            self._write(
                "UPDATE runs SET status='cancelled', finished=?, "
                "error=COALESCE(error, 'cancelled') WHERE id=? AND status IN ('queued', 'running')",
                (time.time(), run_id),
            )
        )

    def prune_runs(self, finished_before: float) -> builtins.list[str]:
        """Delete finished runs (and their node results) that ended before the given time."""
        ids = [
            r[0]
            for r in self._exec(
                "SELECT id FROM runs WHERE status NOT IN ('queued', 'running') AND finished < ?",
                (finished_before,),
            )
        ]
        for run_id in ids:
            self.forget_run(run_id)
        return ids

    def node_done(self, run_id: str, instance: str, outputs: Any) -> None:
        self._write(
            "INSERT OR REPLACE INTO node_results (run_id, instance, outputs) VALUES (?, ?, ?)",
            (run_id, instance, json.dumps(outputs, default=str)),
        )

    def run_finished(
        self, run_id: str, status: str, outputs: Any, error: str | None, nodes: dict[str, Any]
    ) -> float:
        now = time.time()
        self._write(
            "UPDATE runs SET status=?, finished=?, outputs=?, error=?, nodes=? WHERE id=?",
            (
                status,
                now,
                json.dumps(outputs, default=str),
                error,
                json.dumps(nodes, default=str),
                run_id,
            ),
        )
        return now

    def run(self, run_id: str) -> dict[str, Any]:
        rows = self._exec(
            "SELECT id, trigger, dag, priority, arguments, status, accepted, "
            "started, finished, outputs, error, nodes FROM runs WHERE id=?",
            (run_id,),
        )
        if not rows:
            raise RegistryError(f"no run with id {run_id!r}")
        return _run_row(rows[0])

    def runs(self, limit: int = 100) -> builtins.list[dict[str, Any]]:
        rows = self._exec(
            "SELECT id, trigger, dag, priority, arguments, status, accepted, "
            "started, finished, outputs, error, nodes FROM runs "
            "ORDER BY accepted DESC LIMIT ?",
            (limit,),
        )
        return [_run_row(r) for r in rows]

    def run_summaries(
        self, limit: int = 100, before: tuple[float, str] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Newest first, without arguments, outputs or nodes; ``before`` is the
        ``(accepted, id)`` of the last summary of the previous page."""
        if before is None:
            rows = self._exec(
                f"SELECT {_SUMMARY} FROM runs ORDER BY accepted DESC, id DESC LIMIT ?", (limit,)
            )
        else:
            rows = self._exec(
                f"SELECT {_SUMMARY} FROM runs WHERE accepted < ? OR (accepted = ? AND id < ?) "
                "ORDER BY accepted DESC, id DESC LIMIT ?",
                (before[0], before[0], before[1], limit),
            )
        keys = [k.strip() for k in _SUMMARY.split(",")]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def unfinished_runs(self) -> builtins.list[dict[str, Any]]:
        rows = self._exec(
            "SELECT id, trigger, dag, priority, arguments, status, accepted, "
            "started, finished, outputs, error, nodes FROM runs "
            "WHERE status IN ('queued', 'running') ORDER BY accepted"
        )
        return [_run_row(r) for r in rows]

    def completed_nodes(self, run_id: str) -> dict[str, Any]:
        rows = self._exec("SELECT instance, outputs FROM node_results WHERE run_id=?", (run_id,))
        return {inst: json.loads(out) for inst, out in rows}


def _run_row(row: tuple) -> dict[str, Any]:
    keys = (
        "id",
        "trigger",
        "dag",
        "priority",
        "arguments",
        "status",
        "accepted",
        "started",
        "finished",
        "outputs",
        "error",
        "nodes",
    )
    out = dict(zip(keys, row, strict=True))
    for key in ("arguments", "outputs", "nodes"):
        if out[key] is not None:
            out[key] = json.loads(out[key])
    return out
