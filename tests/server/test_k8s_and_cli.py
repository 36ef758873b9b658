"""Kubernetes manifests applied through the official client (to a fake API server on
loopback: no cluster here) and the platform's CLI commands against a real server."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from helpers import ServerThread, chain_spec
from typer.testing import CliRunner

from dagforge import Client
from dagforge.cli import app as cli
from dagforge.errors import RegistryError
from dagforge.server import k8s

ASSIGNED_NODE_PORT = 31234


@pytest.fixture
def kube_api():
    """A loopback stand-in for the Kubernetes API: create (409 when it exists) and patch."""
    api = FastAPI()
    objects: dict[str, dict] = {}
    calls: list[tuple[str, str]] = []

    def create(kind: str, ns: str, body: dict) -> JSONResponse:
        calls.append(("create", kind))
        key = f"{kind}/{ns}/{body['metadata']['name']}"
        if key in objects:
            return JSONResponse(
                {"kind": "Status", "reason": "AlreadyExists", "code": 409}, status_code=409
            )
        if kind == "services":
            for port in body["spec"]["ports"]:
                port.setdefault("nodePort", ASSIGNED_NODE_PORT)
        objects[key] = body
        return JSONResponse(body, status_code=201)

    def patch(kind: str, ns: str, name: str, body: dict) -> JSONResponse:
        calls.append(("patch", kind))
        key = f"{kind}/{ns}/{name}"
        if kind == "services":
            for port in body["spec"]["ports"]:
                port.setdefault("nodePort", ASSIGNED_NODE_PORT)
        objects[key] = body
        return JSONResponse(body)

    prefixes = {
        "deployments": "/apis/apps/v1",
        "services": "/api/v1",
        "horizontalpodautoscalers": "/apis/autoscaling/v2",
    }
    for kind, prefix in prefixes.items():

        async def post(ns: str, request: Request, kind=kind):
            return create(kind, ns, json.loads(await request.body()))

        async def update(ns: str, name: str, request: Request, kind=kind):
            return patch(kind, ns, name, json.loads(await request.body()))

        api.post(f"{prefix}/namespaces/{{ns}}/{kind}")(post)
        api.patch(f"{prefix}/namespaces/{{ns}}/{kind}/{{name}}")(update)

    with ServerThread(api) as server:
        server.objects, server.calls = objects, calls
        yield server


def api_client(url: str):
    from kubernetes import client

    config = client.Configuration()
    config.host = url
    return client.ApiClient(config)


def kubeconfig(tmp_path, url: str):
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


def test_apply_creates_then_patches_through_the_official_client(kube_api):
    docs = k8s.manifests("glass_full", "registry.local/glass:1", namespace="fns")
    assert k8s.apply(docs, api_client(kube_api.url)) == ASSIGNED_NODE_PORT
    assert sorted(kube_api.objects) == [
        "deployments/fns/dagforge-deployment-glass-full",
        "horizontalpodautoscalers/fns/glass-full",
        "services/fns/glass-full",
    ]
    hpa = kube_api.objects["horizontalpodautoscalers/fns/glass-full"]
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["maxReplicas"] == 70
    k8s.apply(docs, api_client(kube_api.url))  # again: 409, then a patch brings it up to date
    assert [c[0] for c in kube_api.calls].count("patch") == 3
    assert k8s.service_url(docs, "10.0.0.5", ASSIGNED_NODE_PORT) == "http://10.0.0.5:31234/"
    assert k8s.service_url(docs, "n") == "http://glass-full.fns.svc.cluster.local:8080/"


def test_apply_names_the_object_the_cluster_refused(closed_port):
    docs = k8s.manifests("f", "img")
    with pytest.raises(RegistryError, match="Deployment default/dagforge-deployment-f"):
        k8s.apply(docs, api_client(f"http://127.0.0.1:{closed_port}"))


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"function": "Bad Name!"}, "Bad Name!"),
        ({"function": "x" * 60}, "54 characters"),
        ({"min_replicas": 0}, "replicas"),
        ({"min_replicas": 5, "max_replicas": 2}, "replicas"),
        ({"node_port": 80}, "30000-32767"),
    ],
)
def test_bad_deployments_are_refused_with_the_reason(kwargs, culprit):
    args = {"function": "f", "image": "img", **kwargs}
    with pytest.raises(RegistryError, match=culprit.replace("!", "")):
        k8s.manifests(args.pop("function"), args.pop("image"), **args)


def test_deploy_k8s_writes_valid_yaml_and_explains_a_missing_cluster(tmp_path, monkeypatch):
    runner = CliRunner()
    out = tmp_path / "glass.yaml"
    r = runner.invoke(
        cli,
        ["deploy", "k8s", "glass_full", "--image", "reg/glass:1", "--gpu", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    assert docs[0]["spec"]["template"]["spec"]["nodeSelector"] == {"type": "gpu"}
    assert [type(m).__name__ for m in k8s.validate(docs)][0] == "V1Deployment"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    r = runner.invoke(cli, ["deploy", "k8s", "f", "--image", "img", "--out", str(out), "--apply"])
    assert r.exit_code == 1
    assert "no Kubernetes cluster is configured" in r.output


def test_deploy_k8s_apply_registers_the_assigned_node_port(
    kube_api, make_server, tmp_path, monkeypatch
):
    server = make_server(allow_urls=(f"http://10.0.0.5:{ASSIGNED_NODE_PORT}/",))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, kube_api.url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    r = CliRunner().invoke(
        cli,
        [
            "deploy", "k8s", "glass_full", "--image", "reg/glass:1", "--out",
            str(tmp_path / "m.yaml"), "--apply", "--node-host", "10.0.0.5", "--url", server.url,
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"--allow-url http://10.0.0.5:{ASSIGNED_NODE_PORT}/" in r.output  # told what to allow
    with Client(server.url) as c:
        fn = c.get_function("glass_full")
    assert fn["kind"] == "http" and fn["url"] == f"http://10.0.0.5:{ASSIGNED_NODE_PORT}/"
    assert fn["type"] == "cpu"


def test_register_and_trigger_from_the_shell(make_server, tmp_path):
    server = make_server(token="tok")
    runner = CliRunner()
    base = ["--url", server.url, "--token", "tok"]
    spec = tmp_path / "chain.json"
    spec.write_text(json.dumps(chain_spec()))
    fn_body = tmp_path / "double.json"
    fn_body.write_text(
        json.dumps({"name": "double", "kind": "python", "path": "platform_functions:double"})
    )
    steps = [
        ["register", "function", str(fn_body)],
        ["register", "function", "add_one", "--path", "platform_functions:add_one"],
        ["register", "function", '{"name": "slow_count", "path": "platform_functions:slow_count"}'],
        ["register", "dag", str(spec)],
        [
            "register", "trigger",
            '{"trigger_name": "t", "type": "dag", "priority": "gold", '
            '"dags": ["chain"], "functions": ""}',
        ],
    ]  # fmt: skip
    for step in steps:
        r = runner.invoke(cli, step + base)
        assert r.exit_code == 0, (step, r.output)
    r = runner.invoke(cli, ["trigger", "t", "--args", '{"x": 5}', *base])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["outputs"] == {"slow_count": {"x": 12}}
    r = runner.invoke(cli, ["trigger", "t", "--no-wait", "--args", "{}", *base])
    assert r.exit_code == 0 and json.loads(r.output)["status"] == "queued"
    r = runner.invoke(cli, ["trigger", "t", "--args", "{}", "--url", server.url])
    assert r.exit_code == 2 and "401" in r.output  # a usage error: no token
    r = runner.invoke(cli, ["register", "function", "lonely", *base])
    assert r.exit_code != 0 and "--path" in r.output
    r = runner.invoke(cli, ["register", "dag", "{not json", *base])
    assert r.exit_code != 0 and "JSON" in r.output
