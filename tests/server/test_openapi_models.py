"""The typed API (issue 15 item 6): every body a model in the OpenAPI document, the bearer
scheme declared, the wire unchanged, and the Client's typed results."""

from __future__ import annotations

import json
import tempfile
import warnings

import httpx
import pydantic_core
import pytest
from helpers import chain_spec, setup_chain
from jsonschema import Draft202012Validator

from dagforge import Client, ClientError
from dagforge.server import api_models as m
from dagforge.server.app import create_app
from dagforge.server.platform import Settings

METHODS = ("get", "post", "put", "delete", "patch")
NOT_JSON = {("get", "/metrics")}  # Prometheus text format
UNAUTHENTICATED = {("get", "/health"), ("get", "/ready")}  # probes for a load balancer


def _document(**settings):
    data_dir = tempfile.mkdtemp(prefix="dagforge-openapi-models-")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = create_app(Settings(data_dir=data_dir, **settings)).openapi()
    return doc, [str(w.message) for w in caught]


DOC, WARNINGS = _document()


def _operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _component(doc, ref):
    assert ref.startswith("#/components/schemas/"), ref
    name = ref.rsplit("/", 1)[1]
    assert name in doc["components"]["schemas"], f"{ref} names no component"
    return doc["components"]["schemas"][name]


def _typed(schema):
    """A schema that says what the body is (not ``{}``)."""
    return any(k in schema for k in ("type", "anyOf", "oneOf", "allOf", "properties", "$ref"))


def _model_schema(doc, schema, where):
    """The body is a named model: a ``$ref``, or an array of ``$ref``s; and the component
    it names is a typed schema."""
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    assert "$ref" in schema, f"{where}: not a model: {schema}"
    target = _component(doc, schema["$ref"])
    assert _typed(target), f"{where}: {schema['$ref']} is an untyped schema {target}"


def test_every_request_and_response_body_is_a_model():
    checked = 0
    for method, path, op in _operations(DOC):
        where = f"{method.upper()} {path}"
        body = op.get("requestBody")
        if body is not None:
            assert body["content"], where
            for media, content in body["content"].items():
                _model_schema(DOC, content.get("schema", {}), f"{where} request {media}")
                checked += 1
        ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert ok, f"{where} documents no 2xx response"
        for code, response in ok.items():
            content = response.get("content", {})
            if (method, path) in NOT_JSON:
                assert "application/json" not in content, where
                continue
            assert "application/json" in content, f"{where} {code}: no JSON body documented"
            _model_schema(DOC, content["application/json"].get("schema", {}), f"{where} {code}")
            checked += 1
    assert checked > 50  # every route of app.py, schedules, DAGit, observability


def test_the_registration_bodies_read_by_the_routes_are_documented():
    bodies = {
        ("post", "/register/function"): "FunctionRegistration",
        ("post", "/register/dag"): "WorkflowSpec",
        ("post", "/register/trigger"): "TriggerRegistration",
        ("post", "/register/schedule"): "ScheduleRegistration",
        ("post", "/run/{trigger}"): "RunArguments",
        ("put", "/config/weights"): "PriorityWeights",
        ("post", "/register/function/{function_name}"): "DagitFunctionUpload",
    }
    for (method, path), name in bodies.items():
        content = DOC["paths"][path][method]["requestBody"]["content"]
        (media,) = content
        assert content[media]["schema"] == {"$ref": f"#/components/schemas/{name}"}
    upload = DOC["paths"]["/register/function/{function_name}"]["post"]["requestBody"]
    assert list(upload["content"]) == ["multipart/form-data"]
    spec = DOC["components"]["schemas"]["WorkflowSpec"]
    assert {"name", "dag"} <= set(spec["properties"])
    trigger = DOC["components"]["schemas"]["TriggerRegistration"]
    assert set(trigger["required"]) == {"trigger_name", "type"}


def test_operation_ids_are_unique_and_fastapi_warns_of_nothing():
    ids = [op["operationId"] for _, _, op in _operations(DOC)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not [w for w in WARNINGS if "Duplicate Operation ID" in w], WARNINGS
    activation = DOC["paths"]["/view/activation/{activation_id}"]
    assert set(activation) >= {"get", "post"}


def test_the_bearer_scheme_is_declared_on_every_protected_operation():
    scheme = DOC["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for method, path, op in _operations(DOC):
        params = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        assert "authorization" not in params, f"{method} {path}: the header is the scheme's"
        if (method, path) in UNAUTHENTICATED:
            assert "security" not in op, path
        else:
            assert op.get("security") == [{"bearerAuth": []}], f"{method.upper()} {path}"
    token_doc, _ = _document(token="tok")
    assert token_doc["components"]["securitySchemes"] == DOC["components"]["securitySchemes"]


# -- the wire: real answers fit their documented schema, and are what they were -----------


def _validator(doc, schema):
    return Draft202012Validator({**schema, "components": doc["components"]})


def _check(doc, response, method, path):
    """``response`` (2xx, JSON) is valid against what the document says for ``path``."""
    op = doc["paths"][path][method]
    documented = op["responses"][str(response.status_code)]["content"]["application/json"]
    errors = list(_validator(doc, documented["schema"]).iter_errors(response.json()))
    assert not errors, (method, path, response.status_code, [e.message for e in errors[:3]])


@pytest.fixture
def served(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "typed")
    with httpx.Client(base_url=server.url, timeout=30) as h:
        doc = h.get("/openapi.json").json()
        yield server, h, doc


def test_real_answers_validate_against_the_document(served):
    _server, h, doc = served

    def call(method, url, path=None, **kwargs):
        r = h.request(method.upper(), url, **kwargs)
        assert 200 <= r.status_code < 300, (method, url, r.status_code, r.text)
        _check(doc, r, method, path or url)
        return r

    for fn in ("double", "add_one", "slow_count", "boom"):
        body = {"name": fn, "path": f"platform_functions:{fn}"}
        call("post", "/register/function", json=body)
    call("post", "/register/dag", json=chain_spec())
    boom = {"name": "bad", "dag": [{**chain_spec("x", ("boom",))["dag"][0]}]}
    call("post", "/register/dag", json=boom)
    trigger = {"trigger_name": "t", "type": "dag", "dags": ["chain"], "priority": "gold"}
    call("post", "/register/trigger", json=trigger)
    call("post", "/register/trigger", json={"trigger_name": "b", "type": "dag", "dags": ["bad"]})
    for table in ("functions", "dags", "triggers"):
        call("get", f"/{table}?limit=2", f"/{table}")
    call("get", "/functions/double", "/functions/{name}")
    call("get", "/dags/chain", "/dags/{name}")
    call("get", "/triggers/t", "/triggers/{name}")

    accepted = call("post", "/run/t", "/run/{trigger}", json={"x": 2}).json()
    done = call("post", "/run/t?wait=true", "/run/{trigger}", json={"x": 3}).json()
    assert done["status"] == "succeeded", done
    failed = call("post", "/run/b?wait=true", "/run/{trigger}", json={}).json()
    assert failed["status"] == "failed", failed
    rid = done["run_id"]
    call("get", f"/runs/{rid}", "/runs/{run_id}")
    call("get", f"/runs/{accepted['run_id']}", "/runs/{run_id}")
    call("get", "/runs?limit=2", "/runs")
    call("get", f"/runs/{rid}/outputs", "/runs/{run_id}/outputs")
    call("get", f"/runs/{rid}/profile", "/runs/{run_id}/profile")
    call("get", f"/runs/{rid}/trace", "/runs/{run_id}/trace")
    retried = call("post", f"/runs/{failed['run_id']}/retry", "/runs/{run_id}/retry").json()
    assert retried["attempt"] == 2
    call("get", "/config/weights")
    call("put", "/config/weights", json={"gold": 5, "silver": 2, "bronze": 1})

    call("get", "/list/actions")
    call("get", "/view/functions")
    call("get", "/view/triggers")
    call("get", "/view/trigger/t", "/view/trigger/{trigger_name}")
    call("get", "/view/trigger/nope", "/view/trigger/{trigger_name}")
    call("get", "/view/dags")
    call("get", "/view/dag/chain", "/view/dag/{dag_name}")
    call("get", f"/view/{rid}", "/view/{dag_id}")
    call("get", "/view/unknown-run", "/view/{dag_id}")
    for method in ("get", "post"):
        call(method, f"/view/activation/{rid}:double", "/view/activation/{activation_id}")
    call("get", "/run/t", "/run/{trigger_name}", content=json.dumps({"x": 1}))
    call("get", "/run/nope", "/run/{trigger_name}")
    call("get", "/run/b", "/run/{trigger_name}")
    for method in ("get", "post"):
        call(method, "/run/dag/chain/{}", "/run/dag/{dag_name}/{param_json}")
        call(method, '/run/action/double/{"x": 4}', "/run/action/{action_name}/{param_json}")
    upload = call(
        "post",
        "/register/function/up",
        "/register/function/{function_name}",
        data={"url": "http://127.0.0.1:9/up"},
        files={"script": ("up.py", b"print(1)")},
    )
    assert upload.json() == {"message": "success"}  # no "reason" key invented
    refused = call("post", "/register/function/up2", "/register/function/{function_name}")
    assert refused.json()["message"] == "fail" and refused.json()["reason"]

    schedule = {"name": "s", "trigger": "t", "cron": "0 0 1 1 *"}
    call("post", "/register/schedule", json=schedule)
    call("get", "/schedules")
    call("get", "/schedules/s", "/schedules/{name}")
    call("delete", "/schedules/s", "/schedules/{name}")
    for table, name in (("triggers", "b"), ("dags", "bad"), ("functions", "boom")):
        call("delete", f"/{table}/{name}", f"/{table}/{{name}}")


def test_models_send_the_keys_the_routes_built_in_their_order(served):
    """No key invented from a model's defaults, none dropped, the order unchanged."""
    server, h, _ = served
    with Client(server.url) as c:
        setup_chain(c)
    accepted = h.post("/run/t", json={"x": 1}).json()
    assert list(accepted) == ["run_id", "status", "priority", "accepted"]  # no "detail"
    done = h.post("/run/t", params={"wait": "true"}, json={"x": 2})
    assert done.status_code == 200
    run = h.get(f"/runs/{done.json()['run_id']}")
    head = ["id", "trigger", "dag", "priority", "status", "accepted", "started", "finished"]
    assert list(run.json()) == [*head, "error", "run_id", "nodes", "attempt", "history"]
    node = run.json()["nodes"]["double"]
    assert list(node) == ["status", "start", "end", "worker", "reason", "restored"]
    # the bytes are those FastAPI wrote for the plain dict before the routes had models
    # (pydantic-core's JSON of the value: compact, its own float format)
    assert run.content == pydantic_core.to_json(run.json())
    summaries = h.get("/runs").json()
    assert list(summaries[0]) == [*head, "error", "schedule", "run_id"]
    function = h.get("/functions/double").json()
    assert function == {
        "name": "double",
        "path": "platform_functions:double",
        "kind": "python",
        "type": "cpu",
    }  # "url" is a field of the model, but the record has none
    # a registration's own keys are sent back as before, floats included (measured on the
    # routes before they had models: b'{"name":"tiny",...,"threshold":0.000041,...}')
    body = {"name": "tiny", "path": "platform_functions:double", "threshold": 4.1e-05, "n": 5}
    h.post("/register/function", json=body)
    expected = b'{"name":"tiny","path":"platform_functions:double","threshold":0.000041,"n":5,'
    assert h.get("/functions/tiny").content == expected + b'"kind":"python","type":"cpu"}'
    cancel = h.post(f"/runs/{done.json()['run_id']}/cancel")
    assert cancel.status_code == 409  # finished: the error body is not a model's
    assert list(cancel.json()) == ["detail"]


def test_the_token_semantics_stay_those_of_the_raw_header_check(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "tok", token="s3cret")
    with httpx.Client(base_url=server.url) as h:
        for path in ("/runs", "/view/dags", "/functions"):
            assert h.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
            for header in ("bearer s3cret", "Bearer  s3cret", "Basic s3cret", "Bearer s3cre"):
                r = h.get(path, headers={"Authorization": header})
                assert r.status_code == 401, (path, header)  # exact bytes, as before
                assert r.headers["www-authenticate"] == "Bearer"
            assert h.get(path).status_code == 401
        assert h.get("/health").status_code == 200


# -- the Client's typed results -----------------------------------------------------------


def test_client_results_are_typed_and_still_read_like_the_json(served):
    server, h, _ = served
    with Client(server.url) as c:
        setup_chain(c)
        record = c.get_function("double")
        assert isinstance(record, m.FunctionRecord)
        assert record.name == "double" and record.kind == "python" and record.url is None
        assert "url" not in record and record.get("url", "none") == "none"
        assert record == h.get("/functions/double").json() == record.to_dict()
        assert dict(record) == record.to_dict() and {**record} == record.to_dict()

        accepted = c.trigger("t", {"x": 1})
        assert isinstance(accepted, m.RunAccepted) and accepted.status == "queued"
        done = c.trigger("t", {"x": 2}, wait=True)
        assert isinstance(done, m.RunDetail)
        assert done.status == "succeeded" and done.outputs == {"slow_count": {"x": 6}}
        assert done["outputs"] == done.outputs
        assert isinstance(done.nodes["double"], m.NodeState)
        assert done.nodes["double"].status == done["nodes"]["double"]["status"] == "succeeded"

        run = c.wait(accepted.run_id, timeout=30)
        assert isinstance(run, m.RunDetail) and run.attempt == 1 and run.history == []
        assert run.outputs == {"slow_count": {"x": 4}}
        raw = h.get(f"/runs/{accepted.run_id}").json()
        assert {k: v for k, v in run.to_dict().items() if k != "outputs"} == raw

        page = c.runs_page(limit=1)
        assert isinstance(page, m.Page) and isinstance(page.items[0], m.RunSummary)
        assert page.next_cursor is not None
        items, cursor = page  # still a tuple
        assert cursor == page.next_cursor and items == page.items
        assert page.items[0].schedule is None and page.items[0]["schedule"] is None
        second = c.runs_page(limit=1, cursor=cursor).items[0]
        assert second.accepted <= page.items[0].accepted

        dags = c.registry_page("dags", limit=5)
        assert dags == ([chain_spec()], None)
        assert isinstance(dags.items[0], m.DagRecord) and dags.items[0].name == "chain"

        profile = c.profile(run.run_id)
        trace = c.trace(run.run_id)
        assert isinstance(profile, m.ProfileDocument) and isinstance(trace, m.TraceDocument)
        assert profile.dag_structure["nodes"] == ["double", "add_one", "slow_count"]
        assert any(e.get("ph") == "X" for e in trace.traceEvents)

        sched = c.register_schedule({"name": "nightly", "trigger": "t", "cron": "0 3 * * *"})
        assert isinstance(sched, m.Schedule) and sched.catchup == "none" and sched.next_due
        assert [s.name for s in c.list_schedules()] == ["nightly"]
        assert c.get_schedule("nightly").cron == "0 3 * * *"
        assert c.delete_schedule("nightly") == m.Deleted(deleted="nightly")
        assert c.delete_trigger("t").deleted == "t"


def test_an_answer_that_is_not_the_model_is_a_client_error_naming_it():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/runs":
            return httpx.Response(200, json={"not": "a list"})
        return httpx.Response(200, json={"id": "r1", "status": "queued"})  # no trigger...

    c = Client("http://typed.invalid")
    c._http = httpx.Client(base_url=c.url, transport=httpx.MockTransport(handler))
    with c:
        with pytest.raises(
            ClientError, match=r"GET /runs/r1: .* not a RunDetail .*: trigger: Field required"
        ):
            c.run("r1")
        with pytest.raises(ClientError, match=r"GET /runs: .* not a list of RunSummary"):
            c.runs()


def test_a_waited_run_past_its_timeout_is_the_accepted_run_still_running(served):
    server, _, _ = served
    with Client(server.url) as c:
        setup_chain(c)
        c.register_function("gated", path="platform_functions:gated")
        c.register_dag(chain_spec("gate", ("gated",)))
        c.register_trigger({"trigger_name": "g", "type": "dag", "dags": ["gate"]})
        gate = f"{tempfile.mkdtemp(prefix='dagforge-gate-')}/open"
        answer = c.trigger("g", {"gate": gate}, wait=True, timeout=0.2)
        assert isinstance(answer, m.RunAccepted), answer
        assert answer.status == "running" and "still running" in (answer.detail or "")
        open(gate, "w").close()
        assert c.wait(answer.run_id, timeout=30).status == "succeeded"


def test_the_client_reads_a_failed_nodes_logs_typed(served):
    server, _, _ = served
    with Client(server.url) as c:
        c.register_function("boom", path="platform_functions:boom")
        c.register_dag(chain_spec("bad", ("boom",)))
        c.register_trigger({"trigger_name": "b", "type": "dag", "dags": ["bad"]})
        run = c.trigger("b", {"x": 7}, wait=True)
        assert isinstance(run, m.RunDetail) and run.status == "failed"
        logs = c.node_logs(run.run_id, "boom")
        assert isinstance(logs, m.NodeLogs)
        assert logs.status == "failed" and "boom on 7" in (logs.error or "")
        assert "ValueError" in (logs.traceback or "")
        assert all(isinstance(r, m.NodeLogRecord) for r in logs.records)
        with pytest.raises(ClientError) as missing:
            c.node_logs(run.run_id, "no-such-node")
        assert missing.value.status_code == 404


def test_the_node_logs_route_answers_the_clients_model():
    """One model for both sides: the route's response schema is the Client's NodeLogs."""
    op = DOC["paths"]["/runs/{run_id}/nodes/{node}/logs"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/NodeLogs"}
    props = DOC["components"]["schemas"]["NodeLogs"]["properties"]
    assert list(props) == list(m.NodeLogs.model_fields)


def test_error_answers_are_documented_and_fit_the_error_model(served, make_server, tmp_path):
    for method, path, op in _operations(DOC):
        for code, response in op["responses"].items():
            if code.startswith("2") or "application/json" not in response.get("content", {}):
                continue
            schema = response["content"]["application/json"]["schema"]
            expected = "Ready" if path == "/ready" else "ApiError"
            assert schema == {"$ref": f"#/components/schemas/{expected}"}, (method, path, code)
        if op.get("security"):
            assert "401" in op["responses"], (method, path)

    def fits(doc, response, method, path):
        documented = doc["paths"][path][method]["responses"][str(response.status_code)]
        schema = documented["content"]["application/json"]["schema"]
        errors = list(_validator(doc, schema).iter_errors(response.json()))
        assert not errors, (path, response.status_code, response.text, errors[:1])

    _, h, doc = served
    fits(doc, h.get("/runs/nope"), "get", "/runs/{run_id}")
    fits(doc, h.get("/functions/nope"), "get", "/functions/{name}")
    fits(doc, h.get("/runs?limit=0"), "get", "/runs")  # FastAPI's list of errors
    bad = h.post("/register/dag", json={"name": "x", "dag": [{"node_id": "a"}]})
    assert bad.status_code == 422 and bad.json()["detail"]["errors"][0]["path"]
    fits(doc, bad, "post", "/register/dag")  # the platform's {message, errors}
    fits(doc, h.post("/run/nope", json={}), "post", "/run/{trigger}")
    with Client(str(h.base_url)) as c:
        setup_chain(c)
        done = c.trigger("t", {"x": 1}, wait=True)
    fits(doc, h.post(f"/runs/{done.run_id}/cancel"), "post", "/runs/{run_id}/cancel")
    fits(doc, h.post(f"/runs/{done.run_id}/retry"), "post", "/runs/{run_id}/retry")
    token = make_server(data_dir=tmp_path / "tok-errors", token="s3cret")
    refused = httpx.get(f"{token.url}/runs")
    assert refused.status_code == 401
    fits(doc, refused, "get", "/runs")
