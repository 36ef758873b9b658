"""The SQLAlchemy journal on SQLite and a real PostgreSQL: schema, parity with db.py,
leases claimed once across "replicas" (separate engines), expiry and takeover."""

from __future__ import annotations

import threading
import time

import pytest
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge.errors import RegistryError
from dagforge.server.database import (
    SchemaError,
    current_revision,
    head_revision,
    open_database,
    upgrade,
)
from dagforge.server.database.queue import LeasedQueues
from dagforge.server.dispatch import WeightedRoundRobin


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/journal.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(db_url):
    upgrade(db_url)
    database = open_database(db_url)
    yield database
    database.close()


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- schema ----------------------------------------------------------------------------------


def test_unmigrated_schema_is_refused_with_what_to_run(db_url) -> None:
    with pytest.raises(SchemaError) as info:
        open_database(db_url)
    message = str(info.value)
    assert "no dagforge schema" in message and "dagforge db upgrade" in message
    before, after = upgrade(db_url)
    assert before is None and after == head_revision()
    assert upgrade(db_url) == (after, after)  # idempotent
    open_database(db_url).close()


def test_old_revision_is_refused(db_url) -> None:
    upgrade(db_url)
    db = open_database(db_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    db.close()
    with pytest.raises(SchemaError, match=r"revision '0000'.*dagforge db upgrade"):
        open_database(db_url)


def test_bad_urls_name_the_url() -> None:
    with pytest.raises(RegistryError, match="mysql"):
        open_database("mysql://u:secret@h/db")
    with pytest.raises(RegistryError, match="not a URL"):
        open_database("journal.sqlite3")


def test_password_never_in_messages(postgres_server) -> None:  # noqa: F811
    url = postgres_server.replace("postgres@", "postgres:s3cr3t@").rsplit("/", 1)[0] + "/nodb"
    with pytest.raises(Exception) as info:
        open_database(url)
    assert "s3cr3t" not in str(info.value)


def test_adopts_a_journal_written_by_the_sqlite_server(tmp_path) -> None:
    from reference_journal import Database

    path = tmp_path / "old.sqlite3"
    old = Database(path)
    old.put("triggers", "t", {"trigger_name": "t"})
    old.accept_run("r1", "t", "d", "gold", {"x": 1})
    old.node_done("r1", "a", {"y": 2})
    old.close()
    url = f"sqlite:///{path}"
    upgrade(url)
    db = open_database(url)
    assert current_revision(db.engine) == head_revision()
    assert db.get("triggers", "t") == {"trigger_name": "t"}
    assert [r["id"] for r in db.unfinished_runs()] == ["r1"]
    assert db.completed_nodes("r1") == {"a": {"y": 2}}
    assert db.claim("me", "gold", 10) == "r1"
    db.close()


def test_create_true_migrates_the_embedded_default(tmp_path) -> None:
    db = open_database(f"sqlite:///{tmp_path}/sub/dir/j.sqlite3", create=True)
    db.put("dags", "d", {"name": "d"})
    assert db.list("dags") == [{"name": "d"}]
    db.close()


# --- parity with the reference journal (reference_journal.py) ---------------------------


def _script(db) -> list:
    """The same calls on either journal; what they return, without timestamps."""
    out: list = []
    db.put("functions", "f", {"name": "f", "kind": "python"})
    db.put("functions", "f", {"name": "f", "kind": "http"})
    db.put("functions", "a", {"name": "a"})
    out.append(db.get("functions", "f"))
    out.append(db.list("functions"))
    out.append(db.get_many("functions", ["f", "zz", "a"]))
    out.append(db.get_many("functions", [f"n{i}" for i in range(1200)] + ["a"]))
    db.delete("functions", "a")
    for call in (lambda: db.delete("functions", "a"), lambda: db.get("dags", "zz")):
        with pytest.raises(RegistryError) as info:
            call()
        out.append(str(info.value))
    db.accept_run("r1", "t", "d", "gold", {"x": 1}, {"spec": {"name": "d"}})
    db.accept_run("r2", "t", None, "bronze", {"x": 2})
    out.append(db.snapshot("r1"))
    out.append(db.snapshot("r2"))
    out.append(db.run_started("r1") is not None)
    db.node_done("r1", "a", {"y": 1})
    db.node_done("r1", "a", {"y": 2})
    db.node_done("r1", "b#2", [1, 2])
    out.append(db.completed_nodes("r1"))
    out.append([r["id"] for r in db.unfinished_runs()])
    db.run_finished("r1", "succeeded", {"o": 1}, None, {"a": {"status": "succeeded"}})
    out.append(db.run_cancelled("r1"))
    out.append(db.run_cancelled("r2"))
    out.append(db.run_started("r2"))
    for rid in ("r1", "r2"):
        rec = db.run(rid)
        out.append({k: v for k, v in rec.items() if k not in ("accepted", "started", "finished")})
    out.append([r["id"] for r in db.runs(10)])
    out.append([sorted(k for k in s if k != "schedule") for s in db.run_summaries(10)])
    page = db.run_summaries(1)
    out.append([r["id"] for r in db.run_summaries(5, (page[0]["accepted"], page[0]["id"]))])
    with pytest.raises(RegistryError) as info:
        db.run("nope")
    out.append(str(info.value))
    db.accept_run("r3", "t", None, "gold", {})
    db.forget_run("r3")
    out.append([r["id"] for r in db.runs(10)])
    out.append(sorted(db.prune_runs(time.time() + 10)))
    out.append(db.runs(10))
    return out


def test_same_results_as_the_sqlite_journal(db, tmp_path) -> None:
    from reference_journal import Database

    old = Database(tmp_path / "old.sqlite3")
    expected = _script(old)
    old.close()
    got = _script(db)
    for item in got:  # records carry one more key: the schedule that fired the run
        if isinstance(item, dict) and "schedule" in item:
            assert item.pop("schedule") is None
    assert got == expected


# --- leases ----------------------------------------------------------------------------------


def test_claims_are_exclusive_across_replicas(db_url) -> None:
    upgrade(db_url)
    replicas = [open_database(db_url) for _ in range(2)]
    for i in range(60):
        replicas[0].accept_run(f"r{i:02d}", "t", None, "silver", {})
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(name: str, db) -> None:
        while True:
            run_id = db.claim(name, "silver", 30)
            if run_id is None:
                return
            with lock:
                claimed.append((name, run_id))

    threads = [threading.Thread(target=worker, args=(f"w{k}", replicas[k % 2])) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [rid for _, rid in claimed]
    assert sorted(ids) == [f"r{i:02d}" for i in range(60)]  # each exactly once
    assert len({name for name, _ in claimed}) > 1
    assert replicas[1].claimable_counts() == {}
    for db in replicas:
        db.close()


def test_claim_takes_the_oldest_of_the_class(db) -> None:
    db.accept_run("old", "t", None, "gold", {})
    db.accept_run("other", "t", None, "bronze", {})
    db.accept_run("new", "t", None, "gold", {})
    assert db.claimable_counts() == {"gold": 2, "bronze": 1}
    assert db.claim("a", "gold", 30) == "old"
    assert db.claim("a", "gold", 30) == "new"
    assert db.claim("a", "gold", 30) is None
    assert db.queued_counts() == {"gold": 2, "bronze": 1}  # claimed, not started yet


def test_expired_lease_is_taken_over_and_renewal_keeps_it(db) -> None:
    db.accept_run("r", "t", None, "gold", {})
    db.accept_run("kept", "t", None, "gold", {})
    assert db.claim("dead", "gold", 0.3) == "r"
    assert db.claim("alive", "gold", 0.3) == "kept"
    db.run_started("r")
    db.node_done("r", "a", {"v": 1})
    assert db.claim("other", "gold", 30) is None  # both leases still valid

    def renewed_and_expired() -> bool:
        db.renew_leases("alive", 0.3, ["kept"])
        return db.claimable_counts() == {"gold": 1}

    assert wait_until(renewed_and_expired)
    assert db.claim("other", "gold", 30) == "r"  # the dead owner's run, resumable
    assert db.lease("r")["owner"] == "other" and db.lease("r")["claims"] == 2
    assert db.completed_nodes("r") == {"a": {"v": 1}}
    assert db.run("r")["status"] == "running"
    assert db.renew_leases("dead", 30, ["r"]) == []  # the old owner cannot take it back
    assert db.renew_leases("other", 30, ["r", "kept", "nope"]) == ["r"]
    db.run_finished("r", "succeeded", None, None, {})
    assert db.renew_leases("other", 30, ["r"]) == []  # finished runs are not held
    db._write("UPDATE runs SET status='queued' WHERE id=?", ("r",))  # a retry
    assert db.renew_leases("other", 30, ["r"]) == []  # ... is not the old owner's
    assert db.claim("third", "gold", 30) == "r"


def test_cancelled_and_finished_runs_are_never_claimed(db) -> None:
    db.accept_run("c", "t", None, "gold", {})
    db.accept_run("f", "t", None, "gold", {})
    db.run_cancelled("c")
    db.run_finished("f", "failed", None, "boom", {})
    assert db.claim("a", "gold", 30) is None


def test_release_gives_a_run_back_at_once(db) -> None:
    db.accept_run("r", "t", None, "gold", {})
    assert db.claim("a", "gold", 60) == "r"
    db.release_lease("b", "r")  # not b's to give
    assert db.claim("b", "gold", 60) is None
    db.release_lease("a", "r")
    assert db.claim("b", "gold", 60) == "r"


# --- LeasedQueues -----------------------------------------------------------------------------


def test_leased_queues_serve_weighted_round_robin(db) -> None:
    for cls, n in (("gold", 10), ("silver", 10), ("bronze", 10)):
        for i in range(n):
            db.accept_run(f"{cls}{i}", "t", None, cls, {})
    queues = LeasedQueues(db, lease=30, poll=0.02)
    try:
        picks = [queues.get(timeout=5) for _ in range(6)]
        wrr = WeightedRoundRobin()  # the in-memory queues' order, pick for pick
        expected = [wrr.pick(["gold", "silver", "bronze"]) for _ in range(6)]
        assert [p[0] for p in picks] == expected
        assert expected.count("gold") == 3 and expected.count("bronze") == 1
        assert [p[1] for p in picks[:3]] == ["gold0", "silver0", "gold1"]
        assert sorted(queues.held()) == sorted(p[1] for p in picks)
        assert queues.sizes() == {"gold": 10, "silver": 10, "bronze": 10}  # none started yet
    finally:
        queues.close()


def test_two_replicas_share_the_proportions(db_url) -> None:
    upgrade(db_url)
    dbs = [open_database(db_url) for _ in range(2)]
    for cls in ("gold", "silver", "bronze"):
        for i in range(12):
            dbs[0].accept_run(f"{cls}{i:02d}", "t", None, cls, {})
    replicas = [LeasedQueues(d, lease=30, poll=0.02) for d in dbs]
    try:
        picks = []
        for _ in range(6):
            for q in replicas:
                picks.append(q.get(timeout=5))
        counts = {c: sum(1 for p in picks if p[0] == c) for c in ("gold", "silver", "bronze")}
        assert counts == {"gold": 6, "silver": 4, "bronze": 2}
        assert len({p[1] for p in picks}) == 12  # nobody got a run twice
    finally:
        for q in replicas:
            q.close()
        for d in dbs:
            d.close()


def test_put_of_a_held_run_gives_it_back_and_get_times_out(db) -> None:
    queues = LeasedQueues(db, lease=30, poll=0.02)
    try:
        assert queues.get(timeout=0.1) is None
        db.accept_run("r", "t", None, "gold", {})
        queues.put("gold", "r")
        assert queues.get(timeout=5) == ("gold", "r", 1)  # the fence: its first claim
        assert queues.get(timeout=0.1) is None  # held: not claimable again
        queues.put("gold", "r", force=True)  # the platform re-queues after a storage fault
        assert queues.held() == []
        assert queues.get(timeout=5) == ("gold", "r", 2)  # claimed again: a new fence
        with pytest.raises(RegistryError, match="platinum"):
            queues.put("platinum", "r")
    finally:
        queues.close()


def test_keeper_renews_wakes_remote_finishes_and_passes_cancels(db) -> None:
    queues = LeasedQueues(db, lease=0.6, poll=0.02)
    woken: list[str] = []
    cancel = threading.Event()
    waiting = {"w"}
    queues.attach(
        waiting=lambda: list(waiting),
        finished=lambda rid: (woken.append(rid), waiting.discard(rid)),
        running=lambda: {"c": cancel},
    )
    try:
        for rid in ("held", "w", "c"):
            db.accept_run(rid, "t", None, "gold", {})
        assert queues.get(timeout=5) == ("gold", "held", 1)
        db.run_started("held")
        time.sleep(1.2)  # two lease lengths: only renewal keeps it
        assert db.lease("held")["expires"] > time.time()
        assert db.claim("other", "gold", 30) == "w"
        db.run_finished("w", "succeeded", None, None, {})  # finished by another replica
        assert wait_until(lambda: woken == ["w"])
        db.run_cancelled("c")  # through another replica
        assert wait_until(cancel.is_set)
        db.run_finished("held", "succeeded", None, None, {})
        assert wait_until(lambda: queues.held() == [])
    finally:
        queues.close()


# --- raw statements of the dashboard and the run monitor ----------------------------------------


def test_sqlite_flavoured_statements_run_on_both(db) -> None:
    from dagforge.server.observability import _NODE_LOGS

    assert db._write(_NODE_LOGS) in (-1, 0)  # the table exists already (migrations)
    upsert = (
        "INSERT OR REPLACE INTO node_logs "
        "(run_id, instance, status, attempts, error, traceback, logs) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    db._write(upsert, ("r", "a", "failed", 1, "boom", None, None))
    db._write(upsert, ("r", "a", "succeeded", 2, None, None, "[]"))
    assert db._exec("SELECT status, attempts FROM node_logs WHERE run_id=?", ("r",)) == [
        ("succeeded", 2)
    ]
    db.accept_run("r", "t", None, "gold", {})
    db.node_done("r", "a", {"v": 1})
    db.accept_run("copy", "t", None, "gold", {})
    assert (
        db._write(
            "INSERT INTO node_results (run_id, instance, outputs) "
            "SELECT ?, instance, outputs FROM node_results WHERE run_id = ?",
            ("copy", "r"),
        )
        == 1
    )
    assert db.completed_nodes("copy") == {"a": {"v": 1}}
    assert db._exec("SELECT status, priority, COUNT(*) FROM runs GROUP BY 1, 2") == [
        ("queued", "gold", 2)
    ]
    assert db._exec("SELECT id FROM runs WHERE trigger LIKE 't%' ORDER BY id") == [
        ("copy",),
        ("r",),
    ]
    assert db._exec("SELECT id FROM runs WHERE id LIKE ? AND trigger LIKE 't%'", ("c%",)) == [
        ("copy",)
    ]
    assert db._exec("SELECT 1") == [(1,)]
    assert db._write("DELETE FROM node_logs WHERE run_id NOT IN (SELECT id FROM runs)") == 0


# --- the platform's choice ---------------------------------------------------------------------


def test_platform_refuses_an_unmigrated_explicit_url_and_migrates_its_default(tmp_path) -> None:
    from dagforge.server.dispatch import RunQueues
    from dagforge.server.platform import Platform, Settings

    url = f"sqlite:///{tmp_path}/explicit.sqlite3"
    with pytest.raises(SchemaError, match="dagforge db upgrade"):
        Platform(Settings(data_dir=tmp_path / "a", database_url=url))
    upgrade(url)
    plat = Platform(Settings(data_dir=tmp_path / "a", database_url=url))
    assert isinstance(plat.queues, RunQueues)  # SQLite: one server, in-memory queues
    plat.db.close()
    default = Platform(Settings(data_dir=tmp_path / "b"))  # embedded: made and migrated
    assert current_revision(default.db.engine) == head_revision()
    assert (tmp_path / "b" / "dagforge.sqlite3").exists()
    assert default.db._raw is not None  # the embedded default takes the SQLite fast path
    default.db.close()


def test_platform_on_postgres_uses_leased_queues(postgres_url, tmp_path) -> None:  # noqa: F811
    from dagforge.server.platform import Platform, Settings

    upgrade(postgres_url)
    plat = Platform(Settings(data_dir=tmp_path, database_url=postgres_url))
    try:
        assert isinstance(plat.queues, LeasedQueues)
        assert plat.queues.sizes() == {"gold": 0, "silver": 0, "bronze": 0}
    finally:
        plat.queues.close()
        plat.db.close()


# --- the SQLite fast path (raw sqlite3 for the hot statements) -------------------------------


@pytest.fixture
def sqlite_db(tmp_path):
    url = f"sqlite:///{tmp_path}/fast.sqlite3"
    upgrade(url)
    database = open_database(url)
    yield database
    database.close()


def _tables(db) -> dict:
    """Every journal row, timestamps left out (they differ between two runs)."""
    out = {}
    for table in ("functions", "dags", "triggers", "node_results", "runs"):
        rows = db._exec(f"SELECT * FROM {table}")
        if table == "runs":
            rows = [tuple(v for k, v in enumerate(r) if k not in (6, 7, 8)) for r in rows]
        out[table] = sorted(rows, key=repr)
    return out


def test_fast_path_writes_what_the_sqlalchemy_path_writes(tmp_path) -> None:
    results, tables = [], []
    for fast in (True, False):
        url = f"sqlite:///{tmp_path}/{fast}.sqlite3"
        upgrade(url)
        db = open_database(url)
        assert db._raw is not None  # a file: the fast path is on by default
        if not fast:
            db._raw.close()
            db._raw = None  # every statement through SQLAlchemy
        db.accept_run("c", "t", None, "gold", {"k": [1, 2]}, None, schedule="nightly")
        db.run_cancelled("c")
        cancelled = db.run("c")
        assert cancelled["status"] == "cancelled" and cancelled["schedule"] == "nightly"
        results.append((cancelled["error"], db.run_cancelled("c"), _script(db)))
        db.accept_run("s", "t", "d", "silver", {}, {"spec": {}}, schedule="nightly")
        db.node_done("s", "n", float("nan"))  # stored as the old journal stored it
        db.node_done("s", "m", {"when": {1, 2}})  # not JSON: default=str
        results[-1] += (db.completed_nodes("s").keys(), db.run_summaries(10)[0]["schedule"])
        tables.append(_tables(db))
        db.close()
    assert results[0] == results[1]
    assert tables[0] == tables[1]


def test_fast_path_storage_fault_leaves_nothing_half_written_and_recovers(sqlite_db) -> None:
    from dagforge.errors import StorageFault

    db = sqlite_db
    db.accept_run("before", "t", None, "gold", {})
    pages = db._raw.execute("PRAGMA page_count").fetchone()[0]
    db._raw.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: a full disk
    big = {"x": "y" * 200_000}
    with pytest.raises(StorageFault, match=r"journal error in .*full"):
        db.accept_run("refused", "t", None, "gold", big)
    with pytest.raises(StorageFault, match="full"):
        db.node_done("before", "a", big)
    with pytest.raises(RegistryError, match="refused"):
        db.run("refused")  # nothing of the refused accept was written
    assert db.completed_nodes("before") == {}
    assert db.run("before")["status"] == "queued"  # reads still answer during the fault
    db._raw.execute("PRAGMA max_page_count = 1073741823")  # space is back
    db.accept_run("after", "t", None, "gold", big)
    db.node_done("before", "a", big)
    assert db.run("after")["arguments"] == big
    assert db.completed_nodes("before") == {"a": big}


def test_fast_path_is_safe_from_many_threads(sqlite_db) -> None:
    db = sqlite_db
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(40):
                rid = f"w{k}-{i}"
                db.accept_run(rid, "t", None, "gold", {"i": i})
                assert db.run_started(rid) is not None
                db.node_done(rid, "a", {"i": i})
                db.put("functions", f"f{k}", {"name": f"f{k}", "i": i})  # SQLAlchemy path
                assert db.completed_nodes(rid) == {"a": {"i": i}}
                db.run_finished(rid, "succeeded", {"i": i}, None, {})
                assert db.run(rid)["outputs"] == {"i": i}
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert db._exec("SELECT status, COUNT(*) FROM runs GROUP BY status") == [("succeeded", 240)]
    assert len(db.list("functions")) == 6


def test_fast_path_refuses_once_closed(tmp_path) -> None:
    from dagforge.errors import StorageFault

    url = f"sqlite:///{tmp_path}/closed.sqlite3"
    upgrade(url)
    db = open_database(url)
    db.accept_run("r", "t", None, "gold", {})
    db.close()
    for call in (
        lambda: db.run("r"),
        lambda: db.node_done("r", "a", {}),
        lambda: db._exec("SELECT 1"),
        lambda: db.get("triggers", "t"),
    ):
        with pytest.raises(StorageFault, match="closed"):
            call()


def test_run_and_snapshot_reads_what_run_and_snapshot_read(db) -> None:
    db.accept_run("a", "t", "d", "gold", {"x": [1]}, {"spec": {"name": "d"}, "history": []})
    db.accept_run("b", "t", None, "bronze", {})  # journaled before snapshots existed
    db.run_started("a")
    db.run_finished("a", "failed", {"o": (1, 2)}, "boom", {"n": {"status": "failed"}})
    for rid in ("a", "b"):
        assert db.run_and_snapshot(rid) == (db.run(rid), db.snapshot(rid))
    assert db.run_and_snapshot("a")[1] == {"spec": {"name": "d"}, "history": []}
    assert db.run_and_snapshot("b")[1] is None
    with pytest.raises(RegistryError, match="'nope'"):
        db.run_and_snapshot("nope")
    if db._raw is not None:  # the SQLAlchemy statement too (the fast path is SQLite's)
        raw, db._raw = db._raw, None
        try:
            assert db.run_and_snapshot("a") == (db.run("a"), db.snapshot("a"))
        finally:
            db._raw = raw
