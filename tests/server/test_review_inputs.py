"""Outside inputs on the DAGit routes and schedules are bounded: a deep or non-finite
``param_json``/body is a 422 naming the field, never a 404 or a 500."""

from __future__ import annotations

import json

import httpx
from helpers import chain_spec, setup_chain

from dagforge import Client


def _deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def test_dagit_param_json_too_deep_is_422(make_server) -> None:
    server = make_server()
    with Client(server.url) as c:
        setup_chain(c, trigger="t")
    for route in ("/run/action/double/", f"/run/dag/{chain_spec()['name']}/"):
        for levels in (100, 3000):  # over max_depth; over the parser's recursion limit
            r = httpx.get(server.url + route + _deep(levels), timeout=30)
            assert r.status_code == 422, (route, levels, r.status_code, r.text[:200])
        r = httpx.get(server.url + route + '{"x": NaN}', timeout=30)
        assert r.status_code == 422, (route, r.text[:200])


def test_dagit_run_trigger_body_too_deep_is_422(make_server) -> None:
    server = make_server()
    with Client(server.url) as c:
        setup_chain(c, trigger="t")
    for body in (_deep(100), _deep(3000), '{"x": NaN}'):
        r = httpx.request("GET", server.url + "/run/t", content=body, timeout=30)
        assert r.status_code == 422, (body[:20], r.status_code, r.text[:200])


def test_schedule_arguments_are_bounded(make_server) -> None:
    server = make_server()
    with Client(server.url) as c:
        setup_chain(c, trigger="t")
    body = {"name": "s", "trigger": "t", "cron": "0 0 1 1 *"}
    for arguments in (json.loads(_deep(100)), {"x": float("nan")}):
        raw = json.dumps({**body, "arguments": arguments})
        r = httpx.post(
            server.url + "/register/schedule",
            content=raw,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 422, r.text[:200]
        assert r.json()["detail"]["errors"][0]["path"].startswith("arguments")
