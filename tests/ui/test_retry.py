"""POST /runs/{id}/retry: a failed run again, reusing the nodes it completed."""

from __future__ import annotations

import time

import httpx
import ui_functions

from conftest import TOKEN, register


def _wait(url, run_id, headers=None, bound=200):
    for _ in range(bound):
        record = httpx.get(f"{url}/runs/{run_id}", headers=headers or {}).json()
        if record["status"] not in ("queued", "running"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_retry_reuses_completed_nodes(make_server, tmp_path):
    server = make_server(token=TOKEN)
    url = server.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    register(url, TOKEN)
    fixed = tmp_path / "fixed"
    run = httpx.post(
        f"{url}/run/retryable?wait=true", json={"x": 1, "fixed": str(fixed)}, headers=auth
    ).json()
    assert run["status"] == "failed"
    calls = ui_functions.CALLS["start"]
    assert httpx.post(f"{url}/runs/{run['run_id']}/retry").status_code == 401
    fixed.write_text("ok")
    r = httpx.post(f"{url}/runs/{run['run_id']}/retry", headers=auth)
    assert r.status_code == 202, r.text
    again = r.json()
    assert again["retry_of"] == run["run_id"] and again["reused_nodes"] == 1
    done = _wait(url, again["run_id"], auth)
    assert done["status"] == "succeeded"
    assert done["nodes"]["start"]["restored"] is True
    assert ui_functions.CALLS["start"] == calls  # not run again
    assert httpx.get(f"{url}/runs/{again['run_id']}/outputs", headers=auth).json()
    # only failed or cancelled runs; unknown ids are 404
    r = httpx.post(f"{url}/runs/{again['run_id']}/retry", headers=auth)
    assert r.status_code == 409 and "only a failed or cancelled run" in r.json()["detail"]
    assert httpx.post(f"{url}/runs/nope/retry", headers=auth).status_code == 404
    assert "/runs/{run_id}/retry" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_logs_of_pruned_runs_are_forgotten(make_server):
    server = make_server()
    register(server.url)
    run = httpx.post(f"{server.url}/run/broken?wait=true", json={"x": 1}).json()
    plat = server.app.state.platform
    assert plat.monitor.details(run["run_id"])
    plat.db.prune_runs(time.time() + 10)
    plat.monitor.forget_pruned()
    assert plat.monitor.details(run["run_id"]) == {}
