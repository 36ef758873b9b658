"""Resource requirements on a real platform server: ``--resources`` gives the runs one
shared ResourcePool; the run page's timeline shows usage per resource against it, live,
after completion and after a restart; what could never run is refused with a 422."""

from __future__ import annotations

import re
import sys
import time

import httpx
import pytest
from helpers import free_port, spawn_serve
from resource_functions import spans

from dagforge.server.capacity import parse_capacity

MODULES = ("resource_functions",)


def node(node_id, nxt="", primitive="serial", resources=None):
    props = {"label": node_id, "primitive": primitive, "next": nxt}
    if resources is not None:
        props["resources"] = resources
    return {"node_id": node_id, "properties": props}


FAN = {
    "name": "fan",
    "dag": [
        node("start", ["left", "right"], "parallel"),
        node("left"),
        node("right", resources={"memory": 256}),  # the spec node adds to its function's
    ],
}


def function(url, name, resources=None, fn=None):
    body = {"name": name, "kind": "python", "path": f"resource_functions:{fn or name}"}
    if resources is not None:
        body["resources"] = resources
    return httpx.post(f"{url}/register/function", json=body)


def setup_fan(url):
    for name, need in (("start", None), ("left", {"cpu": 2}), ("right", {"cpu": 2})):
        r = function(url, name, need)
        assert r.status_code == 201, r.text
    assert httpx.post(f"{url}/register/dag", json=FAN).status_code == 201
    trigger = {"trigger_name": "fan", "type": "dag", "dags": ["fan"], "functions": ""}
    assert httpx.post(f"{url}/register/trigger", json=trigger).status_code == 201


def rows(page: str) -> dict[str, tuple[str, str]]:
    """``{resource: (capacity, peak)}`` of the timeline's rows on a run page."""
    found = re.findall(
        r'<g class="resource-row" data-resource="([^"]+)" data-capacity="([^"]*)" '
        r'data-peak="([^"]*)"',
        page,
    )
    return {name: (cap, peak) for name, cap, peak in found}


def wait_for(check, what, limit=20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_page_timeline_live_and_after_completion(make_server, tmp_path):
    server = make_server(allow_modules=MODULES, resources={"cpu": 3, "memory": 1000})
    url = server.url
    setup_fan(url)
    gate, log = tmp_path / "gate", tmp_path / "log"
    run_id = httpx.post(f"{url}/run/fan", json={"gate": str(gate), "log": str(log)}).json()[
        "run_id"
    ]
    # live: one of left/right holds cpu=2 of 3; the other waits for the pool
    live = wait_for(
        lambda: (
            (p := httpx.get(f"{url}/ui/runs/{run_id}/panel").text)
            and rows(p).get("cpu") == ("3", "2")
            and p
        ),
        "the live timeline",
    )
    assert httpx.get(f"{url}/runs/{run_id}").json()["status"] == "running"
    assert "resource-empty" not in live
    gate.write_text("open")
    done = wait_for(
        lambda: httpx.get(f"{url}/runs/{run_id}").json()["status"] != "running", "the run"
    )
    assert done
    assert httpx.get(f"{url}/runs/{run_id}").json()["status"] == "succeeded"
    page = httpx.get(f"{url}/ui/runs/{run_id}").text
    # one row per resource, the right peak: left and right never held cpu at once
    assert rows(page) == {"cpu": ("3", "2"), "memory": ("1000", "256")}
    held = spans(log)
    (first, second) = sorted(held.values())
    assert first[1] <= second[0]  # the pool serialised them (cpu 2 + 2 > 3)
    assert "peak 2 (67%)" in page and "peak 256 (26%)" in page


def test_the_timeline_survives_a_restart(make_server, tmp_path):
    data = tmp_path / "data"
    server = make_server(data_dir=data, allow_modules=MODULES, resources={"cpu": 4, "memory": 512})
    setup_fan(server.url)
    r = httpx.post(f"{server.url}/run/fan?wait=true", json={}, timeout=60)
    assert r.json()["status"] == "succeeded", r.text
    run_id = r.json()["run_id"]
    server.__exit__(None, None, None)
    # restarted (even without --resources): the journal still knows what ran against what
    again = make_server(data_dir=data, allow_modules=MODULES)
    page = httpx.get(f"{again.url}/ui/runs/{run_id}").text
    found = rows(page)
    assert set(found) == {"cpu", "memory"}
    assert found["cpu"][0] == "4" and found["memory"] == ("512", "256")
    assert found["cpu"][1] in ("2", "4")  # left and right may or may not have overlapped
    # ... but it refuses new runs it could not account for, naming the option
    r = httpx.post(f"{again.url}/run/fan", json={})
    assert r.status_code == 422, r.text
    assert "--resources" in r.text and "cpu=2" in r.text


def test_requirements_beyond_capacity_are_refused_with_422(make_server):
    server = make_server(allow_modules=MODULES, resources={"cpu": 4, "memory": 1024})
    url = server.url
    r = function(url, "big", {"cpu": 8}, fn="solo")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["errors"][0]["path"] == "resources.cpu"
    assert "cpu=8" in detail["message"] and "capacity cpu=4" in detail["message"]
    r = function(url, "gpu_fn", {"gpu": 1}, fn="solo")
    assert r.status_code == 422
    assert (
        "no resource 'gpu'" in r.text and r.json()["detail"]["errors"][0]["path"] == "resources.gpu"
    )
    for bad, path in (
        ({"cpu": -1}, "resources.cpu"),
        ({"cpu": "2"}, "resources.cpu"),
        ({"cpu": True}, "resources.cpu"),
        ({"a b": 1}, 'resources["a b"]'),
        ([1], "resources"),
        ({f"r{k}": 1 for k in range(20)}, "resources"),
    ):
        r = function(url, "bad", bad, fn="solo")
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"]["errors"][0]["path"] == path, (bad, r.text)
    assert httpx.get(f"{url}/functions/big").status_code == 404  # nothing was registered
    # a spec node asking for too much: 422 at its JSON path
    assert function(url, "solo", {"cpu": 1}).status_code == 201
    spec = {"name": "greedy", "dag": [node("solo", resources={"memory": 4096})]}
    r = httpx.post(f"{url}/register/dag", json=spec)
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["path"] == "dag[0].properties.resources.memory"
    assert "memory=4096" in r.text and "memory=1024" in r.text
    spec["dag"][0]["properties"]["resources"] = {"memory": -5}
    r = httpx.post(f"{url}/register/dag", json=spec)
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["path"] == "dag[0].properties.resources.memory"
    # the registry page names the capacity and each function's requirement
    registry = httpx.get(f"{url}/ui/registry").text
    assert "cpu=4, memory=1024" in registry
    row = re.search(r'<tr data-function="solo">.*?</tr>', registry).group(0)
    assert '<td class="resources">cpu=1</td>' in row


def test_without_resources_requirements_are_refused_naming_the_option(make_server):
    server = make_server(allow_modules=MODULES)
    r = function(server.url, "left", {"cpu": 2})
    assert r.status_code == 422
    assert "--resources" in r.text and "cpu=2" in r.text
    assert function(server.url, "left", {}).status_code == 201  # {}: no requirement
    spec = {"name": "s", "dag": [node("left", resources={"cpu": 1})]}
    r = httpx.post(f"{server.url}/register/dag", json=spec)
    assert r.status_code == 422 and "--resources" in r.text
    assert (
        httpx.post(f"{server.url}/register/dag", json={**spec, "dag": [node("left")]}).status_code
        == 201
    )
    assert (
        "none: functions and spec nodes may not declare resources"
        in httpx.get(f"{server.url}/ui/registry").text
    )


def test_a_trigger_is_refused_when_the_capacity_shrank(make_server, tmp_path):
    data = tmp_path / "data"
    big = make_server(data_dir=data, allow_modules=MODULES, resources={"cpu": 8})
    assert function(big.url, "solo", {"cpu": 6}).status_code == 201
    trigger = {"trigger_name": "t", "type": "function", "dags": "", "functions": ["solo"]}
    assert httpx.post(f"{big.url}/register/trigger", json=trigger).status_code == 201
    big.__exit__(None, None, None)
    small = make_server(data_dir=data, allow_modules=MODULES, resources={"cpu": 4})
    r = httpx.post(f"{small.url}/run/t", json={})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["errors"][0]["path"] == "functions.solo.resources.cpu"
    assert "node 'solo'" in detail["message"] and "cpu=6" in detail["message"]
    assert "cpu=4" in detail["message"]
    assert httpx.get(f"{small.url}/runs").json() == []  # not journaled: refused, not stuck


def test_runs_share_one_pool(make_server, tmp_path):
    """Two runs at once, each a node needing cpu=3 of 4: the second waits for the first."""
    server = make_server(allow_modules=MODULES, resources={"cpu": 4}, workers=2)
    url = server.url
    assert function(url, "solo", {"cpu": 3}).status_code == 201
    trigger = {"trigger_name": "t", "type": "function", "dags": "", "functions": ["solo"]}
    assert httpx.post(f"{url}/register/trigger", json=trigger).status_code == 201
    gate, log = tmp_path / "gate", tmp_path / "log"
    ids = [
        httpx.post(f"{url}/run/t", json={"gate": str(gate), "log": str(log), "run": k}).json()[
            "run_id"
        ]
        for k in ("a", "b")
    ]
    wait_for(lambda: log.exists() and log.read_text().count("start") == 1, "one node started")
    wait_for(
        lambda: all(httpx.get(f"{url}/runs/{i}").json()["status"] == "running" for i in ids),
        "both runs dispatched",
    )
    gate.write_text("open")
    for i in ids:
        wait_for(lambda i=i: httpx.get(f"{url}/runs/{i}").json()["status"] == "succeeded", i)
    (first, second) = sorted(spans(log).values())
    assert first[1] <= second[0]
    for i in ids:
        assert rows(httpx.get(f"{url}/ui/runs/{i}").text) == {"cpu": ("4", "3")}


def test_parse_capacity():
    assert parse_capacity("cpu=4, gpu=1,memory=8192") == {"cpu": 4.0, "gpu": 1.0, "memory": 8192.0}
    for bad, words in (
        ("cpu", "not name=amount"),
        ("cpu=", "is not a number"),
        ("cpu=four", "is not a number"),
        ("cpu=-1", "positive finite"),
        ("cpu=nan", "positive finite"),
        ("cpu=1,cpu=2", "given twice"),
        ("a b=1", "not allowed"),
        ("", "name=amount pairs"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_capacity(bad)


def test_serve_resources_option(tmp_path):
    """The real CLI: a bad --resources stops it naming the option; a good one is the
    capacity registrations are checked against, and the startup line says so."""
    import subprocess

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagforge.cli",
            "serve",
            "--data-dir",
            str(tmp_path / "d0"),
            "--resources",
            "cpu=-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "--resources" in bad.stderr and "cpu=-1" in bad.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = spawn_serve(
        url,
        [
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d1"),
            "--allow-module",
            "resource_functions",
            "--resources",
            "cpu=2,memory=100",
        ],
        log=log,
    )
    try:
        r = function(url, "solo", {"cpu": 4})
        assert r.status_code == 422 and "capacity cpu=2" in r.text
        assert function(url, "solo", {"cpu": 2, "memory": 100}).status_code == 201
        assert "resources=cpu=2,memory=100" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_run_with_requirements_fails_clearly_on_a_server_without_resources():
    """A run accepted while the server had --resources, resumed after a restart without:
    it fails at start naming the option (it does not wait for a pool that is not there)."""
    from dagforge.errors import ResourceError
    from dagforge.server.capacity import Capacity

    snapshot = {
        "spec": FAN,
        "functions": {"left": {"name": "left", "resources": {"cpu": 2}}, "start": {}},
    }
    assert Capacity({"cpu": 4}).for_run(snapshot) == {
        "left": {"cpu": 2.0},
        "right": {"memory": 256.0},
    }
    with pytest.raises(ResourceError, match="--resources"):
        Capacity(None).for_run(snapshot)
    assert Capacity(None).for_run({"spec": {"name": "x", "dag": [node("start")]}}) == {}
    # a function record from before requirements were checked: named, not ignored
    from dagforge.server.guards import BadInput

    old = {**snapshot, "functions": {"left": {"resources": {"cpu": "two"}}}}
    with pytest.raises(BadInput) as info:
        Capacity({"cpu": 4}).for_run(old)
    assert info.value.path == "functions.left.resources.cpu"
    assert Capacity({"cpu": 4}).requirements(old) == {"right": {"memory": 256.0}}  # the page


def test_a_run_waiting_for_the_pool_can_be_cancelled(make_server, tmp_path):
    """Run a holds cpu=3 of 4 (gated); run b waits for it. Cancelling b ends it while a
    still holds the pool; b's node never started."""
    server = make_server(allow_modules=MODULES, resources={"cpu": 4}, workers=2)
    url = server.url
    assert function(url, "solo", {"cpu": 3}).status_code == 201
    trigger = {"trigger_name": "t", "type": "function", "dags": "", "functions": ["solo"]}
    assert httpx.post(f"{url}/register/trigger", json=trigger).status_code == 201
    gate, log = tmp_path / "gate", tmp_path / "log"
    args = {"gate": str(gate), "log": str(log)}
    a = httpx.post(f"{url}/run/t", json={**args, "run": "a"}).json()["run_id"]
    wait_for(lambda: log.exists() and "solo-a start" in log.read_text(), "run a's node")
    b = httpx.post(f"{url}/run/t", json={**args, "run": "b"}).json()["run_id"]
    wait_for(lambda: httpx.get(f"{url}/runs/{b}").json()["status"] == "running", "run b")
    waiting = httpx.get(f"{url}/ui/runs/{b}/panel").text  # its node waits for the pool
    assert 'class="resource-waiting"' in waiting and "solo: cpu=3" in waiting
    assert httpx.post(f"{url}/runs/{b}/cancel").status_code == 200
    wait_for(lambda: b not in server.server.config.app.state.platform._cancel, "b let go")
    assert httpx.get(f"{url}/runs/{b}").json()["status"] == "cancelled"
    assert httpx.get(f"{url}/runs/{a}").json()["status"] == "running"  # a still holds it
    gate.write_text("open")
    wait_for(lambda: httpx.get(f"{url}/runs/{a}").json()["status"] == "succeeded", "run a")
    assert "solo-b" not in log.read_text()
