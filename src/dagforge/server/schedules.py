"""Schedules: run a trigger at the times of a cron expression, once per due time.

``POST /register/schedule`` takes ``{name, trigger, cron, arguments, timezone, catchup,
max_active}``: ``cron`` has five fields (minute hour day month weekday) or six (a
trailing seconds field), read by ``croniter`` in ``timezone`` (an IANA name, default
UTC). Each schedule keeps a *cursor* in the database, the last due time it decided;
registering starts it at the registration time, so nothing in the past fires then.

Every ``tick`` seconds each replica looks at the due times after the cursor:

- ``catchup: "all"`` fires every one of them, oldest first (at most ``max_active``
  live runs at once; the rest wait for a slot and keep their order);
- ``"latest"`` fires only the most recent and skips the older ones (a server that was
  down fires once when it comes back);
- ``"none"`` fires a due time only while it is current (at most ``GRACE`` seconds
  late); times missed while no server ran are skipped.

Exactly once across replicas: a tick locks the schedule's row (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite), journals each fire with its run and
moves the cursor in the same transaction, and ``schedule_fires`` has one row per
``(schedule, due)``. A replica that finds the row locked skips it: another one is
firing it. Fired runs are ordinary runs (queued by their trigger's priority class,
listed by ``/runs`` with ``"schedule"`` set) and survive restarts like any other.

``GET /schedules`` answers one page by name (``limit`` ≤ ``Settings.max_list``, default 100);
when more follow, ``X-Next-Cursor`` / ``Link: rel="next"`` name the next page's
``cursor`` (``paging.py``), as ``GET /functions`` does.

Concurrency hazards: the ticker thread is the only caller of ``tick`` in a process;
registration runs on request threads. Both only touch the database (its own locking).
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import threading
import time
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagforge.errors import RegistryError, SpecError
from dagforge.server.guards import BadInput, check_json

log = logging.getLogger("dagforge.server")

CATCHUP = ("none", "latest", "all")
GRACE = 5.0  # seconds a due time may be late and still count as current (catchup "none")
MAX_FIRES_PER_TICK = 100
MAX_ACTIVE_LIMIT = 1000


def _field_error(name: Any, field: str, message: str) -> SpecError:
    who = f"schedule {name!r}: " if isinstance(name, str) and name else ""
    return SpecError(f"{who}{message}", path=field)


def validate(body: Any, trigger_exists: Any) -> dict[str, Any]:
    """A schedule record from a request body; ``SpecError`` naming the field at fault."""
    from croniter import croniter

    if not isinstance(body, dict):
        raise SpecError(f"a schedule must be a JSON object, got {type(body).__name__}")
    known = {"name", "trigger", "cron", "arguments", "timezone", "catchup", "max_active"}
    extra = sorted(set(body) - known)
    if extra:
        raise _field_error(
            body.get("name"), extra[0], f"unknown field {extra[0]!r}; use {sorted(known)}"
        )
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _field_error(None, "name", "a schedule needs a non-empty string 'name'")
    if "/" in name or "\\" in name or name.startswith(".") or len(name) > 200:
        raise _field_error(
            name,
            "name",
            "'name' must not contain '/' or '\\', start with '.', or exceed 200 characters",
        )
    if any(ord(c) < 32 for c in name):
        raise _field_error(name, "name", "'name' must not contain control characters")
    trigger = body.get("trigger")
    if not isinstance(trigger, str) or not trigger:
        raise _field_error(name, "trigger", "'trigger' must name a registered trigger")
    if not trigger_exists(trigger):
        raise _field_error(name, "trigger", f"'trigger' {trigger!r} is not a registered trigger")
    cron = body.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        raise _field_error(name, "cron", "'cron' must be a cron expression such as '*/5 * * * *'")
    if len(cron.split()) not in (5, 6) or not croniter.is_valid(cron):
        raise _field_error(
            name,
            "cron",
            f"'cron' {cron!r} is not a valid cron expression (five fields: minute hour "
            "day month weekday, or six with trailing seconds)",
        )
    arguments = body.get("arguments", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _field_error(name, "arguments", "'arguments' must be a JSON object")
    try:
        check_json(arguments, "arguments")  # nesting depth and NaN/Infinity, as for /run
    except BadInput as exc:
        raise _field_error(name, exc.path, str(exc).removeprefix(f"{exc.path}: ")) from None
    tz = body.get("timezone", "UTC") or "UTC"
    try:
        if not isinstance(tz, str):
            raise ValueError(tz)  # control flow: caught just below, answered as a field error
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _field_error(
            name, "timezone", f"'timezone' {tz!r} is not an IANA time zone such as 'Europe/Berlin'"
        ) from None
    catchup = body.get("catchup", "none")
    if catchup not in CATCHUP:
        raise _field_error(
            name, "catchup", f"'catchup' must be one of {list(CATCHUP)}, got {catchup!r}"
        )
    max_active = body.get("max_active", 1)
    if (
        isinstance(max_active, bool)
        or not isinstance(max_active, int)
        or not 1 <= max_active <= MAX_ACTIVE_LIMIT
    ):
        raise _field_error(
            name, "max_active", f"'max_active' must be an integer from 1 to {MAX_ACTIVE_LIMIT}"
        )
    return {
        "name": name,
        "trigger": trigger,
        "cron": " ".join(cron.split()),
        "arguments": arguments,
        "timezone": tz,
        "catchup": catchup,
        "max_active": max_active,
    }


def due_times(cron: str, tz: str, after: float, until: float, limit: int) -> builtins.list[float]:
    """Due times ``t`` with ``after < t <= until``, oldest first, at most ``limit``."""
    from croniter import croniter

    it = croniter(cron, datetime.fromtimestamp(after, ZoneInfo(tz)))
    out: builtins.list[float] = []
    while len(out) < limit:
        t = it.get_next(datetime).timestamp()
        if t > until:
            break
        if t > after:
            out.append(t)
    return out


def decide(body: dict[str, Any], cursor: float, live: int, now: float) -> tuple[list[float], float]:
    """Which due times to fire now and the new cursor (see the module docstring)."""
    dues = due_times(body["cron"], body["timezone"], cursor, now, MAX_FIRES_PER_TICK)
    if not dues:
        return [], cursor
    slots = max(0, body["max_active"] - live)
    catchup = body["catchup"]
    if catchup == "all":
        fire = dues[:slots]
        if len(fire) == len(dues):
            return fire, dues[-1]
        # the first one that found no slot waits; the cursor stops just before it
        return fire, (fire[-1] if fire else cursor)
    latest = dues[-1]
    if catchup == "none" and now - latest > GRACE:
        return [], latest
    return ([latest] if slots else []), latest


def next_due(body: dict[str, Any], after: float) -> float | None:
    from croniter import croniter

    it = croniter(body["cron"], datetime.fromtimestamp(after, ZoneInfo(body["timezone"])))
    t = it.get_next(datetime).timestamp()
    return t if math.isfinite(t) else None


class Scheduler:
    """Registers schedules and fires their due times (a ticker thread per replica).

    ``db`` is the platform's ``SqlDatabase``; ``queues`` wakes the dispatchers for a
    fired run; ``snapshot(trigger_record)`` (optional) is what the platform journals with
    an accepted run.
    """

    def __init__(self, db: Any, queues: Any, snapshot: Any = None, tick: float = 1.0):
        self.db = db
        self.queues = queues
        self.snapshot = snapshot
        self.tick_seconds = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the registry ---------------------------------------------------------------------

    def register(self, body: Any, now: float | None = None) -> dict[str, Any]:
        def exists(name: str) -> bool:
            try:
                self.db.get("triggers", name)
            except RegistryError:
                return False
            return True

        record = validate(body, exists)
        self.db.put_schedule(record["name"], record, time.time() if now is None else now)
        return self.describe(self.db.get_schedule(record["name"]))

    def describe(self, stored: dict[str, Any]) -> dict[str, Any]:
        record = {k: v for k, v in stored.items() if k != "cursor"}
        record["next_due"] = next_due(record, max(stored["cursor"], time.time()))
        record["last_fires"] = self.db.schedule_fires(record["name"], 10)
        return record

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every schedule, described (the ticker's and tests' view; listings use ``page``)."""
        return [self.describe(s) for s in self.db.list_schedules()]

    def page(self, limit: int, after: str | None = None) -> builtins.list[dict[str, Any]]:
        """Up to ``limit`` schedules by name, after the name ``after``, described.

        One bounded query (``LIMIT``), so a listing's cost does not grow with how many
        schedules are registered.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise RegistryError(f"limit must be a positive integer, got {limit!r}")
        if after is None:
            rows = self.db._exec(
                "SELECT body, cursor FROM schedules ORDER BY name LIMIT ?", (limit,)
            )
        else:
            rows = self.db._exec(
                "SELECT body, cursor FROM schedules WHERE name > ? ORDER BY name LIMIT ?",
                (after, limit),
            )
        return [self.describe({**json.loads(b), "cursor": c}) for b, c in rows]

    def get(self, name: str) -> dict[str, Any]:
        return self.describe(self.db.get_schedule(name))

    def delete(self, name: str) -> None:
        self.db.delete_schedule(name)

    # -- firing -----------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> builtins.list[dict[str, Any]]:
        """Fire what is due at ``now`` (default: the clock); the runs journaled."""
        now = time.time() if now is None else now
        fired: builtins.list[dict[str, Any]] = []
        for stored in self.db.list_schedules():
            if not due_times(stored["cron"], stored["timezone"], stored["cursor"], now, 1):
                continue  # nothing due by the cursor we read; no lock taken
            try:
                fired.extend(self._fire(stored, now))
            except RegistryError as exc:  # e.g. the trigger was deleted since
                log.warning("schedule %r: %s", stored["name"], exc)
        return fired

    def _fire(self, stored: dict[str, Any], now: float) -> builtins.list[dict[str, Any]]:
        name = stored["name"]
        try:
            trigger = self.db.get("triggers", stored["trigger"])
        except RegistryError:
            # no trigger, no run: skip the due times so they are not fired later
            self.db.tick_schedule(name, lambda body, cursor, live: ([], now))
            raise RegistryError(
                f"trigger {stored['trigger']!r} is no longer registered; due times skipped"
            ) from None
        snapshot = self.snapshot(trigger) if self.snapshot is not None else None
        dag = trigger["dags"][0] if trigger["type"] == "dag" else None

        def plan(body: dict[str, Any], cursor: float, live: int) -> tuple[list, float]:
            dues, new_cursor = decide(body, cursor, live, now)
            runs = [
                (
                    due,
                    {
                        "run_id": uuid.uuid4().hex,
                        "trigger": trigger["trigger_name"],
                        "dag": dag,
                        "priority": trigger["priority"],
                        "arguments": body.get("arguments") or {},
                        "snapshot": snapshot,
                    },
                )
                for due in dues
            ]
            return runs, new_cursor

        done = self.db.tick_schedule(name, plan)
        for run in done:
            self.queues.put(run["priority"], run["run_id"], force=True)
        return done

    # -- the ticker thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="dagforge-schedules", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception as exc:  # a database hiccup: the next tick tries again
                log.warning("schedules: %s", exc)


def install(app: Any, platform: Any, authorised: Any, fail: Any) -> None:
    """Add the schedule routes to the gateway (``app.py`` calls this once)."""
    from fastapi import Body, Depends, HTTPException, Query, Response

    from dagforge.server import api_models as m
    from dagforge.server.paging import (
        MAX_CURSOR,
        BadCursor,
        cursor_for,
        link_next,
        name_from_cursor,
    )

    typed: dict[str, Any] = {"response_model": m.Schedule, "response_model_exclude_unset": True}

    def scheduler() -> Scheduler:
        sched = getattr(platform, "schedules", None)
        if sched is None:
            raise HTTPException(501, "schedules need the SQLAlchemy journal (--database-url)")
        return sched

    def post(body: Any = Body(...), _: None = Depends(authorised)) -> Any:
        try:
            return scheduler().register(body)
        except (RegistryError, SpecError) as exc:
            raise fail(exc) from None

    app.post(
        "/register/schedule",
        status_code=201,
        tags=["register"],
        summary="Register a schedule",
        **typed,
    )(post)
    app.post("/register/schedule/", status_code=201, include_in_schema=False, **typed)(post)

    may_read = app.state.read_auth  # with a token, reads need it too (unless public_reads)

    settings = platform.settings
    page_size = min(100, settings.max_list)  # the same page as GET /functions and /runs

    def listing(
        response: Response,
        limit: int = Query(page_size, ge=1, le=settings.max_list),
        cursor: str | None = Query(None, max_length=MAX_CURSOR),
        _: None = Depends(may_read),
    ) -> Any:
        """Schedules by name, one page at a time; when more follow, the ``X-Next-Cursor``
        header (and a ``Link: rel="next"``) names the ``cursor`` of the next page."""
        try:
            after = None if cursor is None else name_from_cursor(cursor)
        except BadCursor as exc:
            raise HTTPException(422, str(exc)) from None
        page = scheduler().page(limit, after)
        if len(page) == limit:
            link_next(response.headers, "/schedules", limit, cursor_for(page[-1]["name"]))
        return page

    # FastAPI reads the annotation to inject the response; this module's annotations are
    # strings (``from __future__``) and fastapi is imported only here, so name the class
    listing.__annotations__["response"] = Response
    app.get(
        "/schedules",
        tags=["register"],
        response_model=builtins.list[m.Schedule],
        response_model_exclude_unset=True,
    )(listing)

    @app.get("/schedules/{name}", tags=["register"], **typed)
    def get(name: str, _: None = Depends(may_read)) -> Any:
        try:
            return scheduler().get(name)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.delete("/schedules/{name}", tags=["register"], response_model=m.Deleted)
    def delete(name: str, _: None = Depends(authorised)) -> Any:
        try:
            scheduler().delete(name)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"deleted": name}
