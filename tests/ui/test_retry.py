"""Retry from the dashboard (Platform.retry underneath): completed nodes are reused and
the failed attempt's traceback does not linger on the retried run."""

from __future__ import annotations

import time

import httpx
import ui_functions
from ui_helpers import TOKEN, register


def _wait(url, run_id, headers=None, bound=200):
    for _ in range(bound):
        record = httpx.get(f"{url}/runs/{run_id}", headers=headers or {}).json()
        if record["status"] not in ("queued", "running"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_ui_retry_reuses_completed_nodes(make_server, tmp_path):
    server = make_server(token=TOKEN)
    url = server.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    register(url, TOKEN)
    fixed = tmp_path / "fixed"
    run = httpx.post(
        f"{url}/run/retryable?wait=true", json={"x": 1, "fixed": str(fixed)}, headers=auth
    ).json()
    run_id = run["run_id"]
    assert run["status"] == "failed"
    logs = httpx.get(f"{url}/runs/{run_id}/nodes/flaky/logs", headers=auth).json()
    assert "does not exist yet" in logs["traceback"]
    calls = ui_functions.CALLS["start"]
    assert httpx.post(f"{url}/ui/api/runs/{run_id}/retry", json={}).status_code == 401
    fixed.write_text("ok")
    r = httpx.post(f"{url}/ui/api/runs/{run_id}/retry", json={}, headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["reused_nodes"] == 1 and r.json()["attempt"] == 2
    assert _wait(url, run_id, auth)["status"] == "succeeded"
    assert ui_functions.CALLS["start"] == calls  # reused, not run again
    logs = httpx.get(f"{url}/runs/{run_id}/nodes/flaky/logs", headers=auth).json()
    assert logs["status"] == "succeeded" and logs["traceback"] is None
    assert logs["stdout"] == "flaky sees 1\n"
    page = httpx.get(f"{url}/ui/runs/{run_id}", headers=auth).text
    assert 'class="failure"' not in page
    r = httpx.post(f"{url}/ui/api/runs/{run_id}/retry", json={}, headers=auth)
    assert r.status_code == 409 and "only a failed or cancelled run" in r.json()["detail"]
    assert httpx.post(f"{url}/ui/api/runs/nope/retry", json={}, headers=auth).status_code == 404


def test_logs_of_pruned_runs_are_forgotten(make_server):
    server = make_server()
    register(server.url)
    run = httpx.post(f"{server.url}/run/broken?wait=true", json={"x": 1}).json()
    plat = server.app.state.platform
    assert plat.monitor.details(run["run_id"])
    # ?wait=true answers once the run is journaled finished; its dispatcher lets go of
    # the live view (monitor.forget) just after, so wait for that (bounded) first.
    deadline = time.monotonic() + 10
    while plat.monitor.live(run["run_id"]) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plat.monitor.live(run["run_id"]) is None
    plat.db.prune_runs(time.time() + 10)
    plat.monitor.forget_pruned()
    assert plat.monitor.details(run["run_id"]) == {}
