"""Redrive: POST /runs/{id}/retry, Client.retry and `dagforge runs retry` on a real server.

A failed or cancelled run is queued again under its id as a new attempt; its completed
nodes are restored from the journal (each function appends its name to a file, so a
re-run would show), the attempt that ended shows in the run's history.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge import Client, ClientError

MODULES = ("platform_functions", "retry_functions")


def node(node_id, nxt="", outputs_from=()):
    return {
        "node_id": node_id,
        "properties": {
            "label": node_id,
            "primitive": "serial",
            "next": nxt,
            "outputs_from": list(outputs_from),
        },
    }


SPEC = {
    "name": "redrive",
    "dag": [
        node("first", "flaky"),
        node("flaky", "last", ["first"]),
        node("last", "", ["flaky"]),
    ],
}


def setup(c: Client) -> None:
    for fn in ("first", "flaky", "last"):
        c.register_function(fn, path=f"retry_functions:{fn}")
    c.register_dag(SPEC)
    c.register_trigger(
        {"trigger_name": "r", "type": "dag", "priority": "silver", "dags": ["redrive"]}
    )


def calls(log) -> list[str]:
    return log.read_text().split() if log.exists() else []


def wait_for(c: Client, run_id: str, statuses: tuple[str, ...]) -> dict:
    for _ in range(1500):  # bounded (30 s at most)
        record = c.run(run_id)
        if record["status"] in statuses:
            return record
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} stayed {record['status']}")


def test_a_failed_run_is_retried_from_where_it_stopped(make_server, tmp_path):
    data = tmp_path / "data"
    server = make_server(data_dir=data, allow_modules=MODULES)
    log, marker = tmp_path / "calls.log", tmp_path / "marker"
    args = {"x": 2, "log": str(log), "marker": str(marker)}
    with Client(server.url) as c:
        setup(c)
        failed = c.trigger("r", args, wait=True)
        run_id = failed["run_id"]
        assert failed["status"] == "failed" and "flaky fails the first time" in failed["error"]
        assert calls(log) == ["first", "flaky"]
        assert c.run(run_id)["attempt"] == 1 and c.run(run_id)["history"] == []

        again = c.retry(run_id)
        assert again["run_id"] == run_id and again["status"] == "queued"
        assert again["attempt"] == 2 and again["reused_nodes"] == 1
        done = c.wait(run_id, timeout=30)
        assert done["status"] == "succeeded" and done["error"] is None
        assert done["outputs"] == {"last": {"x": (2 + 1) * 10 + 5}}
        assert calls(log) == ["first", "flaky", "flaky", "last"]  # first was not run again
        assert done["nodes"]["first"]["restored"] is True
        assert done["nodes"]["flaky"]["restored"] is False
        assert done["attempt"] == 2
        [previous] = done["history"]
        assert previous["attempt"] == 1 and previous["status"] == "failed"
        assert "flaky fails the first time" in previous["error"]
        assert previous["nodes"] == {"first": "succeeded", "flaky": "failed"}  # last: never made
        assert previous["finished"] <= done["started"]
        assert [r["run_id"] for r in c.runs()] == [run_id]  # the same run, not a new one
        with pytest.raises(ClientError) as err:  # succeeded now: nothing to redrive
            c.retry(run_id)
        assert err.value.status_code == 409 and "succeeded" in str(err.value)
    lines = (data / "requests.log").read_text().splitlines()
    assert [line.split(", ")[9] for line in lines] == [run_id, run_id]  # one per attempt
    records = [json.loads(x) for x in (data / "requests.jsonl").read_text().splitlines()]
    assert [(r["attempt"], r["status"]) for r in records] == [(1, "failed"), (2, "succeeded")]


def test_retry_refuses_live_and_unknown_runs_and_needs_the_token(make_server, tmp_path):
    server = make_server(allow_modules=MODULES, token="s3cret", workers=1)
    gate, log = tmp_path / "gate", tmp_path / "calls.log"
    with Client(server.url, token="s3cret") as c:
        setup(c)
        running = c.trigger("r", {"log": str(log), "gate": str(gate)})["run_id"]
        queued = c.trigger("r", {"log": str(log)})["run_id"]
        try:
            for _ in range(1500):  # bounded: until the first run holds the one worker
                if calls(log) == ["first", "flaky"]:
                    break
                time.sleep(0.02)
            assert c.run(running)["status"] == "running"
            for rid, status in ((running, "running"), (queued, "queued")):
                with pytest.raises(ClientError) as err:
                    c.retry(rid)
                assert err.value.status_code == 409 and status in str(err.value)
            with pytest.raises(ClientError) as err:
                c.retry("no-such-run")
            assert err.value.status_code == 404 and "no-such-run" in str(err.value)
            c.cancel(queued)
            assert httpx.post(f"{server.url}/runs/{queued}/retry").status_code == 401
            assert c.run(queued)["status"] == "cancelled"  # the refused retry changed nothing
        finally:
            gate.touch()
        assert wait_for(c, running, ("succeeded",))["attempt"] == 1
        again = c.retry(queued)  # cancelled before it started: it runs from the start
        assert again["attempt"] == 2 and again["reused_nodes"] == 0
        done = c.wait(queued, timeout=30)
        assert done["status"] == "succeeded"
        assert [h["status"] for h in done["history"]] == ["cancelled"]
    assert calls(log) == ["first", "flaky", "last", "first", "flaky", "last"]


def test_a_cancelled_running_run_resumes_without_rerunning_its_completed_nodes(
    make_server, tmp_path
):
    server = make_server(allow_modules=MODULES, workers=1)
    gate, log = tmp_path / "gate", tmp_path / "calls.log"
    with Client(server.url) as c:
        setup(c)
        run_id = c.trigger("r", {"x": 1, "log": str(log), "gate": str(gate)})["run_id"]
        try:
            for _ in range(1500):  # bounded: until `last` is running (held at the gate)
                if calls(log) == ["first", "flaky"] and c.run(run_id)["status"] == "running":
                    break
                time.sleep(0.02)
            assert c.cancel(run_id)["status"] == "cancelled"
        finally:
            gate.touch()  # `last` may return now; its outputs are dropped (cancelled)
        again = c.retry(run_id)  # waits until the dispatcher let the cancelled run go
        assert again["attempt"] == 2 and again["reused_nodes"] == 2
        done = c.wait(run_id, timeout=30)
        assert done["status"] == "succeeded"
        assert done["outputs"] == {"last": {"x": (1 + 1) * 10 + 5}}
        assert done["history"][0]["status"] == "cancelled"
        assert {n for n, v in done["nodes"].items() if v["restored"]} == {"first", "flaky"}
    # `last` ran once in the cancelled attempt (abandoned) and once in the retry
    assert calls(log) == ["first", "flaky", "last", "last"]


def test_the_command_line_retries_a_run(make_server, tmp_path, capsys, monkeypatch):
    from dagforge.cli import main

    monkeypatch.delenv("DAGFORGE_TOKEN", raising=False)
    server = make_server(allow_modules=MODULES)
    log, marker = tmp_path / "calls.log", tmp_path / "marker"
    with Client(server.url) as c:
        setup(c)
        run_id = c.trigger("r", {"log": str(log), "marker": str(marker)}, wait=True)["run_id"]

    def cli(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--url", server.url])
        out = capsys.readouterr()
        return stop.value.code, out.out, out.err

    code, out, _ = cli("runs", "retry", run_id, "--wait", "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["status"] == "succeeded" and body["attempt"] == 2
    assert calls(log) == ["first", "flaky", "flaky", "last"]
    code, _, err = cli("runs", "retry", "latest")
    assert code == 2 and "409" in err and "succeeded" in err  # 4xx: a usage error


PARALLEL = {
    "name": "fan",
    "dag": [
        {"node_id": "first", "properties": {"primitive": "parallel", "next": ["held", "quick"]}},
        node("held", "join", ["first"]),
        node("quick", "join", ["first"]),
        node("join", "", ["held", "quick"]),
    ],
}


def test_a_cancel_stops_a_parallel_run_while_its_node_still_runs(make_server, tmp_path):
    server = make_server(allow_modules=MODULES, workers=1)
    gate, log = tmp_path / "gate", tmp_path / "calls.log"
    with Client(server.url) as c:
        setup(c)
        for fn in ("held", "quick", "join"):
            c.register_function(fn, path=f"retry_functions:{fn}")
        c.register_dag(PARALLEL)
        c.register_trigger({"trigger_name": "p", "type": "dag", "dags": ["fan"]})
        run_id = c.trigger("p", {"x": 1, "log": str(log), "gate": str(gate)})["run_id"]
        try:
            for _ in range(1500):  # bounded: until `held` runs (at the gate) and `quick` ended
                if {"held", "quick"} <= set(calls(log)):
                    break
                time.sleep(0.02)
            assert c.cancel(run_id)["status"] == "cancelled"
            for _ in range(1000):  # bounded; the gate stays shut, so only a stop ends it
                record = c.run(run_id)
                if record["nodes"]:  # written when the dispatcher ended the run
                    break
                time.sleep(0.02)
            assert record["nodes"], "the cancelled run did not end while its node ran"
            assert record["status"] == "cancelled"
            assert record["nodes"]["held"]["status"] == "cancelled"
            assert record["nodes"]["held"]["reason"].startswith("the run was cancelled")
            assert "join" not in calls(log)  # nothing new started
            assert "held-done" not in calls(log) and not gate.exists()  # still running
            # a new run starts on the one worker while the abandoned node still runs
            other = c.trigger("r", {"log": str(tmp_path / "other.log")}, wait=True, timeout=20)
            assert other["status"] == "succeeded"
        finally:
            gate.touch()
        again = c.retry(run_id)
        assert again["reused_nodes"] == 2  # first and quick; held's late outputs were dropped
        done = c.wait(run_id, timeout=30)
        assert done["status"] == "succeeded"
        assert done["outputs"] == {"join": {"sum": (2 + 5) + 2 * 2}}
    made = calls(log)
    assert [made.count(n) for n in ("first", "quick", "held", "join")] == [1, 1, 2, 1]


def test_a_run_failed_on_one_replica_is_retried_through_another(
    postgres_url,  # noqa: F811 - first, so the servers stop before its database is dropped
    make_server,
    tmp_path,
):
    """Two gateways on one PostgreSQL: the retry goes through the one that did not run it;
    whichever replica claims the new attempt restores the completed node from the
    shared journal instead of running it again."""
    from dagforge.server.database import upgrade

    url = postgres_url
    upgrade(url)
    a = make_server(data_dir=tmp_path / "a", database_url=url, allow_modules=MODULES)
    b = make_server(data_dir=tmp_path / "b", database_url=url, allow_modules=MODULES)
    log, marker = tmp_path / "calls.log", tmp_path / "marker"
    with Client(a.url) as ca, Client(b.url) as cb:
        setup(ca)
        failed = ca.trigger("r", {"x": 3, "log": str(log), "marker": str(marker)}, wait=True)
        assert failed["status"] == "failed"
        again = cb.retry(failed["run_id"])
        assert again["attempt"] == 2 and again["reused_nodes"] == 1
        done = cb.wait(failed["run_id"], timeout=30)
        assert done["status"] == "succeeded" and done["outputs"] == {"last": {"x": 45}}
        assert ca.run(failed["run_id"])["history"][0]["status"] == "failed"
        with pytest.raises(ClientError) as err:
            ca.retry(failed["run_id"])
        assert err.value.status_code == 409
    assert calls(log) == ["first", "flaky", "flaky", "last"]


def test_the_processes_backend_runs_and_cancel_abandons_its_running_node(make_server, tmp_path):
    server = make_server(allow_modules=MODULES, backend="processes", workers=1)
    gate, log = tmp_path / "gate", tmp_path / "calls.log"
    with Client(server.url) as c:
        setup(c)
        c.register_function("held", path="retry_functions:held")
        c.register_trigger({"trigger_name": "h", "type": "function", "functions": ["held"]})
        done = c.trigger("r", {"x": 1, "log": str(log)}, wait=True, timeout=60)
        assert done["status"] == "succeeded", done["error"]  # functions travel to processes
        assert done["outputs"] == {"last": {"x": 25}}
        run_id = c.trigger("h", {"log": str(log), "gate": str(gate)})["run_id"]
        try:
            for _ in range(1500):  # bounded: until `held` runs in a worker process
                if "held" in calls(log):
                    break
                time.sleep(0.02)
            c.cancel(run_id)
            # the one dispatcher is free again although `held` is still at its gate
            other = c.trigger("r", {"x": 2, "log": str(log)}, wait=True, timeout=60)
            assert other["status"] == "succeeded" and not gate.exists()
            assert "held-done" not in calls(log)
            assert c.run(run_id)["nodes"]["held"]["status"] == "cancelled"
        finally:
            gate.touch()
