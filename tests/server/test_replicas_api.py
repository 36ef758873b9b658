"""Two gateways in one process on one PostgreSQL and one Redis: waits answered by the
replica that accepted the run when the other one ran it, cancel and retry through
either replica, registries and schedules shared."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge import Client
from dagforge.errors import ClientError
from dagforge.server.database import upgrade


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def one_node(name: str, fn: str) -> dict:
    return {
        "name": name,
        "dag": [
            {
                "node_id": fn,
                "properties": {"label": fn, "primitive": "serial", "next": ""},
            }
        ],
    }


@pytest.fixture
def replicas(make_server, postgres_url, redis_url, tmp_path):  # noqa: F811
    upgrade(postgres_url)
    store = redis_url.rsplit("/", 1)[0] + "/5"
    made = [
        make_server(
            data_dir=tmp_path / f"replica{k}",
            database_url=postgres_url,
            store=store,
            workers=1,
            allow_modules=("replica_functions",),
        )
        for k in range(2)
    ]
    with Client(made[0].url) as c:
        for fn in ("hold", "flaky"):
            c.register_function(fn, path=f"replica_functions:{fn}")
            c.register_dag(one_node(f"{fn}-dag", fn))
            c.register_trigger(
                {"trigger_name": fn, "type": "dag", "priority": "gold", "dags": [f"{fn}-dag"]}
            )
    yield made
    for server in made:  # before the database is dropped
        server.__exit__(None, None, None)


def test_registries_and_waits_across_replicas(replicas, tmp_path: Path) -> None:
    a, b = replicas
    gate = tmp_path / "gate"
    log = tmp_path / "calls.log"
    with Client(a.url) as ca, Client(b.url) as cb:
        assert [t["trigger_name"] for t in cb.list_triggers()] == ["flaky", "hold"]
        blocker = ca.trigger("hold", {"gate": str(gate), "tag": "block", "log": str(log)})
        # one worker each: whichever replica took the blocker, the other runs the next
        assert wait_until(lambda: ca.run(blocker["run_id"])["status"] == "running")
        waited = httpx.post(
            f"{a.url}/run/flaky?wait=true",
            json={"x": 1, "tag": "w", "log": str(log)},
            timeout=60,
        )
        assert waited.status_code == 200, waited.text
        assert waited.json()["status"] == "succeeded"
        gate.touch()
        assert cb.wait(blocker["run_id"], timeout=30)["status"] == "succeeded"
    lines = log.read_text().splitlines()
    assert sorted(line.split()[:2] for line in lines) == [["block", "hold"], ["w", "flaky"]]


def test_cancel_and_retry_through_the_other_replica(replicas, tmp_path: Path) -> None:
    a, b = replicas
    gate = tmp_path / "gate"
    flag = tmp_path / "fail"
    log = tmp_path / "calls.log"
    with Client(a.url) as ca, Client(b.url) as cb:
        held = ca.trigger("hold", {"gate": str(gate), "tag": "c", "log": str(log)})
        assert wait_until(lambda: cb.run(held["run_id"])["status"] == "running")
        for client in (ca, cb):  # whichever runs it, cancel through both in turn
            try:
                cancelled = client.cancel(held["run_id"])
                break
            except ClientError:  # pragma: no cover - finished in between
                continue
        assert cancelled["status"] == "cancelled"
        assert ca.wait(held["run_id"], timeout=30)["status"] == "cancelled"
        gate.touch()

        flag.touch()
        failed = cb.trigger("flaky", {"x": 5, "fail_flag": str(flag), "tag": "f", "log": str(log)})
        assert ca.wait(failed["run_id"], timeout=30)["status"] == "failed"
        flag.unlink()
        again = ca.retry(failed["run_id"])  # through the replica that did not accept it
        assert again["run_id"] == failed["run_id"]
        final = cb.wait(failed["run_id"], timeout=30)
        assert final["status"] == "succeeded", final
        assert cb.outputs(failed["run_id"]) == {"flaky": {"x": 105}}
        assert ca.run(failed["run_id"])["attempt"] == 2
