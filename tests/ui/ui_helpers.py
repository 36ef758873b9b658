"""What the tests in tests/ui share: the token, a uvicorn server on a free loopback port,
the UI's specs and ``register`` (their functions, DAGs and triggers).

A uniquely named module (``from ui_helpers import ...``): ``conftest`` is a name every
test folder has, so ``from conftest import`` resolves to whichever folder's conftest
was imported first when several folders are collected together (``pytest tests/ui
tests/server``). ``conftest.py`` puts this folder on ``sys.path`` and keeps the fixtures.
"""

from __future__ import annotations

from loopback import UvicornThread as Server  # noqa: F401 - for the tests
from loopback import free_port  # noqa: F401

TOKEN = "s3cret-token"


def node(node_id, nxt="", outputs_from=(), primitive="serial"):
    return {
        "node_id": node_id,
        "properties": {
            "label": node_id,
            "primitive": primitive,
            "condition": {},
            "next": nxt,
            "branch_1": "",
            "branch_2": "",
            "arguments": {},
            "outputs_from": list(outputs_from),
        },
    }


SPECS = {
    "fan": [
        node("start", ["left", "right"], primitive="parallel"),
        node("left", "finish", ["start"]),
        node("right", "finish", ["start"]),
        node("finish", "", ["left", "right"]),
    ],
    "broken": [node("start", "explode"), node("explode", "", ["start"])],
    "long": [node("start", "hold"), node("hold", "", ["start"])],
    "retryable": [node("start", "flaky"), node("flaky", "", ["start"])],
    "loop": [
        {
            "node_id": "tick",
            "properties": {
                "label": "tick",
                "primitive": "condition",
                "condition": {"source": "x", "operator": "less_than", "target": 10_000},
                "next": "",
                "branch_1": "tick",
                "branch_2": "done",
                "arguments": {},
                "outputs_from": ["tick"],
            },
        },
        node("done", "", ["tick"]),
    ],
}
FUNCTIONS = {
    "fan": {"start": "start", "left": "work", "right": "work", "finish": "finish"},
    "broken": {"start": "start", "explode": "explode"},
    "long": {"start": "start", "hold": "hold"},
    "retryable": {"start": "start", "flaky": "flaky"},
    "loop": {"tick": "tick", "done": "finish"},
}


def register(url: str, token: str | None = None, trigger_names: dict | None = None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    names = {"start", "work", "finish", "explode", "hold", "flaky", "tick"}
    for fn in sorted(names):
        r = httpx.post(
            f"{url}/register/function",
            headers=headers,
            json={"name": fn, "kind": "python", "path": f"ui_functions:{fn}"},
        )
        assert r.status_code == 201, r.text
    for dag, spec in SPECS.items():
        body = {"name": dag, "dag": spec}
        # the spec names functions by node_id: register node-named aliases
        for node_id, fn in FUNCTIONS[dag].items():
            if node_id != fn:
                r = httpx.post(
                    f"{url}/register/function",
                    headers=headers,
                    json={"name": node_id, "kind": "python", "path": f"ui_functions:{fn}"},
                )
                assert r.status_code == 201, r.text
        r = httpx.post(f"{url}/register/dag", headers=headers, json=body)
        assert r.status_code == 201, r.text
        for trigger in (trigger_names or {}).get(dag, [dag]):
            r = httpx.post(
                f"{url}/register/trigger",
                headers=headers,
                json={
                    "trigger_name": trigger,
                    "type": "dag",
                    "priority": "gold",
                    "dags": [dag],
                    "functions": "",
                },
            )
            assert r.status_code == 201, r.text
