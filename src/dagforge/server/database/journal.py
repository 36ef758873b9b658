"""Registries and the run journal over SQLAlchemy 2: SQLite (embedded) or PostgreSQL.

:class:`SqlDatabase` has the same methods and semantics as the original ``sqlite3``
journal's ``Database`` (which the platform used before; kept as the parity tests' oracle
in ``tests/server/reference_journal.py``), plus what several gateways need:

- ``claim(owner, priority, lease)`` takes the oldest claimable run of a class — queued,
  or running with an expired lease — and leases it to ``owner``. On PostgreSQL the
  candidate row is locked with ``FOR UPDATE SKIP LOCKED``, so replicas claiming at once
  take different runs without waiting on each other; on SQLite the single ``UPDATE``
  runs under the database's write lock (``BEGIN IMMEDIATE``), which is equally atomic.
- ``renew_leases(owner, lease)`` pushes out the expiry of every run the owner is
  running (one statement per replica, every ``lease / 3`` seconds).
- fencing: every claim increments the run's ``claims``; ``claim_fenced`` returns the
  number the claimer got (its *fence*). The writes a dispatcher makes for a run it holds
  (``run_started``, ``node_done``, ``run_finished``) take that fence and only change the
  journal while ``claims`` still equals it; otherwise they change nothing and raise
  ``LeaseLost`` (another replica took the run over after this one's lease expired). On
  PostgreSQL the fenced node result locks the run's row ``FOR SHARE`` while it checks,
  so it commits either before a competing claim or not at all; on SQLite every write
  holds the database's write lock. Without a fence (``None``: the single SQLite server,
  which has no leases) the statements are the unfenced ones, unchanged.
- schedule cursors and fires (``schedules.py`` uses them).

Every write commits before the method returns, as before. A statement the database
cannot carry out raises ``StorageFault`` (the HTTP layer answers 503).

The hot path on SQLite: the statements every run issues (``get``, ``get_many``,
``accept_run``, ``run``, ``run_started``, ``snapshot``, ``completed_nodes``, ``node_done``,
``run_finished``, ``run_cancelled`` and the raw ``_exec``/``_write``) go straight to one
``sqlite3`` connection of this object's own, in autocommit mode (each statement its own
transaction: atomic, committed before the method returns), written as the SQL
SQLAlchemy would emit for them. Through SQLAlchemy's connection, transaction and
compilation layers one of them cost 100-190 µs; raw, 5-25 µs, and a run issues about
fifteen. The schema is still made and checked by the alembic migrations, and every
other statement (registrations, listings, schedules, leases, multi-statement
transactions) and all of PostgreSQL still go through SQLAlchemy. An in-memory SQLite
URL has no fast path (a second connection would be another database).

Concurrency hazards: methods are called from request handlers and dispatcher threads.
On SQLite ``_serial`` (one process-wide ``RLock`` per object) serialises every statement
and transaction, on both the raw connection and SQLAlchemy's pooled ones: the raw
connection is shared by all threads (``check_same_thread=False``) and is only ever
touched with ``_serial`` held, and since no two of this process's statements run at once
SQLite's file locks never make it busy-wait on itself (other processes on the same file,
say ``dagforge db upgrade``, are arbitrated by ``busy_timeout``). On PostgreSQL each call
takes its own pooled connection and the database arbitrates.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dagforge.errors import LeaseLost, RegistryError, StorageFault
from dagforge.server.database import schema as s

KINDS = {"functions": "function", "dags": "DAG", "triggers": "trigger"}
LIVE = ("queued", "running")
_RUN_KEYS = (
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
    "schedule",
)
_ACCEPT_KEYS = (
    "id",
    "trigger",
    "dag",
    "priority",
    "arguments",
    "status",
    "accepted",
    "claims",
    "snapshot",
    "schedule",
)
_ACCEPT = (  # the SQLite fast path's statements (see the module docstring)
    f"INSERT INTO runs ({', '.join(_ACCEPT_KEYS)}) VALUES ({', '.join('?' * len(_ACCEPT_KEYS))})"
)
_RUN_BY_ID = f"SELECT {', '.join(_RUN_KEYS)} FROM runs WHERE id = ?"
_RUN_AND_SNAPSHOT = f"SELECT {', '.join(_RUN_KEYS)}, snapshot FROM runs WHERE id = ?"
_SUMMARY_KEYS = (
    "id",
    "trigger",
    "dag",
    "priority",
    "status",
    "accepted",
    "started",
    "finished",
    "error",
)


class SqlDatabase:
    """Registries and journal over one SQLAlchemy engine (see the module docstring)."""

    def __init__(self, engine: Engine, display: str):
        self.engine = engine
        self.display = display  # the URL without its password, for messages
        self.dialect = engine.dialect.name
        self._serial: Any = (
            threading.RLock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )
        self._runs_cols = [s.runs.c[k] for k in _RUN_KEYS]
        self._closed = False
        self._autocommit = None
        self._relaxed = None
        self._raw: sqlite3.Connection | None = None
        if self.dialect == "sqlite":
            self._raw = _raw_sqlite(engine)
        if self.dialect == "postgresql":
            from sqlalchemy import create_engine

            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            # node completions and run starts commit without waiting for the WAL flush
            # (as SQLite's synchronous=NORMAL): a replica's crash loses none of them; a
            # crash of the database server itself may lose the last ~0.6 s of them,
            # which only means those nodes run again. Accepts, claims and finishes
            # always wait for the flush.
            self._relaxed = create_engine(
                engine.url,
                isolation_level="AUTOCOMMIT",
                connect_args={"options": "-c synchronous_commit=off"},
                pool_size=getattr(engine.pool, "size", lambda: 5)(),
                max_overflow=getattr(engine.pool, "size", lambda: 5)(),
                pool_pre_ping=True,
            )

    def close(self) -> None:
        """Release the connections; every later call raises ``StorageFault``."""
        self._closed = True
        if self._raw is not None:
            with self._serial:
                self._raw.close()
        self.engine.dispose()
        if self._relaxed is not None:
            self._relaxed.dispose()

    @property
    def _conn(self) -> Any:
        """What ``db.py``'s journal called its connection: ``_conn.close()`` closes it."""
        return _Handle(self)

    @contextlib.contextmanager
    def _tx(self, single: bool | str = False) -> Iterator[Connection]:
        """One committed transaction; database failures become ``StorageFault``.

        ``single``: the block runs one statement, which PostgreSQL then runs in
        autocommit mode — its own implicit transaction, equally atomic and durable, but
        one round trip instead of three (BEGIN, the statement, COMMIT). ``"relaxed"``:
        the same without waiting for the WAL flush (see ``__init__``).
        """
        if self._closed:
            raise StorageFault(f"journal error in {self.display}: the journal is closed")
        with self._serial:
            try:
                if single == "relaxed" and self._relaxed is not None:
                    with self._relaxed.connect() as conn:
                        yield conn
                elif single and self._autocommit is not None:
                    with self._autocommit.connect() as conn:
                        yield conn
                else:
                    with self.engine.begin() as conn:
                        yield conn
            except SQLAlchemyError as exc:
                raise StorageFault(f"journal error in {self.display}: {_short(exc)}") from exc

    def _insert(self, table: Any) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    def _upsert(self, table: Any, keys: tuple[str, ...], values: dict[str, Any]) -> Any:
        ins = self._insert(table).values(**values)
        return ins.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: ins.excluded[k] for k in values if k not in keys},
        )

    # -- raw statements (the dashboard and the run monitor use a few) -----------------------

    def _exec(self, sql: str, args: tuple = ()) -> builtins.list[tuple]:
        """Run one statement written for SQLite (``?`` parameters, ``INSERT OR REPLACE``);
        its rows. On PostgreSQL the statement is translated (see ``_translate``)."""
        if self._raw is not None:
            return self._raw_rows(sql, tuple(args))
        with self._tx(True) as conn:
            result = conn.exec_driver_sql(self._translate(sql), tuple(args))
            return [tuple(r) for r in result] if result.returns_rows else []

    def _write(self, sql: str, args: tuple = ()) -> int:
        """Like ``_exec`` for a write; the number of rows it changed."""
        if self._raw is not None:
            return self._raw_write(sql, tuple(args))
        with self._tx(True) as conn:
            return conn.exec_driver_sql(self._translate(sql), tuple(args)).rowcount

    # the SQLite fast path: one statement on the raw connection, under ``_serial``

    def _raw_rows(self, sql: str, args: tuple) -> builtins.list[Any]:
        """All rows of one statement (fetched at once: no read transaction lingers)."""
        conn = self._raw
        if self._closed or conn is None:
            raise StorageFault(f"journal error in {self.display}: the journal is closed")
        with self._serial:
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StorageFault(f"journal error in {self.display}: {exc}") from exc

    def _raw_write(self, sql: str, args: tuple) -> int:
        """One write, committed (autocommit: its own transaction); rows it changed."""
        conn = self._raw
        if self._closed or conn is None:
            raise StorageFault(f"journal error in {self.display}: the journal is closed")
        with self._serial:
            try:
                return conn.execute(sql, args).rowcount
            except sqlite3.Error as exc:
                raise StorageFault(f"journal error in {self.display}: {exc}") from exc

    def _translate(self, sql: str) -> str:
        if self.dialect != "postgresql":
            return sql
        return _to_postgres(sql)

    # -- registries --------------------------------------------------------------------

    def _table(self, table: str) -> Any:
        try:
            return s.REGISTRIES[table]
        except KeyError:
            raise RegistryError(f"unknown registry {table!r}; use {sorted(s.REGISTRIES)}") from None

    def put(self, table: str, name: str, body: dict[str, Any]) -> None:
        t = self._table(table)
        with self._tx(True) as conn:
            conn.execute(self._upsert(t, ("name",), {"name": name, "body": json.dumps(body)}))

    def get(self, table: str, name: str) -> dict[str, Any]:
        t = self._table(table)
        if self._raw is not None:
            rows = self._raw_rows(f"SELECT body FROM {t.name} WHERE name = ?", (name,))
            row = rows[0] if rows else None
        else:
            with self._tx(True) as conn:
                row = conn.execute(select(t.c.body).where(t.c.name == name)).first()
        if row is None:
            raise RegistryError(f"no {KINDS[table]} named {name!r} is registered")
        return json.loads(row[0])

    def get_many(self, table: str, names: builtins.list[str]) -> dict[str, dict[str, Any]]:
        """The registered bodies among ``names`` (unknown names left out)."""
        t = self._table(table)
        found: dict[str, dict[str, Any]] = {}
        if self._raw is not None:
            for start in range(0, len(names), 500):  # SQLite caps the variables per statement
                chunk = tuple(names[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT name, body FROM {t.name} WHERE name IN ({marks})"
                found.update((n, json.loads(body)) for n, body in self._raw_rows(sql, chunk))
            return found
        with self._tx(True) as conn:
            for start in range(0, len(names), 500):
                part = list(names[start : start + 500])
                rows = conn.execute(select(t.c.name, t.c.body).where(t.c.name.in_(part)))
                found.update((name, json.loads(body)) for name, body in rows)
        return found

    def list(self, table: str) -> builtins.list[dict[str, Any]]:
        t = self._table(table)
        with self._tx(True) as conn:
            rows = conn.execute(select(t.c.body).order_by(t.c.name)).all()
        return [json.loads(r[0]) for r in rows]

    def delete(self, table: str, name: str) -> None:
        t = self._table(table)
        with self._tx(True) as conn:
            gone = conn.execute(delete(t).where(t.c.name == name)).rowcount
        if not gone:
            raise RegistryError(f"no {KINDS[table]} named {name!r} is registered")

    # -- the run journal -----------------------------------------------------------------

    def accept_run(
        self,
        run_id: str,
        trigger: str,
        dag: str | None,
        priority: str,
        arguments: dict[str, Any],
        snapshot: dict[str, Any] | None = None,
        schedule: str | None = None,
    ) -> float:
        """Journal an accepted run (one INSERT: all of it or nothing) with its snapshot."""
        now = time.time()
        values = self._run_values(run_id, trigger, dag, priority, arguments, snapshot, now)
        values["schedule"] = schedule
        if self._raw is not None:
            self._raw_write(_ACCEPT, tuple(values[k] for k in _ACCEPT_KEYS))
            return now
        with self._tx(True) as conn:
            conn.execute(s.runs.insert().values(**values))
        return now

    @staticmethod
    def _run_values(
        run_id: str,
        trigger: str,
        dag: str | None,
        priority: str,
        arguments: dict[str, Any],
        snapshot: dict[str, Any] | None,
        now: float,
    ) -> dict[str, Any]:
        return {
            "id": run_id,
            "trigger": trigger,
            "dag": dag,
            "priority": priority,
            "arguments": json.dumps(arguments, allow_nan=False),
            "status": "queued",
            "accepted": now,
            "claims": 0,
            "snapshot": None if snapshot is None else json.dumps(snapshot, allow_nan=False),
        }

    def forget_run(self, run_id: str) -> None:
        """Remove a run and its node results (an accept that could not be queued)."""
        with self._tx() as conn:
            conn.execute(delete(s.node_results).where(s.node_results.c.run_id == run_id))
            conn.execute(delete(s.runs).where(s.runs.c.id == run_id))

    def snapshot(self, run_id: str) -> dict[str, Any] | None:
        """The spec and functions a run was accepted with (None for older journals)."""
        if self._raw is not None:
            rows = self._raw_rows("SELECT snapshot FROM runs WHERE id = ?", (run_id,))
            row = rows[0] if rows else None
        else:
            with self._tx(True) as conn:
                row = conn.execute(select(s.runs.c.snapshot).where(s.runs.c.id == run_id)).first()
        if row is None:
            raise RegistryError(f"no run with id {run_id!r}")
        return None if row[0] is None else json.loads(row[0])

    def run_started(self, run_id: str, fence: int | None = None) -> float | None:
        """Mark a queued (or resumed) run running; None if it is no longer live
        (cancelled while it waited). With a ``fence`` (the claim this replica got),
        ``LeaseLost`` if another replica has claimed the run since."""
        now = time.time()
        if self._raw is not None:
            sql = (
                "UPDATE runs SET status = 'running', started = coalesce(started, ?) "
                "WHERE id = ? AND status IN ('queued', 'running')"
            )
            if fence is None:
                changed = self._raw_write(sql, (now, run_id))
            else:
                changed = self._raw_write(sql + " AND claims = ?", (now, run_id, fence))
        else:
            r = s.runs
            where = [r.c.id == run_id, r.c.status.in_(LIVE)]
            if fence is not None:
                where.append(r.c.claims == fence)
            with self._tx("relaxed") as conn:
                changed = conn.execute(
                    update(r)
                    .where(*where)
                    .values(status="running", started=func.coalesce(r.c.started, now))
                ).rowcount
        if not changed and fence is not None:
            self.check_fence(run_id, fence)  # taken over: LeaseLost; else not live
        return now if changed else None

    def run_cancelled(self, run_id: str) -> bool:
        """Journal a cancellation of a live run; False if it had already finished."""
        if self._raw is not None:
            return bool(
                self._raw_write(
                    "UPDATE runs SET status = 'cancelled', finished = ?, "
                    "error = coalesce(error, 'cancelled'), lease_expires = NULL "
                    "WHERE id = ? AND status IN ('queued', 'running')",
                    (time.time(), run_id),
                )
            )
        r = s.runs
        with self._tx(True) as conn:
            changed = conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.status.in_(LIVE))
                .values(
                    status="cancelled",
                    finished=time.time(),
                    error=func.coalesce(r.c.error, "cancelled"),
                    lease_expires=None,
                )
            ).rowcount
        return bool(changed)

    def prune_runs(self, finished_before: float) -> builtins.list[str]:
        """Delete finished runs (and their node results) that ended before the given time."""
        r = s.runs
        with self._tx() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    select(r.c.id).where(r.c.status.not_in(LIVE), r.c.finished < finished_before)
                )
            ]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                conn.execute(delete(s.node_results).where(s.node_results.c.run_id.in_(part)))
                conn.execute(delete(r).where(r.c.id.in_(part)))
        return ids

    def node_done(self, run_id: str, instance: str, outputs: Any, fence: int | None = None) -> None:
        """Journal a completed node's outputs. With a ``fence``, only while the run's
        ``claims`` still equals it (one statement: the insert selects its row only if
        the run has that claim); ``LeaseLost`` otherwise, nothing written."""
        if fence is not None:
            self._node_done_fenced(run_id, instance, json.dumps(outputs, default=str), fence)
            return
        if self._raw is not None:
            self._raw_write(
                "INSERT INTO node_results (run_id, instance, outputs) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, instance) DO UPDATE SET outputs = excluded.outputs",
                (run_id, instance, json.dumps(outputs, default=str)),
            )
            return
        with self._tx("relaxed") as conn:
            conn.execute(
                self._upsert(
                    s.node_results,
                    ("run_id", "instance"),
                    {
                        "run_id": run_id,
                        "instance": instance,
                        "outputs": json.dumps(outputs, default=str),
                    },
                )
            )

    def _node_done_fenced(self, run_id: str, instance: str, outputs: str, fence: int) -> None:
        sql = (
            "INSERT INTO node_results (run_id, instance, outputs) SELECT ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND claims = ?{lock}) "
            "ON CONFLICT (run_id, instance) DO UPDATE SET outputs = excluded.outputs"
        )
        args = (run_id, instance, outputs, run_id, fence)
        if self._raw is not None:
            changed = self._raw_write(sql.format(lock=""), args)
        else:
            # PostgreSQL: FOR SHARE waits for a competing claim's UPDATE of the row and
            # then sees its new claims (so refuses); a claim waits for this insert
            lock = " FOR SHARE" if self.dialect == "postgresql" else ""
            with self._tx("relaxed") as conn:
                changed = conn.exec_driver_sql(
                    self._translate(sql.format(lock=lock)), args
                ).rowcount
        if not changed:
            self.check_fence(run_id, fence)
            raise StorageFault(  # the fence matched a moment later: nothing was written
                f"journal error in {self.display}: node {instance!r} of run {run_id!r} "
                "was not journaled"
            )

    def run_finished(
        self,
        run_id: str,
        status: str,
        outputs: Any,
        error: str | None,
        nodes: dict[str, Any],
        fence: int | None = None,
    ) -> float:
        """Journal a run's end (and end its lease). With a ``fence``, only while the run's
        ``claims`` still equals it; ``LeaseLost`` otherwise, nothing written."""
        now = time.time()
        values = (
            status,
            now,
            json.dumps(outputs, default=str),
            error,
            json.dumps(nodes, default=str),
            run_id,
        )
        if self._raw is not None:
            sql = (
                "UPDATE runs SET status = ?, finished = ?, outputs = ?, error = ?, nodes = ?, "
                "lease_expires = NULL WHERE id = ?"
            )
            if fence is None:
                self._raw_write(sql, values)
                return now
            changed = self._raw_write(sql + " AND claims = ?", (*values, fence))
        else:
            r = s.runs
            where = [r.c.id == run_id]
            if fence is not None:
                where.append(r.c.claims == fence)
            with self._tx(True) as conn:
                changed = conn.execute(
                    update(r)
                    .where(*where)
                    .values(
                        status=status,
                        finished=now,
                        outputs=values[2],
                        error=error,
                        nodes=values[4],
                        lease_expires=None,
                    )
                ).rowcount
            if fence is None:
                return now
        if not changed:
            self.check_fence(run_id, fence)
            raise LeaseLost(run_id, fence, None)  # the run is gone from the journal
        return now

    def check_fence(self, run_id: str, fence: int) -> None:
        """``LeaseLost`` unless the run's ``claims`` is still ``fence`` (the claim this
        replica got): another replica claimed it since, or it is gone."""
        rows = self._exec("SELECT claims, lease_owner FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise LeaseLost(run_id, fence, None)
        claims, owner = rows[0]
        if claims != fence:
            raise LeaseLost(run_id, fence, claims, owner)

    def run(self, run_id: str) -> dict[str, Any]:
        if self._raw is not None:
            rows = self._raw_rows(_RUN_BY_ID, (run_id,))
            row = rows[0] if rows else None
        else:
            with self._tx(True) as conn:
                row = conn.execute(select(*self._runs_cols).where(s.runs.c.id == run_id)).first()
        if row is None:
            raise RegistryError(f"no run with id {run_id!r}")
        return _run_row(row)

    def run_and_snapshot(self, run_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """``run(run_id)`` and ``snapshot(run_id)`` in one statement (a dispatcher reads
        both for every run it starts)."""
        if self._raw is not None:
            rows = self._raw_rows(_RUN_AND_SNAPSHOT, (run_id,))
            row = rows[0] if rows else None
        else:
            with self._tx(True) as conn:
                row = conn.execute(
                    select(*self._runs_cols, s.runs.c.snapshot).where(s.runs.c.id == run_id)
                ).first()
        if row is None:
            raise RegistryError(f"no run with id {run_id!r}")
        *fields, snapshot = row
        return _run_row(fields), None if snapshot is None else json.loads(snapshot)

    def runs(self, limit: int = 100) -> builtins.list[dict[str, Any]]:
        with self._tx(True) as conn:
            rows = conn.execute(
                select(*self._runs_cols).order_by(s.runs.c.accepted.desc()).limit(limit)
            ).all()
        return [_run_row(r) for r in rows]

    def run_summaries(
        self, limit: int = 100, before: tuple[float, str] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Newest first, without arguments, outputs or nodes; ``before`` is the
        ``(accepted, id)`` of the last summary of the previous page."""
        r = s.runs
        query = select(*(r.c[k] for k in _SUMMARY_KEYS), r.c.schedule)
        if before is not None:
            query = query.where(
                or_(r.c.accepted < before[0], and_(r.c.accepted == before[0], r.c.id < before[1]))
            )
        query = query.order_by(r.c.accepted.desc(), r.c.id.desc()).limit(limit)
        with self._tx(True) as conn:
            rows = conn.execute(query).all()
        return [dict(zip((*_SUMMARY_KEYS, "schedule"), row, strict=True)) for row in rows]

    def unfinished_runs(self) -> builtins.list[dict[str, Any]]:
        with self._tx(True) as conn:
            rows = conn.execute(
                select(*self._runs_cols)
                .where(s.runs.c.status.in_(LIVE))
                .order_by(s.runs.c.accepted)
            ).all()
        return [_run_row(r) for r in rows]

    def completed_nodes(self, run_id: str) -> dict[str, Any]:
        if self._raw is not None:
            found = self._raw_rows(
                "SELECT instance, outputs FROM node_results WHERE run_id = ?", (run_id,)
            )
            return {inst: json.loads(out) for inst, out in found}
        n = s.node_results
        with self._tx(True) as conn:
            rows = conn.execute(select(n.c.instance, n.c.outputs).where(n.c.run_id == run_id))
            return {inst: json.loads(out) for inst, out in rows}

    # -- leases (several gateways on one database) ----------------------------------------

    def _claimable(self, now: float) -> Any:
        r = s.runs
        return and_(r.c.status.in_(LIVE), or_(r.c.lease_expires.is_(None), r.c.lease_expires < now))

    def claimable_counts(self) -> dict[str, int]:
        """Runs a replica could claim now, per priority class."""
        r = s.runs
        with self._tx(True) as conn:
            rows = conn.execute(
                select(r.c.priority, func.count())
                .where(self._claimable(time.time()))
                .group_by(r.c.priority)
            ).all()
        return {p: n for p, n in rows}

    def queued_counts(self) -> dict[str, int]:
        """Runs waiting to start (status 'queued'), per priority class, over all replicas."""
        r = s.runs
        with self._tx(True) as conn:
            rows = conn.execute(
                select(r.c.priority, func.count())
                .where(r.c.status == "queued")
                .group_by(r.c.priority)
            ).all()
        return {p: n for p, n in rows}

    def claim(self, owner: str, priority: str, lease: float) -> str | None:
        """Lease the oldest claimable run of ``priority`` to ``owner``; its id, or None
        (``claim_fenced`` also says which claim of the run it was)."""
        claimed = self.claim_fenced(owner, priority, lease)
        return None if claimed is None else claimed[0]

    def claim_fenced(self, owner: str, priority: str, lease: float) -> tuple[str, int] | None:
        """Lease the oldest claimable run of ``priority`` to ``owner``: ``(run id, fence)``
        or None. The fence is the run's ``claims`` after this claim's increment: the
        owner's writes for the run carry it (see the module docstring).

        A queued run stays 'queued' until ``run_started``; a run whose previous owner's
        lease expired is taken over as it is (it resumes from its completed nodes).
        """
        r = s.runs
        now = time.time()
        candidate = (
            select(r.c.id)
            .where(r.c.priority == priority, self._claimable(now))
            .order_by(r.c.accepted, r.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite holds the write lock
            .scalar_subquery()
        )
        stmt = (
            update(r)
            .where(r.c.id == candidate, self._claimable(now))
            .values(lease_owner=owner, lease_expires=now + lease, claims=r.c.claims + 1)
            .returning(r.c.id, r.c.claims)
        )
        with self._tx(True) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else (row[0], int(row[1]))

    def renew_leases(
        self, owner: str, lease: float, run_ids: builtins.list[str]
    ) -> builtins.list[str]:
        """Extend ``owner``'s leases on those of ``run_ids`` it still holds; their ids.

        A lease ends when its run finishes or is cancelled (``lease_expires`` is cleared)
        or another replica took the run over, so a run that was finished and then queued
        again (a retry) is not renewed by its old owner.
        """
        r = s.runs
        renewed: builtins.list[str] = []
        until = time.time() + lease
        with self._tx(True) as conn:
            for chunk in range(0, len(run_ids), 500):
                renewed += conn.execute(
                    update(r)
                    .where(
                        r.c.id.in_(run_ids[chunk : chunk + 500]),
                        r.c.lease_owner == owner,
                        r.c.status.in_(LIVE),
                        r.c.lease_expires.is_not(None),
                    )
                    .values(lease_expires=until)
                    .returning(r.c.id)
                ).scalars()
        return renewed

    def release_lease(self, owner: str, run_id: str) -> None:
        """Give a claimed run back at once (this replica is stopping, or could not start it)."""
        r = s.runs
        with self._tx(True) as conn:
            conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.lease_owner == owner, r.c.status.in_(LIVE))
                .values(lease_expires=0.0)
            )

    def lease(self, run_id: str) -> dict[str, Any]:
        """Who holds a run's lease and until when (for tests and ``dagforge runs``)."""
        r = s.runs
        with self._tx(True) as conn:
            row = conn.execute(
                select(r.c.lease_owner, r.c.lease_expires, r.c.claims).where(r.c.id == run_id)
            ).first()
        if row is None:
            raise RegistryError(f"no run with id {run_id!r}")
        return {"owner": row[0], "expires": row[1], "claims": row[2]}

    def fences(self, run_ids: builtins.list[str]) -> dict[str, tuple[str, int]]:
        """``(status, claims)`` of each of ``run_ids`` (unknown ids left out): the keeper
        tells a run taken over (live, claims moved on) from one that finished."""
        if not run_ids:
            return {}
        r = s.runs
        out: dict[str, tuple[str, int]] = {}
        with self._tx(True) as conn:
            for chunk in range(0, len(run_ids), 500):
                part = run_ids[chunk : chunk + 500]
                rows = conn.execute(select(r.c.id, r.c.status, r.c.claims).where(r.c.id.in_(part)))
                out.update((rid, (status, int(claims))) for rid, status, claims in rows)
        return out

    def statuses(self, run_ids: builtins.list[str]) -> dict[str, str]:
        """The journaled status of each of ``run_ids`` (unknown ids are left out)."""
        return {rid: status for rid, (status, _claims) in self.fences(run_ids).items()}

    # -- schedules -----------------------------------------------------------------------

    def put_schedule(self, name: str, body: dict[str, Any], cursor: float) -> None:
        """Register (or replace) a schedule; ``cursor`` is the time it counts due times from.

        A replaced schedule keeps its cursor, so re-registering never fires old times again.
        """
        t = s.schedules
        with self._tx() as conn:
            row = conn.execute(select(t.c.cursor).where(t.c.name == name)).first()
            if row is None:
                conn.execute(t.insert().values(name=name, body=json.dumps(body), cursor=cursor))
            else:
                conn.execute(update(t).where(t.c.name == name).values(body=json.dumps(body)))

    def get_schedule(self, name: str) -> dict[str, Any]:
        t = s.schedules
        with self._tx(True) as conn:
            row = conn.execute(select(t.c.body, t.c.cursor).where(t.c.name == name)).first()
        if row is None:
            raise RegistryError(f"no schedule named {name!r} is registered")
        return {**json.loads(row[0]), "cursor": row[1]}

    def list_schedules(self) -> builtins.list[dict[str, Any]]:
        t = s.schedules
        with self._tx(True) as conn:
            rows = conn.execute(select(t.c.body, t.c.cursor).order_by(t.c.name)).all()
        return [{**json.loads(b), "cursor": c} for b, c in rows]

    def delete_schedule(self, name: str) -> None:
        t = s.schedules
        with self._tx(True) as conn:
            gone = conn.execute(delete(t).where(t.c.name == name)).rowcount
        if not gone:
            raise RegistryError(f"no schedule named {name!r} is registered")

    def schedule_fires(self, name: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        f = s.schedule_fires
        with self._tx(True) as conn:
            rows = conn.execute(
                select(f.c.due, f.c.run_id, f.c.fired)
                .where(f.c.schedule == name)
                .order_by(f.c.due.desc())
                .limit(limit)
            ).all()
        return [{"due": d, "run_id": r, "fired": t} for d, r, t in rows]

    def tick_schedule(self, name: str, decide: Any) -> builtins.list[dict[str, Any]]:
        """Fire a schedule's due times exactly once, whichever replica gets here first.

        In one transaction: lock the schedule's row (``FOR UPDATE SKIP LOCKED``: a replica
        that finds it locked skips it, another one is firing it), count its live runs,
        let ``decide(body, cursor, live)`` return ``(fires, new_cursor)`` — ``fires`` is a
        list of ``(due, run)`` with ``run`` the ``accept_run`` fields — then journal each
        fire and its run and move the cursor, all committed together. Returns the runs
        journaled (already 'queued').
        """
        t, f, r = s.schedules, s.schedule_fires, s.runs
        with self._tx() as conn:
            row = conn.execute(
                select(t.c.body, t.c.cursor)
                .where(t.c.name == name)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return []  # deleted, or another replica holds it right now
            body, cursor = json.loads(row[0]), row[1]
            live = conn.execute(
                select(func.count()).where(r.c.schedule == name, r.c.status.in_(LIVE))
            ).scalar_one()
            fires, new_cursor = decide(body, cursor, live)
            now = time.time()
            done = []
            for due, run in fires:
                taken = conn.execute(
                    select(f.c.run_id).where(f.c.schedule == name, f.c.due == due)
                ).first()
                if taken is not None:
                    continue  # fired already (belt and braces: the cursor says so too)
                conn.execute(
                    f.insert().values(schedule=name, due=due, run_id=run["run_id"], fired=now)
                )
                conn.execute(
                    r.insert().values(
                        **self._run_values(
                            run["run_id"],
                            run["trigger"],
                            run["dag"],
                            run["priority"],
                            run["arguments"],
                            run.get("snapshot"),
                            now,
                        ),
                        schedule=name,
                    )
                )
                done.append({**run, "due": due, "accepted": now})
            if new_cursor != cursor:
                conn.execute(update(t).where(t.c.name == name).values(cursor=new_cursor))
        return done


_REPLACE = re.compile(
    r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE | re.DOTALL
)


def _to_postgres(sql: str) -> str:
    """A SQLite-flavoured statement for psycopg: ``?`` -> ``%s`` (outside quotes, with
    literal ``%`` doubled) and ``INSERT OR REPLACE`` -> ``INSERT ... ON CONFLICT (primary
    key) DO UPDATE`` for the tables whose keys are known."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            out.append("%s")
        elif ch == "%":  # psycopg parses placeholders even without parameters
            out.append("%%")
        else:
            out.append(ch)
    text = "".join(out)
    match = _REPLACE.match(text)
    if match:
        table, cols = match.group(1), [c.strip() for c in match.group(2).split(",")]
        keys = s.PRIMARY_KEYS.get(table)
        if keys is None:
            raise StorageFault(f"INSERT OR REPLACE into {table!r}: its primary key is not known")
        text = f"INSERT INTO {table} ({', '.join(cols)})" + text[match.end() :]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in keys)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        text += f" ON CONFLICT ({', '.join(keys)}) {action}"
    return text


def _raw_sqlite(engine: Engine) -> sqlite3.Connection | None:
    """The fast path's own connection to an SQLite file (None for an in-memory database),
    set up as the engine's connections are (``__init__._engine``): WAL, synchronous=NORMAL,
    a 30 s busy timeout, autocommit (every statement its own transaction)."""
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
    except sqlite3.Error as exc:
        raise StorageFault(f"cannot open the database {path}: {exc}") from exc
    return conn


class _Handle:
    def __init__(self, db: SqlDatabase):
        self._db = db

    def close(self) -> None:
        self._db.close()


def _run_row(row: Any) -> dict[str, Any]:
    out = dict(zip(_RUN_KEYS, row, strict=True))
    for key in ("arguments", "outputs", "nodes"):
        if out[key] is not None:
            out[key] = json.loads(out[key])
    return out


def _short(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's multi-line statement dump."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
