"""/health, /ready, /metrics, node logs, the access log and logging setup."""

from __future__ import annotations

import io
import json
import logging
import time

import httpx
import pytest
from ui_helpers import TOKEN, register

from dagforge.server.observability import JsonFormatter, setup_logging, startup_line
from dagforge.server.platform import Settings


def _wait(url, run_id, headers=None, bound=200):
    for _ in range(bound):
        record = httpx.get(f"{url}/runs/{run_id}", headers=headers or {}).json()
        if record["status"] not in ("queued", "running"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_health_ready_metrics_and_logs(make_server):
    server = make_server()
    url = server.url
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{url}/ready").json() == {"status": "ready", "journal": "ok", "store": "ok"}
    register(url)
    ok = httpx.post(f"{url}/run/fan", json={"x": 2}).json()["run_id"]
    bad = httpx.post(f"{url}/run/broken", json={"x": 7}).json()["run_id"]
    assert _wait(url, ok)["status"] == "succeeded"
    assert _wait(url, bad)["status"] == "failed"

    logs = httpx.get(f"{url}/runs/{bad}/nodes/explode/logs").json()
    assert logs["status"] == "failed"
    assert "ValueError: explode refused 7" in logs["traceback"]
    assert logs["stdout"] == "about to explode 7\n"
    assert logs["stderr"] == "stderr line\n"
    assert [(r["level"], r["message"]) for r in logs["records"]] == [("ERROR", "explode sees 7")]
    start = httpx.get(f"{url}/runs/{ok}/nodes/start/logs").json()
    assert start["stdout"] == "starting with 2\n" and start["status"] == "succeeded"
    assert httpx.get(f"{url}/runs/{ok}/nodes/nope/logs").status_code == 404
    assert httpx.get(f"{url}/runs/nope/nodes/start/logs").status_code == 404

    text = httpx.get(f"{url}/metrics").text
    assert 'dagforge_runs{class="gold",status="succeeded"} 1.0' in text
    assert 'dagforge_runs{class="gold",status="failed"} 1.0' in text
    assert 'dagforge_queue_depth{class="bronze"} 0.0' in text
    assert "dagforge_runs_in_flight 0.0" in text
    # fan has 4 nodes, broken 2 (one failed): every attempt is in the histogram
    assert 'dagforge_node_duration_seconds_count{status="succeeded"} 5.0' in text
    assert 'dagforge_node_duration_seconds_count{status="failed"} 1.0' in text
    assert "dagforge_store_errors_total 0.0" in text


def test_ready_names_a_broken_journal(make_server):
    server = make_server()
    server.app.state.platform.db._conn.close()  # the journal goes away under the server
    r = httpx.get(f"{server.url}/ready")
    assert r.status_code == 503
    assert r.json()["journal"].startswith("unreachable") and r.json()["store"] == "ok"
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_token_guards_metrics_and_logs(make_server):
    server = make_server(token=TOKEN)
    url = server.url
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/health").status_code == 200  # probes need no token
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/metrics", headers=auth).status_code == 200
    register(url, TOKEN)
    run = httpx.post(f"{url}/run/fan", json={"x": 1}, headers=auth).json()["run_id"]
    _wait(url, run, auth)
    assert httpx.get(f"{url}/runs/{run}/nodes/start/logs").status_code == 401
    assert httpx.get(f"{url}/runs/{run}/nodes/start/logs", headers=auth).status_code == 200


def test_access_log_one_line_per_request(make_server, caplog):
    server = make_server()
    with caplog.at_level(logging.INFO, logger="dagforge.server.access"):
        httpx.get(f"{server.url}/health")
        httpx.get(f"{server.url}/nope")
        for _ in range(100):  # the line is written once the response has been sent
            lines = [
                r
                for r in caplog.records
                if r.name == "dagforge.server.access" and r.path in ("/health", "/nope")
            ]
            if len(lines) >= 2:
                break
            time.sleep(0.02)
    assert [(r.method, r.path, r.status) for r in lines] == [
        ("GET", "/health", 200),
        ("GET", "/nope", 404),
    ]
    assert '"GET /health" 200' in lines[0].getMessage()


def test_setup_logging_json_and_text():
    stream = io.StringIO()
    setup_logging("json", stream=stream)
    try:
        logging.getLogger("dagforge.server").info("hello %s", "there", extra={"run_id": "r1"})
        entry = json.loads(stream.getvalue().strip())
        assert entry["message"] == "hello there" and entry["run_id"] == "r1"
        assert entry["level"] == "INFO" and entry["logger"] == "dagforge.server"
        setup_logging("text", stream=stream)  # replaces, never doubles
        ours = [
            h for h in logging.getLogger("dagforge").handlers if hasattr(h, "_dagforge_handler")
        ]
        assert len(ours) == 1
    finally:
        root = logging.getLogger("dagforge")
        for h in list(root.handlers):
            if hasattr(h, "_dagforge_handler"):
                root.removeHandler(h)
        root.propagate = True
        root.setLevel(logging.NOTSET)
    with pytest.raises(ValueError, match="--log-format"):
        setup_logging("xml")
    with pytest.raises(ValueError, match="--log-level"):
        setup_logging("text", level="LOUD")
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


def test_startup_line_names_everything(tmp_path):
    line = startup_line(Settings(data_dir=tmp_path, token="t"), "http://127.0.0.1:5001")
    for part in ("http://127.0.0.1:5001", f"data_dir={tmp_path}", "backend=threads", "auth=token"):
        assert part in line
    assert "auth=none (open)" in startup_line(Settings(data_dir=tmp_path), "http://h:1")


def test_engine_logs_runs_at_debug(caplog):
    from dagforge import DAG
    from dagforge.execution.executor import Executor

    dag = DAG()
    dag.add_node("only", lambda: 1)
    with caplog.at_level(logging.DEBUG, logger="dagforge.execution"):
        Executor(dag).execute()
    lines = [r.getMessage() for r in caplog.records if r.name == "dagforge.execution"]
    assert lines == ["run of 1 node(s) on inline starts", lines[1]]
    assert lines[1].startswith("run ended succeeded: 1 succeeded")
