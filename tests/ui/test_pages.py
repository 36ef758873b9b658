"""The dashboard's pages over plain HTTP: filters, pagination, escaping, bad input."""

from __future__ import annotations

import html
import re
import time

import httpx
from ui_helpers import register

EVIL = "<script>alert(1)</script>"


def _settle(url, bound=400):
    for _ in range(bound):
        runs = httpx.get(f"{url}/runs?limit=500").json()
        if all(r["status"] not in ("queued", "running") for r in runs):
            return runs
        time.sleep(0.05)
    raise AssertionError("runs did not finish")


def test_runs_list_filters_and_pages(make_server):
    server = make_server()
    url = server.url
    register(url)
    for k in range(53):
        httpx.post(f"{url}/run/fan", json={"x": k})
    httpx.post(f"{url}/run/broken", json={"x": 0})
    _settle(url)
    first = httpx.get(f"{url}/ui").text
    assert first.count('<tr class="run ') == 50 and 'id="next-page"' in first
    second = httpx.get(f"{url}/ui?page=1").text
    assert second.count('<tr class="run ') == 4 and 'id="next-page"' not in second
    failed = httpx.get(f"{url}/ui?status=failed").text
    assert failed.count('<tr class="run ') == 1 and "broken" in failed
    fan = httpx.get(f"{url}/ui/fragments/runs?trigger=fan&class=gold&page=1").text
    assert fan.count('<tr class="run ') == 3
    assert httpx.get(f"{url}/ui?status=weird").status_code == 422
    assert httpx.get(f"{url}/ui?class=platinum").status_code == 422
    assert httpx.get(f"{url}/ui?page=x").status_code == 422
    assert httpx.get(f"{url}/ui/runs/nope").status_code == 404


def test_everything_user_given_is_escaped(make_server):
    server = make_server()
    url = server.url
    name = "<svg onload=alert(1)>"
    register(url, trigger_names={"broken": [name]})
    quoted = name.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    run = httpx.post(f"{url}/run/{quoted}?wait=true", json={"x": EVIL}).json()
    assert run["status"] == "failed"  # its error, logs and traceback all hold EVIL
    for path in (
        "/ui",
        "/ui/registry",
        "/ui/queues",
        f"/ui/runs/{run['run_id']}",
        f"/ui/runs/{run['run_id']}/panel",
        f"/ui/runs/{run['run_id']}/nodes/explode",
    ):
        page = httpx.get(url + path).text
        assert "<script>alert" not in page and "<svg onload" not in page, path
    page = httpx.get(f"{url}/ui/runs/{run['run_id']}").text
    assert html.escape(EVIL, quote=False) in page and html.escape(name, quote=False) in page


def test_failed_node_page_and_attempts(make_server):
    server = make_server()
    url = server.url
    register(url, trigger_names={"broken": ["broken", "tricky<b>"]})
    run = httpx.post(f"{url}/run/tricky%3Cb%3E?wait=true", json={"x": "<i>7</i>"}).json()
    assert run["status"] == "failed"
    page = httpx.get(f"{url}/ui/runs/{run['run_id']}").text
    assert "tricky&lt;b&gt;" in page and "tricky<b>" not in page
    assert html.escape("explode refused <i>7</i>", quote=False) in page
    rows = re.findall(
        r'<tr class="node-row st-(\w+)" data-node="(\w+)">\s*<td>.*?</td>\s*'
        r"<td>.*?</td>\s*<td>(\d*)</td>",
        page,
        re.S,
    )
    assert sorted(rows) == [("failed", "explode", "1"), ("succeeded", "start", "1")]
    node = httpx.get(f"{url}/ui/runs/{run['run_id']}/nodes/explode").text
    assert "about to explode &lt;i&gt;7&lt;/i&gt;" in node
    assert httpx.get(f"{url}/ui/runs/{run['run_id']}/nodes/nope").status_code == 404


def test_actions_refuse_other_sites_and_non_json(make_server):
    server = make_server()  # no token: the page of another site must still not act
    url = server.url
    register(url)
    r = httpx.post(f"{url}/ui/api/trigger/fan", json={}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.json()["detail"]
    r = httpx.post(
        f"{url}/ui/api/trigger/fan", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    host = url.split("://", 1)[1]
    r = httpx.post(f"{url}/ui/api/trigger/fan", json={"x": 1}, headers={"Origin": f"http://{host}"})
    assert r.status_code == 202 and r.json()["status"] == "queued"
    r = httpx.post(
        f"{url}/ui/api/trigger/fan", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    assert httpx.post(f"{url}/ui/api/trigger/nope", json={}).status_code == 404


def test_queues_page_counts_waiting_runs_per_class(make_server, tmp_path):
    server = make_server(workers=1)
    url = server.url
    register(url)
    gate = tmp_path / "gate"
    held = httpx.post(f"{url}/run/long", json={"gate": str(gate)}).json()["run_id"]
    for _ in range(400):  # the one dispatcher worker is busy with it
        if httpx.get(f"{url}/runs/{held}").json()["status"] == "running":
            break
        time.sleep(0.02)
    waiting = [httpx.post(f"{url}/run/fan", json={"x": k}).json()["run_id"] for k in range(2)]
    try:
        page = httpx.get(f"{url}/ui/queues").text
        counts = dict(
            re.findall(r'<tr data-class="(\w+)"><td>\w+</td><td class="waiting">(\d+)', page)
        )
        assert counts == {"gold": "2", "silver": "0", "bronze": "0"}
        assert '<b id="in-flight">1</b>' in page
        assert f'<a href="/ui/runs/{held}">' in page and not any(w in page for w in waiting)
    finally:
        gate.write_text("open")
    runs = _settle(url)
    assert {r["status"] for r in runs} == {"succeeded"}


def test_the_trigger_menus_show_at_most_one_registry_page(make_server):
    server = make_server(max_list=3)
    url = server.url
    register(url)  # five triggers: broken, fan, long, loop, retryable

    def menu(page: str, select: str) -> list[str]:
        found = re.search(rf"<select (?:id|name)=\"{select}\">(.*?)</select>", page, re.S)
        assert found, select
        return re.findall(r'<option value="([^"]*)"', found.group(1))

    page = httpx.get(f"{url}/ui").text
    assert menu(page, "trigger-name") == ["broken", "fan", "long"]  # by name, capped
    assert menu(page, "trigger") == ["", "broken", "fan", "long"]  # "any" first
    assert 'class="more-triggers"' in page and 'href="/ui/registry#triggers"' in page
    chosen = httpx.get(f"{url}/ui?trigger=retryable").text  # a filter beyond the page
    assert menu(chosen, "trigger") == ["", "broken", "fan", "long", "retryable"]
    assert '<option value="retryable" selected>' in chosen

    everything = make_server()  # the default cap: all five, no note
    register(everything.url)
    page = httpx.get(f"{everything.url}/ui").text
    assert menu(page, "trigger-name") == ["broken", "fan", "long", "loop", "retryable"]
    assert 'class="more-triggers"' not in page
