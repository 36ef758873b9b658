"""The dashboard in a real browser: Playwright driving Debian's chromium (never
``playwright install``). Screenshots for docs/ui.md are written to docs/img/."""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

import httpx
import pytest
from ui_helpers import TOKEN, register

CHROMIUM = os.environ.get("DAGFORGE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
EVIL = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(
    not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists(),
    reason=f"no chromium at {CHROMIUM} (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    outside: list[str] = []

    def only_loopback(route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host not in ("127.0.0.1", "localhost"):
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    pg.route("**/*", only_loopback)
    pg.outside = outside
    yield pg
    assert not dialogs, f"a script ran from page content: {dialogs}"
    assert not outside, f"the page asked for something off this server: {outside}"
    context.close()


def shot(pg, name, full_page=True):
    """Take the screenshot (always: it renders the page fully); keep it in docs/img only
    with DAGFORGE_UI_SCREENSHOTS=1, so ordinary test runs leave the checkout clean."""
    import tempfile

    keep = os.environ.get("DAGFORGE_UI_SCREENSHOTS") == "1"
    folder = IMG if keep else Path(tempfile.gettempdir()) / "dagforge-ui-shots"
    folder.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(folder / name), full_page=full_page)


def states(pg):
    return pg.eval_on_selector_all(
        "#dag g.node", "els => Object.fromEntries(els.map(e => [e.dataset.node, e.dataset.state]))"
    )


def test_trigger_and_watch_the_run_live(make_server, page, tmp_path):
    server = make_server()
    register(server.url)
    gate = tmp_path / "gate"
    page.goto(server.url + "/ui")
    page.select_option("#trigger-name", "fan")
    page.fill("#trigger-args", f'{{"x": 2, "gate": "{gate}"}}')
    page.click("#trigger-button")
    page.click("#trigger-result a.new-run")
    page.wait_for_selector("#dag g.node[data-node=left][data-state=running]")
    page.evaluate("window.__same_page = 42")  # gone if the page reloads
    assert states(page)["finish"] == "pending"
    shot(page, "run-live.png")
    gate.write_text("open")
    page.wait_for_function(
        "[...document.querySelectorAll('#dag g.node')].every(g => g.dataset.state == 'succeeded')"
    )
    assert page.evaluate("window.__same_page") == 42
    assert states(page) == dict.fromkeys(["start", "left", "right", "finish"], "succeeded")
    labels = page.eval_on_selector_all("#dag .state-label", "els => els.map(e => e.textContent)")
    assert all("succeeded" in t for t in labels)  # state in words, not colour alone
    page.wait_for_selector("#run-status[data-status=succeeded]")
    page.wait_for_function("document.querySelectorAll('#gantt rect.bar').length == 4")
    bars = page.eval_on_selector_all("#gantt rect.bar", "els => els.map(e => e.dataset.node)")
    assert sorted(bars) == ["finish", "left", "right", "start"]
    page.wait_for_selector(".profile .critical-path")
    # a platform run's nodes declare no resources: the timeline says so in words
    assert "No resource requirements" in page.locator("#resource-timeline").inner_text()
    shot(page, "run-succeeded.png")
    # the runs list shows it, filterable
    page.goto(server.url + "/ui?status=succeeded&trigger=fan")
    assert page.locator("#runs-rows tr.run").count() == 1
    page.goto(server.url + "/ui?status=failed")
    assert page.locator("#runs-rows tr.run").count() == 0
    # the list is live: a run triggered elsewhere appears without a reload
    page.goto(server.url + "/ui?trigger=broken")
    page.evaluate("window.__same_page = 7")
    assert page.locator("#runs-rows tr.run").count() == 0
    httpx.post(f"{server.url}/run/broken", json={"x": 1})
    page.wait_for_selector("#runs-rows tr.run.st-failed")
    assert page.evaluate("window.__same_page") == 7


def test_failed_node_shows_traceback_and_logs(make_server, page):
    server = make_server()
    register(server.url)
    run = httpx.post(f"{server.url}/run/broken?wait=true", json={"x": 5}).json()
    assert run["status"] == "failed"
    page.goto(f"{server.url}/ui/runs/{run['run_id']}")
    failure = page.locator("section.failure[data-node=explode]")
    assert "ValueError: explode refused 5" in failure.locator("pre.traceback").inner_text()
    assert failure.locator("pre.stdout").inner_text().strip() == "about to explode 5"
    assert failure.locator("pre.stderr").inner_text().strip() == "stderr line"
    assert "ERROR ui_functions: explode sees 5" in failure.locator("pre.records").inner_text()
    assert (
        states(page) == {"start": "failed", "explode": "failed"}
        or states(page)["explode"] == "failed"
    )
    shot(page, "run-failed.png")
    page.click("a:has-text('explode')")
    assert "explode refused 5" in page.locator("pre.traceback").inner_text()


def test_cancel_a_long_run_from_the_page(make_server, page, tmp_path):
    server = make_server()
    register(server.url)
    run = httpx.post(f"{server.url}/run/long", json={"gate": str(tmp_path / "never")}).json()
    page.goto(f"{server.url}/ui/runs/{run['run_id']}")
    page.wait_for_selector("#dag g.node[data-node=hold][data-state=running]")
    page.click("#cancel-button")
    page.wait_for_selector("#run-status[data-status=cancelled]")
    assert httpx.get(f"{server.url}/runs/{run['run_id']}").json()["status"] == "cancelled"
    page.reload()
    assert page.locator("#retry-button").is_visible()
    (tmp_path / "never").write_text("let the abandoned node thread end")


def test_retry_a_failed_run_from_the_page(make_server, page, tmp_path):
    import ui_functions

    server = make_server()
    register(server.url)
    fixed = tmp_path / "fixed"
    before = ui_functions.CALLS.get("start", 0)
    run = httpx.post(f"{server.url}/run/retryable?wait=true", json={"fixed": str(fixed)}).json()
    assert run["status"] == "failed"
    assert ui_functions.CALLS["start"] == before + 1
    fixed.write_text("now it works")
    page.goto(f"{server.url}/ui/runs/{run['run_id']}")
    page.click("#retry-button")
    page.wait_for_selector("#run-status[data-status=succeeded]")  # the page follows it
    assert ui_functions.CALLS["start"] == before + 1  # reused from the journal, not run again
    page.wait_for_selector("tr.node-row[data-node=flaky] .chip.st-succeeded")
    assert page.locator("tr.node-row[data-node=start] td").nth(6).inner_text() == "yes"


def test_hostile_trigger_name_is_shown_as_text(make_server, page):
    server = make_server()
    register(server.url, trigger_names={"fan": ["fan", EVIL]})
    quoted = urllib.parse.quote(EVIL, safe="")
    run = httpx.post(f"{server.url}/run/{quoted}?wait=true", json={"x": 1}).json()
    assert run["status"] == "succeeded"
    for path in ("/ui", f"/ui/runs/{run['run_id']}", "/ui/registry"):
        page.goto(server.url + path)
        page.wait_for_selector(".trigger")
        texts = page.eval_on_selector_all(".trigger", "els => els.map(e => e.textContent)")
        assert EVIL in texts
        assert page.locator("main img").count() == 0
    # the registry's trigger form sends the name as a path segment, escaped
    page.fill(f"form.registry-trigger[data-trigger='{EVIL}'] input", '{"x": 3}')
    page.click(f"form.registry-trigger[data-trigger='{EVIL}'] button")
    page.wait_for_selector(f"form.registry-trigger[data-trigger='{EVIL}'] a.new-run")
    # every DAG spec is drawn: one box per node_id, labelled with its name
    drawn = page.eval_on_selector_all(
        "section.spec",
        "els => Object.fromEntries(els.map(s => [s.querySelector('h3').firstChild.textContent"
        ".trim(), [...s.querySelectorAll('svg.dag g.node')].map(g => g.dataset.node).sort()]))",
    )
    assert drawn["fan"] == ["finish", "left", "right", "start"]
    assert drawn["loop"] == ["done", "tick"] and len(drawn) == 5
    shot(page, "registry.png")


def test_pages_work_with_the_token(make_server, page, tmp_path):
    server = make_server(token=TOKEN)
    register(server.url, TOKEN)
    page.goto(server.url + "/ui")
    assert "/ui/login" in page.url
    page.fill("#token", "wrong")
    page.click("#login")
    assert page.locator("p.error").inner_text() == "wrong token"
    page.fill("#token", TOKEN)
    page.click("#login")
    page.wait_for_selector("#trigger-form")
    page.select_option("#trigger-name", "long")
    page.fill("#trigger-args", f'{{"gate": "{tmp_path / "never"}"}}')
    page.click("#trigger-button")
    page.click("#trigger-result a.new-run")
    page.wait_for_selector("#dag g.node[data-node=hold][data-state=running]")
    page.click("#cancel-button")
    page.wait_for_selector("#run-status[data-status=cancelled]")
    (tmp_path / "never").write_text("let the abandoned node thread end")
    # retry from the page with the cookie: the same run, a new attempt, now it passes
    page.reload()
    page.click("#retry-button")
    page.wait_for_selector("#run-status[data-status=succeeded]")
    assert page.locator("tr.node-row[data-node=start] td").nth(6).inner_text() == "yes"
    # live updates reach a logged-in page too (the event stream is read with the cookie)
    gate = tmp_path / "gate"
    page.goto(server.url + "/ui")
    page.select_option("#trigger-name", "fan")
    page.fill("#trigger-args", f'{{"gate": "{gate}"}}')
    page.click("#trigger-button")
    page.click("#trigger-result a.new-run")
    page.wait_for_selector("#dag g.node[data-node=left][data-state=running]")
    gate.write_text("open")
    page.wait_for_selector("#dag g.node[data-node=finish][data-state=succeeded]")
    page.wait_for_selector("#run-status[data-status=succeeded]")
    run_id = page.url.rsplit("/", 1)[-1]
    page.goto(server.url + "/ui/queues")
    assert page.locator("tr[data-class=gold] .waiting").inner_text() == "0"
    shot(page, "queues.png")
    # without the cookie the same things are refused
    assert httpx.get(server.url + "/ui", follow_redirects=False).status_code == 303
    assert httpx.post(server.url + "/ui/api/trigger/long", json={}).status_code == 401
    for action in ("cancel", "retry"):
        refused = httpx.post(f"{server.url}/ui/api/runs/{run_id}/{action}", json={})
        assert refused.status_code == 401 and "needs the token" in refused.text
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{server.url}/runs/{run_id}", headers=auth).json()["status"] == "succeeded"
    r = httpx.post(
        server.url + "/ui/api/trigger/long",
        json={},
        cookies={"dagforge_token": TOKEN},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403


def test_ten_thousand_node_run_is_summarised(make_server, page):
    server = make_server(max_iterations=20_000)
    register(server.url)
    run = httpx.post(f"{server.url}/run/loop?wait=true&timeout=200", json={"x": 0}, timeout=210)
    run = run.json()
    assert run["status"] == "succeeded" and len(run["nodes"]) == 10_001
    page.goto(f"{server.url}/ui/runs/{run['run_id']}")
    assert page.locator(".dag-summary").count() == 1  # counts by state, not 10,001 rows
    assert "10001 node instances" in page.locator(".dag-summary").inner_text()
    assert page.locator("tr.node-row").count() == 200  # one page of node rows
    assert page.locator("#gantt rect.bar").count() == 1500
    assert "shorter attempts" in page.locator(".gantt-note").inner_text()
    assert states(page) == {"tick": "succeeded", "done": "succeeded"}
    assert "x10000" in page.locator("#dag g.node[data-node=tick] .state-label").text_content()
    shot(page, "run-10000.png", full_page=False)  # the whole page is a very tall image


def test_swagger_and_redoc_render_offline(make_server, page):
    server = make_server()
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "dagforge" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-summary-path")
    shot(page, "swagger.png")
    page.goto(server.url + "/redoc")
    page.wait_for_selector("h1:has-text('dagforge')")


def test_resource_timeline_of_a_run_with_requirements(page, tmp_path):
    """A library run on a ResourcePool: its report (opened without a server) draws one
    row per resource, usage against the dashed capacity line, labelled in words."""
    import time as _time

    from dagforge import DAG, ResourcePool
    from dagforge.execution.executor import Executor

    pool = ResourcePool({"cpu": 2, "gpu": 1, "memory_gb": 8})
    dag = DAG()
    reqs = {}
    for k in range(8):
        dag.add_node(f"step{k}", lambda: _time.sleep(0.01))
        reqs[f"step{k}"] = {"cpu": 1, "memory_gb": 3} if k % 2 else {"gpu": 1, "memory_gb": 2}
    result = Executor(
        dag, backend="threads", max_workers=4, resource_pool=pool, requirements=reqs
    ).execute()
    assert result.ok
    report = result.report(tmp_path / "run.html", timeline=pool)
    page.set_content(report.read_text())  # a file:// navigation would leave loopback
    rows = page.eval_on_selector_all(
        "svg.resource-timeline g.resource-row",
        "els => els.map(g => [g.dataset.resource, g.dataset.capacity, "
        "g.querySelectorAll('rect.usage').length, !!g.querySelector('line.capacity')])",
    )
    assert [r[:2] for r in rows] == [["cpu", "2"], ["gpu", "1"], ["memory_gb", "8"]]
    assert all(r[2] > 0 and r[3] for r in rows)
    names = page.eval_on_selector_all(
        ".resource-row .resource-name", "e => e.map(x => x.textContent)"
    )
    assert names == ["cpu", "gpu", "memory_gb"]
    peak = page.locator(".resource-row[data-resource=gpu] .resource-peak").text_content()
    assert peak == "peak 1 (100%)"
    page.locator("svg.resource-timeline").scroll_into_view_if_needed()
    shot(page, "resource-timeline.png", full_page=False)


def test_platform_run_page_shows_the_resource_timeline_live(make_server, page, tmp_path):
    """A server with --resources cpu=3,memory=1000: left and right need cpu=2 each (so
    the shared pool runs them one after the other), finish needs memory=300. The run
    page draws one row per resource while the run is in progress and, without a reload,
    the finished run's rows with their capacity and peak."""
    from ui_helpers import SPECS, node

    server = make_server(resources={"cpu": 3, "memory": 1000})
    url = server.url
    needs = {"start": None, "left": {"cpu": 2}, "right": {"cpu": 2}, "finish": None}
    paths = {"start": "start", "left": "work", "right": "work", "finish": "finish"}
    for name, need in needs.items():
        body = {"name": name, "kind": "python", "path": f"ui_functions:{paths[name]}"}
        if need:
            body["resources"] = need
        assert httpx.post(f"{url}/register/function", json=body).status_code == 201
    spec = [dict(e) for e in SPECS["fan"]]
    spec[3] = node("finish", "", ["left", "right"])
    spec[3]["properties"]["resources"] = {"memory": 300}  # the spec node's own
    assert httpx.post(f"{url}/register/dag", json={"name": "fan", "dag": spec}).status_code == 201
    trigger = {"trigger_name": "fan", "type": "dag", "dags": ["fan"], "functions": ""}
    assert httpx.post(f"{url}/register/trigger", json=trigger).status_code == 201
    gate = tmp_path / "gate"
    run_id = httpx.post(f"{url}/run/fan", json={"gate": str(gate)}).json()["run_id"]
    page.goto(f"{url}/ui/runs/{run_id}")
    page.wait_for_selector("#resource-timeline g.resource-row[data-resource=cpu]")
    page.evaluate("window.__same_page = 3")
    live = page.locator(".resource-row[data-resource=cpu]")
    assert live.get_attribute("data-capacity") == "3"
    assert live.locator(".resource-peak").text_content() == "peak 2 (67%)"
    assert page.locator("#run-status").get_attribute("data-status") == "running"
    gate.write_text("open")
    page.wait_for_selector("#run-status[data-status=succeeded]")
    page.wait_for_selector("#resource-timeline g.resource-row[data-resource=memory]")
    assert page.evaluate("window.__same_page") == 3
    rows = page.eval_on_selector_all(
        "#resource-timeline g.resource-row",
        "els => els.map(g => [g.dataset.resource, g.dataset.capacity, g.dataset.peak, "
        "!!g.querySelector('line.capacity'), g.querySelectorAll('rect.usage').length])",
    )
    assert [r[:3] for r in rows] == [["cpu", "3", "2"], ["memory", "1000", "300"]]
    assert all(r[3] and r[4] > 0 for r in rows)
    holders = page.eval_on_selector_all(
        ".resource-row[data-resource=cpu] rect.usage title", "els => els.map(e => e.textContent)"
    )
    held = " ".join(t for t in holders if "2 of 3" in t)
    assert "left" in held and "right" in held
    assert not any("4 of 3" in t for t in holders)  # never both at once
    page.locator("#resource-timeline").scroll_into_view_if_needed()
    shot(page, "run-resource-timeline.png", full_page=False)
