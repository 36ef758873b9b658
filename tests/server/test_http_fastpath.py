"""The fast path of ``POST /run/{trigger}?wait=true`` (issue 10, performance) answers
exactly as FastAPI's own handler does: every request below is sent once through the
fast path and once through the standard handler (the route's ``__wrapped__``), and the
answers must match byte for byte (run ids and times aside); regular requests must not
reach FastAPI's parameter machinery, everything else must."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import fastapi.routing
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dagforge.errors import StorageFault
from dagforge.server.app import _fast_query, create_app
from dagforge.server.platform import Settings

TOKEN = "s3cret-token"
GOOD = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}
FUNCTIONS = ("double", "slow_count")


@pytest.fixture
def client(tmp_path):
    app = create_app(
        Settings(data_dir=tmp_path / "data", allow_modules=("platform_functions",), token=TOKEN)
    )
    with TestClient(app) as c:
        for fn in FUNCTIONS:
            body = {"name": fn, "kind": "python", "path": f"platform_functions:{fn}"}
            assert c.post("/register/function", json=body, headers=GOOD).status_code == 201
            trigger = {
                "trigger_name": fn,
                "type": "function",
                "priority": "gold",
                "dags": "",
                "functions": [fn],
            }
            assert c.post("/register/trigger", json=trigger, headers=GOOD).status_code == 201
        yield c


def _route(app) -> APIRoute:
    return next(
        r
        for r in app.router.routes
        if isinstance(r, APIRoute) and r.path == "/run/{trigger}" and "POST" in r.methods
    )


@contextmanager
def standard(app):
    """The run route served by FastAPI's own handler, as before the fast path."""
    route = _route(app)
    fast = route.app
    route.app = fast.__wrapped__
    try:
        yield
    finally:
        route.app = fast


@pytest.fixture
def fastapi_calls(monkeypatch):
    """How many times FastAPI resolved a route's parameters."""
    calls = []
    real = fastapi.routing.solve_dependencies

    async def counting(*args, **kwargs):
        calls.append(kwargs["dependant"].path)
        return await real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


_VOLATILE = re.compile(rb"[0-9a-f]{32}|-?[0-9]+\.[0-9]+(?:e-?[0-9]+)?")


def _answer(r) -> tuple:
    """Status, headers and body with run ids and times masked (their lengths vary too,
    so content-length is left out; the masked bodies are compared byte for byte)."""
    headers = [(k, v) for k, v in r.headers.multi_items() if k != "content-length"]
    return r.status_code, headers, _VOLATILE.sub(b"#", r.content)


def both(c, calls, path, *, content=None, headers=None) -> tuple:
    """The answers of the fast path and of FastAPI's handler to the same request, and
    how many times each resolved parameters with FastAPI (``calls``: ``fastapi_calls``)."""
    before = len(calls)
    fast = c.post(path, content=content, headers=headers)
    middle = len(calls)
    with standard(c.app):
        slow = c.post(path, content=content, headers=headers)
    return _answer(fast), _answer(slow), (middle - before, len(calls) - middle)


REGULAR = [
    ("/run/double?wait=true", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=1", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true", None, GOOD),  # no body: no arguments
    ("/run/double?wait=true", b"", {**GOOD, **JSON}),
    ("/run/double?wait=true", b"null", {**GOOD, **JSON}),
    ("/run/double?wait=true", b"{}", {**GOOD, **JSON}),
    ("/run/double?wait=true", b'{"x": "no int"}', {**GOOD, **JSON}),  # the run fails
    ("/run/double?wait=true&timeout=7.5", b'{"x": 3}', {**GOOD, **JSON}),
    ("/run/double?timeout=3600&wait=true", b'{"x": 3}', {**GOOD, **JSON}),
    ("/run/nope?wait=true", b'{"x": 1}', {**GOOD, **JSON}),  # 404
    ("/run/double?wait=true", b'{"x": NaN}', {**GOOD, **JSON}),  # 422 naming the path
    ("/run/double?wait=true", b'{"a": ' * 70 + b"1" + b"}" * 70, {**GOOD, **JSON}),  # deep
    ("/run/slow_count?wait=true&timeout=0.05", b'{"delay": 0.5}', {**GOOD, **JSON}),  # 202
    (
        "/run/double?wait=true",
        b'{"x": 5}',
        [("authorization", f"Bearer {TOKEN}"), ("authorization", "Bearer wrong"), *JSON.items()],
    ),
]

IRREGULAR = [
    ("/run/double", b'{"x": 2}', {**GOOD, **JSON}),  # no wait: 202 accepted
    ("/run/double?wait=false", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&wait=false", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=yes", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&other=1", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=0", b'{"x": 2}', {**GOOD, **JSON}),  # 422
    ("/run/double?wait=true&timeout=3601", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=-1", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=abc", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=1e1", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=1_0", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true&timeout=nan", b'{"x": 2}', {**GOOD, **JSON}),
    ("/run/double?wait=true", b'{"x": 2}', JSON),  # no token: 401
    ("/run/double?wait=true", b'{"x": 2}', {"Authorization": "Bearer wrong", **JSON}),
    ("/run/double?wait=true", b'{"x": 2}', [("authorization", b"Bearer \xff\xfe"), *JSON.items()]),
    ("/run/double?wait=true", b"[1, 2]", {**GOOD, **JSON}),  # not an object: 422
    ("/run/double?wait=true", b'"text"', {**GOOD, **JSON}),
    ("/run/double?wait=true", b"7", {**GOOD, **JSON}),
    ("/run/double?wait=true", b'{"x": 2', {**GOOD, **JSON}),  # bad JSON: 422 with position
    ("/run/double?wait=true", b"[" * 5000 + b"]" * 5000, {**GOOD, **JSON}),  # too deep to parse
    ("/run/double?wait=true", b'{"x": 2}', GOOD),  # no content-type: 422
    ("/run/double?wait=true", b'{"x": 2}', {**GOOD, "content-type": "text/plain"}),
    ("/run/double?wait=true", b'{"x": 2}', {**GOOD, "content-type": "application/json; v=1"}),
    ("/run/double?wait=true", b'{"x": 2}', {**GOOD, "content-type": "application/vnd.x+json"}),
    ("/run/double?wait=true", b"\xff\xfe", {**GOOD, **JSON}),  # not UTF-8
]


@pytest.mark.parametrize(("path", "content", "headers"), REGULAR)
def test_regular_requests_take_the_fast_path_with_the_handlers_answer(
    client, fastapi_calls, path, content, headers
):
    fast, slow, made = both(client, fastapi_calls, path, content=content, headers=headers)
    assert fast == slow
    assert made == (0, 1)  # the fast request did not go through FastAPI's parameters


@pytest.mark.parametrize(("path", "content", "headers"), IRREGULAR)
def test_other_requests_get_fastapis_own_answer(client, fastapi_calls, path, content, headers):
    fast, slow, made = both(client, fastapi_calls, path, content=content, headers=headers)
    assert fast == slow
    assert made[0] == made[1]  # both went to FastAPI's handler (bad JSON fails before it)


def test_the_fast_answer_is_the_finished_run(client):
    r = client.post("/run/double?wait=true", json={"x": 21}, headers=GOOD)
    assert r.status_code == 200 and r.json()["outputs"] == {"double": {"x": 42}}
    assert r.headers["content-type"] == "application/json"
    assert client.get(f"/runs/{r.json()['run_id']}", headers=GOOD).json()["status"] == "succeeded"


def broken(*_a, **_k):
    raise StorageFault("journal error: disk I/O error")


def test_429_and_503_come_from_the_apps_handlers_on_the_fast_path(
    client, monkeypatch, fastapi_calls
):
    plat = client.app.state.platform
    real = plat.queues.sizes
    for target, name, fake in (
        (plat.queues, "sizes", lambda: {**real(), "gold": 10**9}),
        (plat.db, "accept_run", broken),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(target, name, fake)
            fast, slow, made = both(
                client,
                fastapi_calls,
                "/run/double?wait=true",
                content=b"{}",
                headers={**GOOD, **JSON},
            )
        assert fast == slow and made == (0, 1)
        status, headers, body = fast
        if name == "sizes":
            assert status == 429 and ("retry-after", "1") in headers
        else:
            assert status == 503 and ("retry-after", "5") in headers
            assert b"disk I/O error" in body


def test_a_body_in_several_chunks_is_read_whole(client):
    chunks = [b'{"x"', b": ", b"4}"]
    r = client.post("/run/double?wait=true", content=iter(chunks), headers={**GOOD, **JSON})
    assert r.status_code == 200 and r.json()["outputs"] == {"double": {"x": 8}}


def test_without_a_token_every_request_may_take_the_fast_path(tmp_path, fastapi_calls):
    app = create_app(Settings(data_dir=tmp_path / "d", allow_modules=("platform_functions",)))
    with TestClient(app) as c:
        body = {"name": "double", "kind": "python", "path": "platform_functions:double"}
        c.post("/register/function", json=body)
        trigger = {"trigger_name": "t", "type": "function", "priority": "gold", "dags": ""}
        assert c.post("/register/trigger", json={**trigger, "functions": ["double"]}).is_success
        for extra in ({}, {"Authorization": "Bearer anything"}):
            headers = {**JSON, **extra}
            answers = both(c, fastapi_calls, "/run/t?wait=true", content=b"{}", headers=headers)
            fast, slow, made = answers
            assert fast == slow and fast[0] == 200 and made == (0, 1)


@pytest.mark.parametrize(
    ("query", "timeout"),
    [
        (b"wait=true", 300.0),
        (b"wait=1", 300.0),
        (b"wait=true&timeout=2", 2.0),
        (b"wait=true&timeout=0.25", 0.25),
        (b"timeout=3600&wait=true", 3600.0),
        (b"wait=true&timeout=3600.5", None),
        (b"wait=true&timeout=0", None),
        (b"wait=true&timeout=0.0", None),
        (b"wait=true&timeout=", None),
        (b"wait=True", None),
        (b"wait=true&", None),
        (b"", None),
        (b"wait=false", None),
        (b"wait=true&timeout=1&timeout=2", None),
        (b"wait=true%26timeout=2", None),
    ],
)
def test_fast_query_reads_only_plain_wait_queries(query, timeout):
    assert _fast_query(query) == timeout


def test_the_openapi_document_is_unchanged_by_the_fast_path(client):
    doc = client.get("/openapi.json", headers=GOOD).json()
    operation = doc["paths"]["/run/{trigger}"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["trigger", "wait", "timeout"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert json.dumps(operation["requestBody"])  # the arguments body is still documented


def test_over_a_real_server_the_answers_match_too(tmp_path, fastapi_calls):
    """Through uvicorn (its own body messages and headers): the same answers either way."""
    import httpx
    from helpers import ServerThread

    settings = Settings(data_dir=tmp_path / "d", allow_modules=("platform_functions",), token=TOKEN)
    app = create_app(settings)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        fn = {"name": "double", "kind": "python", "path": "platform_functions:double"}
        assert http.post("/register/function", json=fn, headers=GOOD).status_code == 201
        trigger = {"trigger_name": "t", "type": "function", "priority": "gold", "dags": ""}
        trigger["functions"] = ["double"]
        assert http.post("/register/trigger", json=trigger, headers=GOOD).status_code == 201
        for path, content, headers, fast_taken in (
            ("/run/t?wait=true", b'{"x": 4}', {**GOOD, **JSON}, True),
            ("/run/t?wait=true", b'{"x": 4}', JSON, False),  # 401
            ("/run/t?wait=true", b"[4]", {**GOOD, **JSON}, False),  # 422
        ):
            answers = []
            for use_standard in (False, True):
                before = len(fastapi_calls)
                if use_standard:
                    with standard(app):
                        r = http.post(path, content=content, headers=headers)
                else:
                    r = http.post(path, content=content, headers=headers)
                skipped = len(fastapi_calls) == before
                status, head, body = _answer(r)
                head = [(k, v) for k, v in head if k != "date"]
                answers.append((status, head, body, skipped))
            assert answers[0][:3] == answers[1][:3]
            assert answers[0][3] is fast_taken and answers[1][3] is False
