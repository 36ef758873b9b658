"""Fine-grained platform behaviour through FastAPI's TestClient (plus one real server)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from helpers import setup_chain

from dagforge import Client, ClientError
from dagforge.errors import RegistryError
from dagforge.server.app import create_app
from dagforge.server.platform import Platform, Settings

ALLOWED = ("platform_functions",)
TOKEN = {"Authorization": "Bearer tok"}


def function_trigger(fn: str, name: str | None = None, priority: str = "gold") -> dict:
    return {
        "trigger_name": name or fn,
        "type": "function",
        "priority": priority,
        "dags": "",
        "functions": [fn],
    }


@pytest.fixture
def api(tmp_path):
    """A TestClient over a fresh platform (lifespan runs: dispatchers start and stop)."""

    def make(**kwargs):
        kwargs.setdefault("data_dir", tmp_path / "data")
        kwargs.setdefault("allow_modules", ALLOWED)
        return TestClient(create_app(Settings(**kwargs)))

    return make


def register(client: TestClient, fn: str, headers=None, **trigger) -> None:
    r = client.post(
        "/register/function",
        json={"name": fn, "kind": "python", "path": f"platform_functions:{fn}"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = client.post("/register/trigger", json=function_trigger(fn, **trigger), headers=headers)
    assert r.status_code == 201, r.text


def test_wait_true_returns_every_fast_run_finished(api):
    # a waiter is registered before the run is queued: a run finishing before the
    # handler resumes is still reported (no 500, no lost wake-up)
    with api() as c:
        register(c, "add_one")
        for k in range(30):
            r = c.post("/run/add_one?wait=true", json={"x": k})
            assert r.status_code == 200, r.text
            assert r.json()["outputs"] == {"add_one": {"x": k + 1}}


def test_a_wait_that_times_out_does_not_change_the_run(api, tmp_path):
    gate = tmp_path / "gate"
    with api() as c:
        register(c, "gated")
        r = c.post("/run/gated?wait=true&timeout=0.05", json={"x": 5, "gate": str(gate)})
        assert r.status_code == 202 and r.json()["status"] == "running"
        run_id = r.json()["run_id"]
        gate.touch()
        for _ in range(600):
            record = c.get(f"/runs/{run_id}").json()
            if record["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert record["status"] == "succeeded"  # the abandoned wait left no trace
        assert "outputs" not in record  # outputs come only from /outputs
        assert c.get(f"/runs/{run_id}/outputs").json() == {"gated": {"x": 5}}
        assert c.app.state.platform._waiters == {}


def test_a_failing_function_fails_its_run_only(api, tmp_path):
    with api(data_dir=tmp_path / "d") as c:
        register(c, "boom")
        register(c, "add_one")
        r = c.post("/run/boom?wait=true", json={"x": 3})
        assert r.status_code == 200
        failed = r.json()
        assert failed["status"] == "failed"
        assert "boom" in failed["error"] and "ValueError" in failed["error"]
        assert failed["nodes"]["boom"]["status"] == "failed"
        assert c.get(f"/runs/{failed['run_id']}/outputs").status_code == 200
        ok = c.post("/run/add_one?wait=true", json={"x": 1}).json()
        assert ok["status"] == "succeeded"
    log = [json.loads(x) for x in (tmp_path / "d" / "requests.jsonl").read_text().splitlines()]
    assert [e["status"] for e in log] == ["failed", "succeeded"]


MUTATING = [
    (
        "post",
        "/register/function",
        {"name": "f", "kind": "python", "path": "platform_functions:double"},
    ),
    (
        "post",
        "/register/function/",
        {"name": "f", "kind": "python", "path": "platform_functions:double"},
    ),
    ("post", "/register/dag", {"name": "d", "dag": []}),
    ("post", "/register/trigger", function_trigger("double")),
    ("post", "/register/trigger/", function_trigger("double")),
    ("delete", "/functions/f", None),
    ("delete", "/dags/d", None),
    ("delete", "/triggers/t", None),
    ("post", "/run/t", {}),
    ("post", "/run/t/", {}),
    ("put", "/config/weights", {"gold": 4}),
]


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
def test_every_mutating_endpoint_needs_the_token(api, method, path, body):
    with api(token="tok") as c:
        kwargs = {"json": body} if body is not None else {}
        assert getattr(c, method)(path, **kwargs).status_code == 401
        bad = {"Authorization": "Bearer wrong"}
        assert getattr(c, method)(path, headers=bad, **kwargs).status_code == 401
        assert getattr(c, method)(path, headers=TOKEN, **kwargs).status_code != 401
        for read in ("/functions", "/dags", "/triggers", "/runs", "/config/weights", "/"):
            assert c.get(read).status_code == 401  # with a token, reads need it too
            assert c.get(read, headers=TOKEN).status_code == 200
    with api(token="tok", public_reads=True) as c:
        assert getattr(c, method)(path, **kwargs).status_code == 401
        for read in ("/functions", "/dags", "/triggers", "/runs", "/config/weights", "/"):
            assert c.get(read).status_code == 200  # --public-reads opens reads only


def test_chunked_bodies_over_the_limit_get_413(api):
    with api(max_body=1000) as c:

        def chunks():
            for _ in range(50):
                yield b" " * 100

        r = c.post("/register/dag", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "1000" in r.text

        def small():
            yield json.dumps(function_trigger("double")).encode()

        r = c.post(
            "/register/trigger", content=small(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("path", "body", "culprit"),
    [
        ("/register/function", {"name": "a/b", "kind": "http", "url": "http://x"}, "a/b"),
        ("/register/function", {"name": "f", "kind": "http", "url": "ftp://x"}, "url"),
        ("/register/function", {"name": "f", "kind": "lambda"}, "kind"),
        (
            "/register/function",
            {"name": "f", "path": "platform_functions:double", "type": "tpu"},
            "type",
        ),
        ("/register/function", {"name": "f", "path": "nocolon"}, "package.module:function"),
        ("/register/trigger", {**function_trigger("f"), "priority": "platinum"}, "priority"),
        ("/register/trigger", {**function_trigger("f"), "type": "cron"}, "type"),
        ("/register/trigger", {**function_trigger("f"), "functions": ""}, "functions"),
        ("/register/trigger", {**function_trigger("f"), "functions": [1]}, "functions"),
        ("/register/trigger", {**function_trigger("f"), "trigger_name": ".hidden"}, ".hidden"),
        (
            "/register/dag",
            {"name": "d", "dag": [{"node_id": "a", "properties": {"primitive": "loop"}}]},
            "dag[0]",
        ),
    ],
)
def test_bad_registrations_get_422_naming_the_culprit(api, path, body, culprit):
    with api() as c:
        r = c.post(path, json=body)
        assert r.status_code == 422, r.text
        assert culprit in r.text


def test_a_function_outside_the_servers_allowed_modules_fails_only_runs_using_it(tmp_path):
    data = tmp_path / "data"
    with TestClient(
        create_app(Settings(data_dir=data, allow_modules=("platform_functions", "json")))
    ) as c:
        register(c, "add_one")
        c.post("/register/function", json={"name": "dumps", "path": "json:dumps"})
        c.post("/register/trigger", json=function_trigger("dumps"))
    # the operator restarts with a narrower allow list
    with TestClient(create_app(Settings(data_dir=data, allow_modules=ALLOWED))) as c:
        assert c.post("/run/add_one?wait=true", json={"x": 1}).json()["status"] == "succeeded"
        refused = c.post("/run/dumps?wait=true", json={}).json()
        assert refused["status"] == "failed" and "not in the allowed packages" in refused["error"]


def test_pickle_needs_the_operators_opt_in(tmp_path):
    with pytest.raises(RegistryError, match="allow-pickle"):
        Platform(Settings(data_dir=tmp_path, serializer="pickle"))
    with pytest.raises(RegistryError, match="unknown serializer"):
        Platform(Settings(data_dir=tmp_path, serializer="no-such-format"))
    Platform(Settings(data_dir=tmp_path, serializer="pickle", allow_pickle=True)).db.close()


def test_weights_are_read_and_changed_over_http(api):
    with api() as c:
        assert c.get("/config/weights").json() == {"gold": 3, "silver": 2, "bronze": 1}
        assert c.put("/config/weights", json={"bronze": 2}).json()["bronze"] == 2
        assert c.put("/config/weights", json={"gold": 0}).status_code == 422
        assert c.get("/config/weights").json() == {"gold": 3, "silver": 2, "bronze": 2}


def test_client_errors_carry_status_and_detail(make_server):
    server = make_server()
    with Client(server.url) as c:
        with pytest.raises(ClientError) as err:
            c.register_dag(
                {"name": "x", "dag": [{"node_id": "a", "properties": {"next": "ghost"}}]}
            )
        assert err.value.status_code == 422
        # every problem at once, in document order (the spec layer's contract)
        assert [e["path"] for e in err.value.detail["errors"]] == [
            "dag[0].properties.primitive",
            "dag[0].properties.next",
        ]
        with pytest.raises(ClientError) as err:
            c.trigger("no such trigger", {})  # quoted in the URL, named in the 404
        assert err.value.status_code == 404 and "no such trigger" in str(err.value)
        setup_chain(c)
        accepted = c.trigger("t", {"x": 2})
        assert c.wait(accepted["run_id"], timeout=30)["outputs"] == {"slow_count": {"x": 6}}
    with pytest.raises(ClientError, match="cannot reach"):
        Client("http://127.0.0.1:9", timeout=2).list_functions()


def test_a_dispatcher_survives_a_database_that_cannot_be_read_while_it_claims(tmp_path):
    from dagforge.errors import StorageFault

    plat = Platform(Settings(data_dir=tmp_path / "d", allow_modules=ALLOWED, workers=1))
    real_get, faults = plat.queues.get, []

    def flaky_get(timeout=None):
        if len(faults) < 2:  # the leased queues read the journal here; say it is away
            faults.append(1)
            raise StorageFault("journal error: connection refused")
        return real_get(timeout)

    plat.queues.get = flaky_get
    plat.start()
    try:
        plat.register_function({"name": "double", "path": "platform_functions:double"})
        plat.register_trigger(function_trigger("double"))
        waiter = plat.subscribe(plat.accept("double", {"x": 4})["run_id"])
        record = waiter.result(timeout=30)  # the one dispatcher lived through both faults
        assert record["status"] == "succeeded" and record["outputs"] == {"double": {"x": 8}}
        assert len(faults) == 2
    finally:
        plat.stop()
