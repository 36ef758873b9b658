"""Schedules: validation naming the field, due times and catch-up on a virtual clock,
exactly-once firing across two replicas on SQLite and PostgreSQL, restarts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge.errors import SpecError
from dagforge.server.database import open_database, upgrade
from dagforge.server.schedules import Scheduler, decide, due_times, validate

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC).timestamp()  # a Monday, 12:00 UTC
MIN = 60.0

TRIGGER = {
    "trigger_name": "t",
    "type": "dag",
    "priority": "silver",
    "dags": ["d"],
    "functions": [],
}


class Queues:
    """Records the wake-ups a fired run sends the dispatchers."""

    def __init__(self):
        self.puts: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()

    def put(self, priority, run_id, force=False):
        with self._lock:
            self.puts.append((priority, run_id, force))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/journal.sqlite3"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture
def db(db_url):
    database = open_database(db_url)
    database.put("triggers", "t", TRIGGER)
    yield database
    database.close()


def body(**changes):
    out = {"name": "s", "trigger": "t", "cron": "*/10 * * * *", "arguments": {"x": 1}}
    out.update(changes)
    return out


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", "not a valid cron"),
        ({"cron": "every minute"}, "cron", "not a valid cron"),
        ({"cron": "* * *"}, "cron", "not a valid cron"),
        ({"cron": 5}, "cron", "cron expression"),
        ({"trigger": "nope"}, "trigger", "'nope' is not a registered trigger"),
        ({"trigger": ""}, "trigger", "registered trigger"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"catchup": "some"}, "catchup", "'some'"),
        ({"max_active": 0}, "max_active", "from 1"),
        ({"max_active": True}, "max_active", "integer"),
        ({"arguments": [1]}, "arguments", "JSON object"),
        ({"name": "a/b"}, "name", "'/'"),
        ({"name": ""}, "name", "non-empty"),
        ({"every": "day"}, "every", "unknown field"),
    ],
)
def test_bad_fields_are_named(changes, field, words) -> None:
    with pytest.raises(SpecError) as info:
        validate(body(**changes), lambda name: name == "t")
    assert info.value.path == field
    assert words in str(info.value)


def test_defaults_and_normalised_cron() -> None:
    record = validate({"name": "s", "trigger": "t", "cron": " 0  9 * * 1-5 "}, lambda name: True)
    assert record == {
        "name": "s",
        "trigger": "t",
        "cron": "0 9 * * 1-5",
        "arguments": {},
        "timezone": "UTC",
        "catchup": "none",
        "max_active": 1,
    }


# --- due times and catch-up (pure, virtual clock) ------------------------------------------------


def test_due_times_in_a_time_zone() -> None:
    dues = due_times("0 9 * * *", "Europe/Berlin", T0, T0 + 3 * 86400, 10)
    assert [datetime.fromtimestamp(t, UTC).hour for t in dues] == [8, 8, 8]  # CET
    summer = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
    dues = due_times("0 9 * * *", "Europe/Berlin", summer, summer + 86400, 10)
    assert [datetime.fromtimestamp(t, UTC).hour for t in dues] == [7]  # CEST
    assert due_times("* * * * * */15", "UTC", T0, T0 + MIN, 10) == [
        T0 + 15,
        T0 + 30,
        T0 + 45,
        T0 + 60,
    ]
    assert due_times("*/10 * * * *", "UTC", T0, T0 + 3600, 2) == [T0 + 600, T0 + 1200]


def rec(catchup: str, max_active: int = 10) -> dict:
    return validate(body(catchup=catchup, max_active=max_active), lambda name: True)


def test_catchup_all_fires_every_missed_time_in_order() -> None:
    fires, cursor = decide(rec("all"), T0, 0, T0 + 35 * MIN)
    assert fires == [T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN]
    assert cursor == T0 + 30 * MIN


def test_catchup_all_waits_for_a_slot_and_keeps_order() -> None:
    fires, cursor = decide(rec("all", max_active=2), T0, 1, T0 + 35 * MIN)
    assert fires == [T0 + 10 * MIN] and cursor == T0 + 10 * MIN
    fires, cursor = decide(rec("all", max_active=2), cursor, 2, T0 + 36 * MIN)
    assert fires == [] and cursor == T0 + 10 * MIN  # full: nothing is skipped
    fires, cursor = decide(rec("all", max_active=2), cursor, 0, T0 + 37 * MIN)
    assert fires == [T0 + 20 * MIN, T0 + 30 * MIN]


def test_catchup_latest_fires_the_most_recent_only() -> None:
    fires, cursor = decide(rec("latest"), T0, 0, T0 + 35 * MIN)
    assert fires == [T0 + 30 * MIN] and cursor == T0 + 30 * MIN
    fires, cursor = decide(rec("latest", max_active=1), T0, 1, T0 + 35 * MIN)
    assert fires == [] and cursor == T0 + 30 * MIN  # no slot: skipped, not postponed


def test_catchup_none_fires_only_current_times() -> None:
    assert decide(rec("none"), T0, 0, T0 + 10 * MIN + 1) == ([T0 + 10 * MIN], T0 + 10 * MIN)
    assert decide(rec("none"), T0, 0, T0 + 35 * MIN) == ([], T0 + 30 * MIN)  # missed: skip
    assert decide(rec("none"), T0, 0, T0 + 5 * MIN) == ([], T0)  # nothing due yet


# --- firing through the journal ---------------------------------------------------------------


def test_tick_journals_runs_and_a_restart_does_not_refire(db_url, db) -> None:
    queues = Queues()
    sched = Scheduler(db, queues)
    record = sched.register(body(catchup="all", max_active=5), now=T0)
    assert record["name"] == "s" and record["last_fires"] == []
    assert sched.tick(now=T0 + 5 * MIN) == []
    fired = sched.tick(now=T0 + 21 * MIN)
    assert [f["due"] for f in fired] == [T0 + 10 * MIN, T0 + 20 * MIN]
    for f in fired:
        run = db.run(f["run_id"])
        assert run["schedule"] == "s" and run["status"] == "queued"
        assert run["trigger"] == "t" and run["dag"] == "d" and run["priority"] == "silver"
        assert run["arguments"] == {"x": 1}
    assert queues.puts == [("silver", f["run_id"], True) for f in fired]
    # a new process on the same database: the cursor survived, nothing fires twice
    again = open_database(db_url)
    try:
        other = Scheduler(again, Queues())
        assert other.tick(now=T0 + 21 * MIN) == []
        assert [f["due"] for f in other.tick(now=T0 + 31 * MIN)] == [T0 + 30 * MIN]
        fires = other.get("s")["last_fires"]
        assert [f["due"] for f in fires] == [T0 + 30 * MIN, T0 + 20 * MIN, T0 + 10 * MIN]
    finally:
        again.close()


def test_max_active_counts_live_runs_of_the_schedule(db) -> None:
    sched = Scheduler(db, Queues())
    sched.register(body(catchup="all", max_active=1), now=T0)
    first = sched.tick(now=T0 + 25 * MIN)
    assert [f["due"] for f in first] == [T0 + 10 * MIN]  # one slot
    assert sched.tick(now=T0 + 26 * MIN) == []  # still running
    db.run_finished(first[0]["run_id"], "succeeded", None, None, {})
    assert [f["due"] for f in sched.tick(now=T0 + 27 * MIN)] == [T0 + 20 * MIN]


def test_reregistering_keeps_the_cursor_and_deleted_triggers_skip(db) -> None:
    sched = Scheduler(db, Queues())
    sched.register(body(catchup="all", max_active=10), now=T0)
    sched.tick(now=T0 + 11 * MIN)
    sched.register(body(catchup="all", max_active=10, arguments={"x": 2}), now=T0 + 50 * MIN)
    fired = sched.tick(now=T0 + 21 * MIN)
    assert [f["due"] for f in fired] == [T0 + 20 * MIN]  # nothing older fired again
    assert db.run(fired[0]["run_id"])["arguments"] == {"x": 2}
    db.delete("triggers", "t")
    assert sched.tick(now=T0 + 41 * MIN) == []
    db.put("triggers", "t", TRIGGER)
    assert sched.tick(now=T0 + 42 * MIN) == []  # the skipped due times stay skipped
    sched.delete("s")
    assert sched.list() == []


def test_each_due_time_fires_once_across_replicas(db_url, db) -> None:
    Scheduler(db, Queues()).register(body(cron="* * * * *", catchup="all", max_active=1000), now=T0)
    dbs = [open_database(db_url) for _ in range(2)]
    scheds = [Scheduler(d, Queues()) for d in dbs]
    fired: list[dict] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def replica(sched: Scheduler) -> None:
        try:
            for minute in range(1, 61):
                out = sched.tick(now=T0 + minute * MIN + 1)
                with lock:
                    fired.extend(out)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(s,)) for s in scheds * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for d in dbs:
        d.close()
    assert errors == []
    dues = sorted(f["due"] for f in fired)
    assert dues == [T0 + m * MIN for m in range(1, 61)]  # every minute, exactly once
    assert len({f["run_id"] for f in fired}) == 60
    assert len([r for r in db.runs(1000) if r["schedule"] == "s"]) == 60
