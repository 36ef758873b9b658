"""Schedules through a real gateway: POST /register/schedule, 422 naming the field, runs
fired by the clock appear in the run list, GET/DELETE /schedules, `dagforge schedules ls`."""

from __future__ import annotations

import json
import re
import time

import httpx
from helpers import setup_chain
from typer.testing import CliRunner

from dagforge import Client
from dagforge.cli import app as cli


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_schedule_fires_runs_and_bad_fields_are_422(make_server, tmp_path) -> None:
    server = make_server()
    url = server.url
    with Client(url) as c:
        setup_chain(c, priority="silver", trigger="t")
    body = {
        "name": "every-second",
        "trigger": "t",
        "cron": "* * * * * *",  # six fields: every second
        "arguments": {"x": 4, "marker_dir": str(tmp_path / "m")},
        "catchup": "none",
        "max_active": 3,
    }
    r = httpx.post(f"{url}/register/schedule", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "every-second" and r.json()["next_due"] is not None

    for field, value, words in [
        ("cron", "61 * * * *", "not a valid cron"),
        ("trigger", "nope", "'nope' is not a registered trigger"),
        ("timezone", "Nowhere/City", "IANA"),
        ("catchup", "sometimes", "catchup"),
    ]:
        r = httpx.post(f"{url}/register/schedule", json={**body, "name": "bad", field: value})
        assert r.status_code == 422, (field, r.text)
        detail = r.json()["detail"]
        assert detail["errors"][0]["path"] == field and words in detail["message"]

    with Client(url) as c:

        def fired() -> list:
            return [
                rec
                for rec in c.runs(limit=50)
                if rec.get("trigger") == "t" and rec.get("status") == "succeeded"
            ]

        assert wait_until(lambda: len(fired()) >= 2), c.runs(limit=50)
        first = fired()[0]["run_id"]
        assert c.outputs(first) == {"slow_count": {"x": 10}}
        assert {r.get("schedule") for r in fired()} == {"every-second"}  # in the run list
        assert c.run(first)["schedule"] == "every-second"
        mine = c.trigger("t", {"x": 1})  # triggered by hand: no schedule in its record
        listed = [r for r in c.runs(limit=50) if r["run_id"] == mine["run_id"]]
        assert listed and listed[0].get("schedule") is None, listed

    listing = httpx.get(f"{url}/schedules").json()
    assert [s["name"] for s in listing] == ["every-second"]
    fires = listing[0]["last_fires"]
    assert len(fires) >= 2 and len({f["due"] for f in fires}) == len(fires)
    assert first in {f["run_id"] for f in fires}

    out = CliRunner().invoke(cli, ["schedules", "ls", "--url", url, "--output", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["cron"] == "* * * * * *"
    out = CliRunner().invoke(cli, ["schedules", "ls", "--url", url])
    assert out.exit_code == 0 and "every-second" in out.output

    assert httpx.delete(f"{url}/schedules/every-second").status_code == 200
    assert httpx.get(f"{url}/schedules/every-second").status_code == 404
    assert httpx.delete(f"{url}/schedules/every-second").status_code == 404


def test_schedules_survive_a_restart_without_refiring(make_server, tmp_path) -> None:
    data = tmp_path / "data"
    server = make_server(data_dir=data)
    with Client(server.url) as c:
        setup_chain(c, priority="gold", trigger="t")
    r = httpx.post(
        f"{server.url}/register/schedule",
        json={"name": "s", "trigger": "t", "cron": "* * * * * */2", "max_active": 5},
    )
    assert r.status_code == 201, r.text
    assert wait_until(lambda: len(httpx.get(f"{server.url}/schedules/s").json()["last_fires"]) >= 1)
    server.__exit__(None, None, None)
    again = make_server(data_dir=data)
    stored = httpx.get(f"{again.url}/schedules/s").json()
    assert stored["cron"] == "* * * * * */2"
    assert wait_until(lambda: len(httpx.get(f"{again.url}/schedules/s").json()["last_fires"]) >= 2)
    dues = [f["due"] for f in httpx.get(f"{again.url}/schedules/s").json()["last_fires"]]
    assert len(dues) == len(set(dues))  # no due time fired twice across the restart


def test_schedules_show_on_the_dashboard_escaped(make_server) -> None:
    server = make_server()
    url = server.url
    with Client(url) as c:
        setup_chain(c, priority="silver", trigger="t")
    page = httpx.get(f"{url}/ui/registry").text
    assert "No schedules registered." in page
    body = {"name": "nightly", "trigger": "t", "cron": "30 2 * * *", "timezone": "Europe/Paris"}
    assert httpx.post(f"{url}/register/schedule", json=body).status_code == 201
    page = httpx.get(f"{url}/ui/registry").text
    row = re.search(r'<tr data-schedule="nightly">(.*?)</tr>', page, re.S)
    assert row, page
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[:4] == ["nightly", "t", "<code>30 2 * * *</code>", "Europe/Paris"]
    due = httpx.get(f"{url}/schedules").json()
    listed = due[0] if isinstance(due, list) else due["schedules"][0]
    assert cells[6] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(listed["next_due"]))
    assert cells[7] == ""  # never fired yet


def test_schedule_reads_need_the_token_when_one_is_set(make_server) -> None:
    server = make_server(token="tok")
    url = server.url
    auth = {"Authorization": "Bearer tok"}
    with Client(url, token="tok") as c:
        setup_chain(c, priority="silver", trigger="t")
    body = {"name": "nightly", "trigger": "t", "cron": "30 2 * * *"}
    assert httpx.post(f"{url}/register/schedule", json=body, headers=auth).status_code == 201
    for path in ("/schedules", "/schedules/nightly"):
        assert httpx.get(url + path).status_code == 401, path
        assert httpx.get(url + path, headers=auth).status_code == 200, path
