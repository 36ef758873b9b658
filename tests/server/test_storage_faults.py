"""Storage faults are explicit and a finished run stays finished (issue 10, item 8);
journal pruning and the byte bound on results held in memory (item 7). Faults are
injected into a real platform's journal and store through TestClient."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from dagforge.errors import StorageFault
from dagforge.server.app import create_app
from dagforge.server.platform import Settings

FN = {"name": "double", "kind": "python", "path": "platform_functions:double"}
TRIGGER = {
    "trigger_name": "t",
    "type": "function",
    "priority": "gold",
    "dags": "",
    "functions": ["double"],
}


@pytest.fixture
def api(tmp_path):
    def make(**kwargs):
        kwargs.setdefault("data_dir", tmp_path / "data")
        kwargs.setdefault("allow_modules", ("platform_functions",))
        client = TestClient(create_app(Settings(**kwargs)))
        client.__enter__()
        assert client.post("/register/function", json=FN).status_code == 201
        assert client.post("/register/trigger", json=TRIGGER).status_code == 201
        made.append(client)
        return client

    made: list[TestClient] = []
    yield make
    for client in made:
        client.__exit__(None, None, None)


def finished(c: TestClient, run_id: str) -> dict:
    for _ in range(600):
        record = c.get(f"/runs/{run_id}").json()
        if record["status"] not in ("queued", "running"):
            return record
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {record}")


def test_an_accept_that_cannot_be_journaled_answers_503_and_writes_nothing(api, monkeypatch):
    c = api()
    plat = c.app.state.platform

    def full(*_a, **_k):
        raise StorageFault("journal error: database or disk is full")

    monkeypatch.setattr(plat.db, "accept_run", full)
    r = c.post("/run/t", json={"x": 1})
    assert r.status_code == 503 and r.headers["retry-after"]
    assert "disk is full" in r.text
    monkeypatch.undo()
    assert c.get("/runs").json() == []
    assert plat.queues.sizes() == {"gold": 0, "silver": 0, "bronze": 0}
    r = c.post("/run/t?wait=true", json={"x": 2})  # the fault is gone: runs are accepted
    assert r.status_code == 200 and r.json()["outputs"] == {"double": {"x": 4}}


def test_a_run_interrupted_by_a_storage_fault_resumes_when_it_clears(api, monkeypatch, tmp_path):
    c = api()
    plat = c.app.state.platform
    real = plat.db.run_finished
    faults = []

    def flaky(*args, **kwargs):
        if not faults:
            faults.append(args)
            raise StorageFault("journal error: disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(plat.db, "run_finished", flaky)
    marks = tmp_path / "marks"
    run_id = c.post("/run/t", json={"x": 3, "marker_dir": str(marks)}).json()["run_id"]
    record = finished(c, run_id)
    assert faults and record["status"] == "succeeded", record
    assert c.get(f"/runs/{run_id}/outputs").json() == {"double": {"x": 6}}
    assert len(list(marks.iterdir())) == 1  # the journaled node was restored, not re-run
    assert len(plat.log_path.read_text().splitlines()) == 1  # one line, once it finished


def test_a_cleanup_error_after_a_run_does_not_change_its_result(api, monkeypatch):
    c = api(retention=60.0)
    plat = c.app.state.platform

    def broken(*_a, **_k):
        raise OSError("store unreachable")

    monkeypatch.setattr(plat.store, "expire_prefix", broken)
    done = c.post("/run/t?wait=true", json={"x": 5}).json()
    assert done["status"] == "succeeded" and done["outputs"] == {"double": {"x": 10}}
    assert c.get(f"/runs/{done['run_id']}").json()["status"] == "succeeded"
    entries = [json.loads(x) for x in plat.jsonl_path.read_text().splitlines()]
    assert entries[-1]["status"] == "succeeded"
    assert "store unreachable" in entries[-1]["cleanup_error"]
    assert len(plat.log_path.read_text().splitlines()) == 1


def test_the_journal_is_pruned_and_results_in_memory_are_bounded_by_bytes(api):
    c = api(journal_retention=3600.0, results_bytes=2_000)
    plat = c.app.state.platform
    small = c.post("/run/t?wait=true", json={"x": 1}).json()["run_id"]
    big = c.post("/run/t?wait=true", json={"x": "y" * 5_000}).json()["run_id"]
    assert plat.result(small) is not None
    assert plat.result(big) is None  # over the byte bound: not held
    assert c.get(f"/runs/{big}/profile").status_code == 404
    assert c.get(f"/runs/{small}/profile").status_code == 200
    assert plat.prune_journal() == []  # nothing is an hour old
    plat.settings.journal_retention = 0.0
    assert set(plat.prune_journal()) == {small, big}
    assert c.get(f"/runs/{small}").status_code == 404
    assert plat.result(small) is None and plat._results_bytes == 0
