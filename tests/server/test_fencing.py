"""Fencing: a replica whose lease on a run lapsed and was claimed by another replica
cannot journal anything more for that run (the ``claims`` counter is the fence).

Journal level: two journals (separate engines, "replicas") on one SQLite file — its fast
path and its SQLAlchemy path — and on a real PostgreSQL. Queue level: the keeper sets
the cancel event of a run taken over. Platform level: two ``Platform`` objects on one
PostgreSQL; replica A is held inside a node while its lease lapses and B takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge.errors import LeaseLost, PlatformError
from dagforge.server.database import open_database, upgrade
from dagforge.server.database.queue import LeasedQueues


def wait_until(condition, timeout: float = 20.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture(params=["sqlite-fast", "sqlite-sqlalchemy", "postgres"])
def two_journals(request, tmp_path):
    """Two journals on one database, as two replicas would open it."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path}/journal.sqlite3"
    upgrade(url)
    dbs = [open_database(url), open_database(url)]
    if request.param == "sqlite-sqlalchemy":  # every statement through SQLAlchemy
        for db in dbs:
            assert db._raw is not None
            db._raw.close()
            db._raw = None
    else:
        assert (dbs[0]._raw is not None) == (request.param == "sqlite-fast")
    yield dbs
    for db in dbs:
        db.close()


def take_over(a, b, run_id: str, owner: str = "b") -> int:
    """A's lease lapses (as if its renewals were starved) and B claims the run."""
    a._write("UPDATE runs SET lease_expires = 0 WHERE id = ?", (run_id,))
    claimed = b.claim_fenced(owner, "gold", 30)
    assert claimed is not None and claimed[0] == run_id
    return claimed[1]


def test_a_replica_that_lost_its_lease_writes_nothing_more(two_journals) -> None:
    a, b = two_journals
    a.accept_run("r", "t", None, "gold", {"x": 1})
    assert a.claim_fenced("a", "gold", 30) == ("r", 1)
    assert a.run_started("r", 1) is not None
    a.node_done("r", "first", {"by": "a"}, 1)  # A still holds it: accepted

    assert take_over(a, b, "r") == 2
    assert b.lease("r") == {"owner": "b", "expires": b.lease("r")["expires"], "claims": 2}

    with pytest.raises(LeaseLost) as lost:  # a new node of A's: refused
        a.node_done("r", "second", {"by": "a"}, 1)
    assert (lost.value.run_id, lost.value.fence, lost.value.claims) == ("r", 1, 2)
    assert lost.value.owner == "b" and "claim 1" in str(lost.value)
    assert isinstance(lost.value, PlatformError)
    with pytest.raises(LeaseLost):  # nor may A overwrite a node result
        a.node_done("r", "first", {"by": "a, again"}, 1)
    with pytest.raises(LeaseLost):
        a.run_started("r", 1)
    assert a.completed_nodes("r") == {"first": {"by": "a"}}

    assert b.run_started("r", 2) is not None  # the new owner's writes go through
    b.node_done("r", "first", {"by": "b"}, 2)
    b.node_done("r", "second", {"by": "b"}, 2)
    with pytest.raises(LeaseLost):  # A's final status is refused and changes nothing
        a.run_finished("r", "failed", {"out": "a"}, "a's error", {"first": "a"}, 1)
    assert b.run("r")["status"] == "running" and b.run("r")["error"] is None
    b.run_finished("r", "succeeded", {"out": "b"}, None, {"second": "b"}, 2)
    with pytest.raises(LeaseLost):
        a.run_finished("r", "failed", None, "late", {}, 1)

    record = a.run("r")
    assert record["status"] == "succeeded" and record["outputs"] == {"out": "b"}
    assert record["error"] is None and record["nodes"] == {"second": "b"}
    assert a.completed_nodes("r") == {"first": {"by": "b"}, "second": {"by": "b"}}


def test_the_current_holder_is_not_refused_and_unfenced_writes_are_unchanged(
    two_journals,
) -> None:
    a, b = two_journals
    a.accept_run("mine", "t", None, "gold", {})
    a.accept_run("plain", "t", None, "gold", {})
    a.accept_run("gone", "t", None, "gold", {})
    assert a.claim_fenced("a", "gold", 30) == ("mine", 1)
    a._write("UPDATE runs SET lease_expires = 0 WHERE id = ?", ("mine",))
    # the lease lapsed but nobody claimed the run: A is still its latest holder
    a.node_done("mine", "n", {"v": 1}, 1)
    a.run_finished("mine", "succeeded", {"v": 1}, None, {}, 1)
    assert b.run("mine")["status"] == "succeeded"
    # no fence (the single SQLite server: no leases): claims is 0, nothing is checked
    assert b.run_started("plain") is not None
    b.node_done("plain", "n", {"v": 2})
    b.run_finished("plain", "succeeded", {"v": 2}, None, {})
    assert a.run("plain")["outputs"] == {"v": 2} and a.lease("plain")["claims"] == 0
    # a run cancelled while it waited is not started, and that is not a lost lease
    assert a.claim_fenced("a", "gold", 30) == ("gone", 1)
    assert b.run_cancelled("gone")
    assert a.run_started("gone", 1) is None
    a.check_fence("gone", 1)  # still A's claim: no error
    a.forget_run("gone")
    with pytest.raises(LeaseLost, match="no longer in the journal"):
        a.run_finished("gone", "failed", None, None, {}, 1)
    with pytest.raises(LeaseLost):
        a.node_done("gone", "n", {}, 1)


def test_a_retried_run_claimed_again_fences_out_the_old_attempt(two_journals) -> None:
    a, b = two_journals
    a.accept_run("r", "t", None, "gold", {})
    assert a.claim_fenced("a", "gold", 30) == ("r", 1)
    a.run_started("r", 1)
    b.run_cancelled("r")
    b._write("UPDATE runs SET status = 'queued' WHERE id = ?", ("r",))  # a retry
    assert b.claim_fenced("a", "gold", 30) == ("r", 2)  # even by the same owner name
    with pytest.raises(LeaseLost):
        a.node_done("r", "n", {"attempt": 1}, 1)
    b.node_done("r", "n", {"attempt": 2}, 2)
    assert a.completed_nodes("r") == {"n": {"attempt": 2}}
    assert a.fences(["r", "nope"]) == {"r": ("queued", 2)}


def test_postgres_a_node_result_racing_a_claim_waits_for_it_and_is_refused(
    postgres_url,  # noqa: F811
) -> None:
    """The fenced node result locks the run's row FOR SHARE: while B's claim is not yet
    committed, A's insert waits for it, then sees the new claim and is refused (a plain
    EXISTS would read the old, committed claim and slip A's result in)."""
    from sqlalchemy import text

    upgrade(postgres_url)
    a, b, watch = (open_database(postgres_url) for _ in range(3))
    try:
        a.accept_run("r", "t", None, "gold", {})
        assert a.claim_fenced("a", "gold", 30) == ("r", 1)
        outcome: list[BaseException | None] = []
        with b.engine.connect() as conn:
            tx = conn.begin()
            conn.execute(
                text("UPDATE runs SET claims = claims + 1, lease_owner = 'b' WHERE id = 'r'")
            )

            def write() -> None:
                try:
                    a.node_done("r", "n", {"by": "a"}, 1)
                    outcome.append(None)
                except LeaseLost as exc:
                    outcome.append(exc)

            writer = threading.Thread(target=write)
            writer.start()

            def a_waits() -> bool:
                rows = watch._exec(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
                return rows[0][0] >= 1

            waited = wait_until(lambda: a_waits() or bool(outcome))
            tx.commit()
        writer.join(timeout=30)
        assert waited and outcome, "A's write neither waited nor finished"
        assert isinstance(outcome[0], LeaseLost) and outcome[0].claims == 2, outcome
        assert a.completed_nodes("r") == {}
    finally:
        for db in (a, b, watch):
            db.close()


# --- the keeper ------------------------------------------------------------------------------


def test_the_keeper_cancels_a_run_taken_over_and_only_that_one(two_journals) -> None:
    a, b = two_journals
    for rid in ("taken", "done", "late"):
        a.accept_run(rid, "t", None, "gold", {})
    events = {rid: threading.Event() for rid in ("taken", "done", "late")}
    queues = LeasedQueues(a, lease=0.6, poll=0.02, owner="a")
    queues.attach(waiting=list, finished=lambda _rid: None, running=lambda: dict(events))
    try:
        got = {queues.get(timeout=5) for _ in range(3)}
        assert got == {("gold", "taken", 1), ("gold", "done", 1), ("gold", "late", 1)}
        a.run_started("taken", 1)
        a.run_started("done", 1)
        a.run_finished("done", "succeeded", None, None, {}, 1)  # ended here: not a loss
        # B takes "taken" and "late" over when A's leases lapse (A's keeper may renew
        # one between the expiry and the claim: then the claim finds nothing, again)
        for rid in ("taken", "late"):
            for _ in range(200):
                a._write("UPDATE runs SET lease_expires = 0 WHERE id = ?", (rid,))
                claimed = b.claim_fenced("b", "gold", 30)
                if claimed is not None:
                    break
            assert claimed == (rid, 2)
        b.run_finished("late", "succeeded", None, None, {}, 2)  # B even finished it
        assert wait_until(lambda: events["taken"].is_set() and events["late"].is_set())
        assert wait_until(lambda: queues.held() == [])
        assert not events["done"].is_set()
        assert b.lease("taken")["owner"] == "b"  # A's keeper did not take it back
    finally:
        queues.close()


# --- two platforms on one PostgreSQL -------------------------------------------------------


FUNCTIONS = "fencing_functions"


def _platform(tmp_path: Path, name: str, url: str):
    from dagforge.server.platform import Platform, Settings

    return Platform(
        Settings(data_dir=tmp_path / name, database_url=url, workers=1, allow_modules=(FUNCTIONS,))
    )


class Starved:
    """Holds a replica's lease keeper: while ``on`` is set its renewals do not happen
    (as on a machine too busy to run the keeper thread in time)."""

    def __init__(self, queues: LeasedQueues):
        self.on = threading.Event()
        self.real = queues._renew

        def renew() -> None:
            if not self.on.is_set():
                self.real()

        queues._renew = renew  # type: ignore[method-assign]


class Journaled:
    """Records every journal write of a replica that went through (returned normally)."""

    def __init__(self, db):
        self.writes: list[tuple[str, tuple]] = []
        for name in ("run_started", "node_done", "run_finished", "run_cancelled", "_write"):
            setattr(db, name, self._spy(name, getattr(db, name)))

    def _spy(self, name, real):
        def call(*args, **kwargs):
            out = real(*args, **kwargs)
            if name != "_write" or (out and not args[0].lstrip().startswith("CREATE")):
                self.writes.append((name, args))
            return out

        return call


@pytest.mark.parametrize("keeper_notices", [True, False], ids=["keeper", "journal"])
def test_a_replica_held_in_a_node_loses_its_run_to_another_and_journals_nothing(
    postgres_url,  # noqa: F811
    tmp_path,
    monkeypatch,
    caplog,
    keeper_notices,
) -> None:
    """A runs R's node and is held there (a gate file) while its renewals are starved;
    its lease lapses and B claims R. ``keeper``: A's keeper, fed again, sees the
    takeover and sets R's cancel event before the node returns; ``journal``: A's keeper
    stays starved and the journal refuses the node's result. Either way R ends with
    B's outputs, A journals nothing after the takeover and writes no request-log line,
    and A's waiter is resolved with B's record."""
    monkeypatch.setenv("DAGFORGE_LEASE_SECONDS", "1")
    upgrade(postgres_url)
    gate = tmp_path / "gate"
    entered = tmp_path / "entered"
    a = _platform(tmp_path, "a", postgres_url)
    b = _platform(tmp_path, "b", postgres_url)
    started = []
    try:
        starved = Starved(a.queues)
        a.start()
        started.append(a)
        a.register_function({"name": "whose", "path": f"{FUNCTIONS}:whose"})
        a.register_trigger(
            {"trigger_name": "t", "type": "function", "functions": ["whose"], "priority": "gold"}
        )
        run_id = a.accept("t", {"gate": str(gate), "entered": str(entered)})["run_id"]
        a_threads = {t.ident for t in a._threads}
        assert wait_until(lambda: _entered(entered) & a_threads), "A never ran the node"
        waiter = a.subscribe(run_id)
        journaled = Journaled(a.db)
        starved.on.set()  # from now on A renews nothing: its lease lapses
        assert wait_until(lambda: a.db.lease(run_id)["expires"] < time.time())

        b.start()
        started.append(b)
        b_threads = {t.ident for t in b._threads}
        assert wait_until(lambda: _entered(entered) & b_threads), "B never took the run over"
        lease = b.db.lease(run_id)
        assert lease["owner"] == b.queues.owner and lease["claims"] == 2
        if keeper_notices:
            starved.on.clear()  # A's keeper runs again: its renewal finds R taken over
            assert wait_until(lambda: a._cancel.get(run_id, threading.Event()).is_set())
        with caplog.at_level(logging.WARNING, logger="dagforge.server"):
            gate.write_text("open")  # both replicas' nodes return
            record = waiter.result(timeout=30)  # resolved by A's keeper from B's journal
            assert wait_until(lambda: run_id not in a._cancel)  # A's dispatcher let go
    finally:
        gate.touch()
        for plat in started:
            plat.stop()
        for plat in (a, b):
            if plat not in started:
                plat.queues.close()
                plat.db.close()

    assert record["status"] == "succeeded", record
    (ident,) = {record["outputs"]["whose"]["thread"]}
    assert ident in b_threads  # B's outputs
    check = open_database(postgres_url)
    try:
        final = check.run(run_id)
        assert final["status"] == "succeeded" and final["outputs"] == record["outputs"]
        assert check.completed_nodes(run_id) == {"whose": {"thread": ident}}  # not A's
        assert check.lease(run_id)["claims"] == 2
    finally:
        check.close()
    assert journaled.writes == []  # A wrote nothing once R was no longer its own
    assert not a.log_path.exists() or run_id not in a.log_path.read_text()
    assert len(b.log_path.read_text().splitlines()) == 1 and run_id in b.log_path.read_text()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(run_id in m and "lease lost" in m and "2" in m for m in warned), warned


def _entered(marks: Path) -> set[int]:
    """The thread idents that entered the node (one file each)."""
    if not marks.exists():
        return set()
    return {int(p.name) for p in marks.iterdir()}
