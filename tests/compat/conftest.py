"""Fixtures of the compatibility tests: a real platform server and a loopback stand-in for
the Kubernetes API (no cluster here), both on free ports and stopped at teardown."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loopback import UvicornThread as ServerThread

ASSIGNED_NODE_PORT = 31234


@pytest.fixture
def dagit_server(tmp_path):
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    settings = Settings(
        data_dir=tmp_path / "platform",
        allow_modules=("compat",),
        allow_urls=("127.0.0.0/8", "http://glass-full.default.svc.cluster.local:8080/"),
    )
    with ServerThread(create_app(settings)) as server:
        yield server


@pytest.fixture
def kube_api(tmp_path, monkeypatch):
    """Create (409 when it exists), patch, delete; KUBECONFIG points at it."""
    api = FastAPI()
    objects: dict[str, dict] = {}
    calls: list[tuple[str, str, str]] = []
    prefixes = {
        "deployments": "/apis/apps/v1",
        "services": "/api/v1",
        "horizontalpodautoscalers": "/apis/autoscaling/v2",
    }

    for kind, prefix in prefixes.items():

        async def post(ns: str, request: Request, kind=kind):
            body = json.loads(await request.body())
            name = body["metadata"]["name"]
            calls.append(("create", kind, name))
            key = f"{kind}/{ns}/{name}"
            if key in objects:
                return JSONResponse({"kind": "Status", "code": 409}, status_code=409)
            if kind == "services":
                for port in body["spec"]["ports"]:
                    port.setdefault("nodePort", ASSIGNED_NODE_PORT)
            objects[key] = body
            return JSONResponse(body, status_code=201)

        async def patch(ns: str, name: str, request: Request, kind=kind):
            body = json.loads(await request.body())
            calls.append(("patch", kind, name))
            key = f"{kind}/{ns}/{name}"
            if key not in objects:
                return JSONResponse({"kind": "Status", "code": 404}, status_code=404)
            objects.setdefault(f"patches/{key}", []).append(body)
            return JSONResponse(objects[key])

        async def delete(ns: str, name: str, kind=kind):
            calls.append(("delete", kind, name))
            gone = objects.pop(f"{kind}/{ns}/{name}", None)
            if gone is None:
                return JSONResponse({"kind": "Status", "code": 404}, status_code=404)
            if kind == "services":  # the API answers a Service delete with the Service
                return JSONResponse(gone)
            return JSONResponse({"kind": "Status", "apiVersion": "v1", "status": "Success"})

        api.post(f"{prefix}/namespaces/{{ns}}/{kind}")(post)
        api.patch(f"{prefix}/namespaces/{{ns}}/{kind}/{{name}}")(patch)
        api.delete(f"{prefix}/namespaces/{{ns}}/{kind}/{{name}}")(delete)

    with ServerThread(api) as server:
        path = tmp_path / "kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": server.url}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "u"}}],
                    "current-context": "c",
                }
            )
        )
        monkeypatch.setenv("KUBECONFIG", str(path))
        server.objects, server.calls = objects, calls
        yield server
