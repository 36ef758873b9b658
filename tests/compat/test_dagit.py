# ruff: noqa: E501
"""dagforge.compat.dagit: seed 004's developer snippets (Functions, DeploymentManager,
store_output) with only the imports changed, DAGit's control-plane routes and bodies, and
DAGit's multi-upstream list input shape as a per-spec option."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import httpx
import pytest

from dagforge.errors import ClientError, RegistryError, SerializationError

REGISTER = """
from dagforge.compat.dagit.functions import Functions
from dagforge.compat.dagit.deployment import DeploymentManager
fr = Functions()
func = fr.register_function("./function_modules/fill_glass_water/glass_full/glass_full.py","glass_full","10.129.28.219:5000/glass_full","cpu")
deployment = DeploymentManager(func)
deployment.create_deployment()
node_port = deployment.create_service()
deployment.set_autoscaling(min_replicas=1, max_replicas=70)
"""

DEREGISTER = """
from dagforge.compat.dagit.functions import Functions
from dagforge.compat.dagit.deployment import DeploymentManager
func = "glass_full"
fr = Functions()
deployment = DeploymentManager(func)
deployment_name = "dagit-deployment-"+deployment.function_name
service_name = deployment.function_name
hpa_name = deployment.function_name
# Delete deployment
deployment.delete_deployment(deployment_name)
deployment.delete_service(service_name)
deployment.delete_hpa(hpa_name)
# Delete function from the store
fr.delete_function(func)
"""

STORE = """
from dagforge.compat.dagit import store_output
import uuid
def fetch_sentences_function(quantity, jsonify=lambda d: d):
    activation_id = str(uuid.uuid4())
    response = {
        "activation_id": activation_id,
        "quantity": quantity
    }
    key = store_output.store_intermediate_data(response,'fetch_sentences','redis')
    response_data={}
    response_data["activation_id"] = activation_id
    response_data["key"] = key
    return jsonify(response_data) # returns key and activation id
"""

READER = """
import redis
import pickle
def read(params):
    host = params.get("host")
    port = params.get("port")
    key = params.get("key")
    redis_instance = redis.Redis(host=host, port=port,db=2)
    input = pickle.loads(redis_instance.get(key))
    return input
"""


def _exec(code, **names):
    ns = dict(names)
    exec(compile(code, "seed_004.py", "exec"), ns)
    return ns


@pytest.fixture
def glass_full(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = Path("function_modules/fill_glass_water/glass_full/glass_full.py")
    script.parent.mkdir(parents=True)
    script.write_text("def main(params):\n    return {'status': 'full'}\n")
    return script


def test_register_and_deploy_snippet(dagit_server, kube_api, glass_full, monkeypatch):
    monkeypatch.setenv("DAGIT_URL", dagit_server.url)
    ns = _exec(REGISTER)
    assert ns["node_port"] == 31234
    assert kube_api.calls == [
        ("create", "deployments", "dagit-deployment-glass-full"),
        ("create", "services", "glass-full"),
        ("create", "horizontalpodautoscalers", "glass-full"),
    ]
    dep = kube_api.objects["deployments/default/dagit-deployment-glass-full"]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "10.129.28.219:5000/glass_full"
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"type": "cpu"}
    hpa = kube_api.objects["horizontalpodautoscalers/default/glass-full"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 70)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "dagit-deployment-glass-full"
    record = ns["fr"].get_function("glass_full")
    assert record["kind"] == "http" and record["type"] == "cpu"
    assert record["image"] == "10.129.28.219:5000/glass_full"
    assert record["url"] == "http://glass-full.default.svc.cluster.local:8080/"
    assert [f["name"] for f in ns["fr"].list_functions()] == ["glass_full"]


def test_deregister_snippet(dagit_server, kube_api, glass_full, monkeypatch):
    monkeypatch.setenv("DAGIT_URL", dagit_server.url)
    _exec(REGISTER)
    kube_api.calls.clear()
    ns = _exec(DEREGISTER)
    assert kube_api.calls == [
        ("delete", "deployments", "dagit-deployment-glass-full"),
        ("delete", "services", "glass-full"),
        ("delete", "horizontalpodautoscalers", "glass-full"),
    ]
    assert not kube_api.objects
    with pytest.raises(ClientError) as err:
        ns["fr"].get_function("glass_full")
    assert err.value.status_code == 404
    with pytest.raises(RegistryError, match="404"):
        ns["deployment"].delete_service("glass_full")  # gone already: the cluster says 404


def test_updates_are_validated_then_patched(dagit_server, kube_api, glass_full, monkeypatch):
    monkeypatch.setenv("DAGIT_URL", dagit_server.url)
    ns = _exec(REGISTER)
    d = ns["deployment"]
    d.update_deployment_cpu_resources("dagit-deployment-glass_full", "250m", "1")
    d.update_hpa("glass_full", 2, 10)
    patches = kube_api.objects["patches/deployments/default/dagit-deployment-glass-full"]
    res = patches[0]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res == {"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}
    hpa_patch = kube_api.objects["patches/horizontalpodautoscalers/default/glass-full"][0]
    assert hpa_patch == {"spec": {"minReplicas": 2, "maxReplicas": 10}}
    calls = len(kube_api.calls)
    with pytest.raises(RegistryError, match="above"):
        d.update_deployment_cpu_resources("dagit-deployment-glass_full", "2", "500m")
    with pytest.raises(RegistryError, match="CPU quantity"):
        d.update_deployment_cpu_resources("dagit-deployment-glass_full", "lots", "1")
    with pytest.raises(RegistryError, match="replicas"):
        d.update_hpa("glass_full", 5, 2)
    assert len(kube_api.calls) == calls  # refused before any call


def test_manifests_are_validated_before_anything_is_sent(kube_api):
    from dagforge.compat.dagit.deployment import DeploymentManager

    bad = DeploymentManager({"name": "glass_full", "image": "img", "type": "cpu"}, memory="a lot")
    with pytest.raises(RegistryError, match="memory"):
        bad.create_deployment()
    typed = DeploymentManager({"name": "glass_full", "image": 12, "type": "gpu"})
    with pytest.raises(RegistryError, match="image"):
        typed.create_deployment()  # the official schema wants a string
    gpu = DeploymentManager({"name": "glass_full", "image": "img", "type": "gpu"}).manifests()[0]
    pod = gpu["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"type": "gpu"}
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    nameless = DeploymentManager("glass_full")
    with pytest.raises(RegistryError, match="no image"):
        nameless.create_deployment()
    assert kube_api.calls == []


def test_register_function_refuses_bad_input(dagit_server, glass_full):
    from dagforge.compat.dagit.functions import Functions

    fr = Functions(dagit_server.url)
    with pytest.raises(RegistryError, match="does not exist"):
        fr.register_function("missing.py", "glass_full", "img", "cpu")
    with pytest.raises(RegistryError, match="type"):
        fr.register_function(str(glass_full), "glass_full", "img", "tpu")
    with pytest.raises(TypeError):
        fr.register_function(str(glass_full), "glass_full")  # DAGit's positional signature


# --- store_output ---------------------------------------------------------------------------


def test_store_intermediate_data_to_redis_read_by_dagits_reader(redis_url, monkeypatch):
    from urllib.parse import urlsplit

    pytest.importorskip("redis")
    parts = urlsplit(redis_url)
    monkeypatch.setenv("REDIS_HOST", parts.hostname)
    monkeypatch.setenv("REDIS_PORT", str(parts.port))
    monkeypatch.delenv("DAGIT_REDIS_URL", raising=False)
    reply = _exec(STORE)["fetch_sentences_function"](250)
    assert set(reply) == {"activation_id", "key"} and reply["key"].startswith("fetch_sentences-")
    stored = _exec(READER)["read"](
        {"host": parts.hostname, "port": parts.port, "key": reply["key"]}
    )
    assert stored == {"activation_id": reply["activation_id"], "quantity": 250}

    from dagforge.compat.dagit.store_output import load_intermediate_data

    with pytest.raises(SerializationError, match="allow_pickle"):
        load_intermediate_data(reply["key"], "redis")
    assert load_intermediate_data(reply["key"], "redis", allow_pickle=True) == stored


def test_store_intermediate_data_to_minio(s3_endpoint, monkeypatch):
    from dagforge.compat.dagit import store_output

    monkeypatch.setenv("DAGIT_S3_URL", f"s3://dagit-data?endpoint={s3_endpoint}")
    key = store_output.store_intermediate_data(
        {"quantity": 3}, "add_water", "minio", serializer="json"
    )
    assert store_output.load_intermediate_data(key, "minio") == {"quantity": 3}
    with pytest.raises(Exception, match="destination"):
        store_output.store_intermediate_data({}, "f", "ftp")


# --- the control plane's routes ----------------------------------------------------------------

SENTIMENT = {
    "name": "text-sentiment-analysis",
    "dag": [
        {
            "node_id": "fetch_sentences",
            "properties": {
                "label": "Fetch Sentences",
                "primitive": "serial",
                "condition": {},
                "next": "calculate_sentiment",
                "branch_1": "",
                "branch_2": "",
                "arguments": {},
                "outputs_from": [],
            },
        },
        {
            "node_id": "calculate_sentiment",
            "properties": {
                "label": "Calculate Sentiment Polarity",
                "primitive": "serial",
                "condition": {},
                "next": "create_sentiment_report",
                "branch_1": "",
                "branch_2": "",
                "arguments": {},
                "outputs_from": ["fetch_sentences"],
            },
        },
        {
            "node_id": "create_sentiment_report",
            "properties": {
                "label": "Create a sentiment report for sentences",
                "primitive": "serial",
                "condition": {},
                "next": "",
                "branch_1": "",
                "branch_2": "",
                "arguments": {},
                "outputs_from": ["fetch_sentences", "calculate_sentiment"],
            },
        },
    ],
}


def _register_sentiment(url):
    from dagforge import Client

    with Client(url) as c:
        for name in ("fetch_sentences", "calculate_sentiment", "create_sentiment_report", "double"):
            c.register_function(name, path=f"compat.dagit_functions:{name}")
        c.register_dag(SENTIMENT)


def test_dagit_routes_answer_with_dagits_bodies(dagit_server):
    _register_sentiment(dagit_server.url)
    with httpx.Client(base_url=dagit_server.url, timeout=60) as http:
        actions = http.get("/list/actions").json()
        assert sorted(actions["list of available actions"]) == [
            "calculate_sentiment",
            "create_sentiment_report",
            "double",
            "fetch_sentences",
        ]
        functions = http.get("/view/functions").json()
        assert functions["status"] == 200 and "double" in functions["DAGit functions"]
        view = http.get("/view/dag/text-sentiment-analysis").json()["dag_data"]
        assert view["dag_name"] == "text-sentiment-analysis"
        assert view["number_of_nodes"] == 3 and view["starting_node"] == "fetch_sentences"
        assert view["fetch_sentences"] == {
            "get_outputs_from": "Starting action - >No outputs consumed",
            "primitive": "serial",
            "next_function": "calculate_sentiment",
        }
        assert view["create_sentiment_report"]["next_function"] == "Ending node_id of a path"
        assert view["create_sentiment_report"]["get_outputs_from"] == [
            "fetch_sentences",
            "calculate_sentiment",
        ]
        assert http.get("/view/dags").json() == {"dag": [SENTIMENT]}

        ran = http.post('/run/dag/text-sentiment-analysis/{"url": "http://x"}').json()
        assert set(ran) == {"dag_id", "result"}
        assert ran["result"] == {"report": ["good day: +1.0", "bad day: -1.0", "fine: +0.0"]}
        meta = http.get(f"/view/{ran['dag_id']}").json()["dag_metadata"]
        assert meta[0]["dag_id"] == ran["dag_id"] and meta[0]["dag_name"] == SENTIMENT["name"]
        ids = meta[0]["function_activation_ids"]
        assert sorted(i.split(":", 1)[1] for i in ids) == sorted(
            ["fetch_sentences", "calculate_sentiment", "create_sentiment_report"]
        )
        act = http.get(f"/view/activation/{ran['dag_id']}:calculate_sentiment").json()
        assert act["action_name"] == "calculate_sentiment" and act["status"] == "success"
        assert act["result"] == {"polarity": [1.0, -1.0, 0.0]} and act["duration"] >= 0
        assert http.get("/view/unknown-run").json() == {"dag_metadata": []}

        assert http.get('/run/action/double/{"number": 16}').json() == {
            "result": 32,
            "activation_id": "x",
        }
        assert http.get("/run/action/double/not-json").status_code == 422
        assert http.get('/run/action/nope/{"a": 1}').status_code == 404

        files = {
            "script": ("glass_full.py", b"print('hi')\n"),
            "dockerfile": ("Dockerfile", b"FROM python:3.9-slim\n"),
            "requirements": ("requirements.txt", b"flask\n"),
        }
        ok = http.post(
            "/register/function/glass_full", files=files, data={"url": "http://127.0.0.1:9/"}
        )
        assert ok.json() == {"message": "success"}
        missing = http.post("/register/function/other", files=files).json()
        assert missing["message"] == "fail" and "url" in missing["reason"]


# --- DAGit's multi-upstream input shape -------------------------------------------------------------


def _registry(report):
    from compat import dagit_functions as f
    from dagforge.spec.registry import FunctionRegistry

    reg = FunctionRegistry()
    reg.register("fetch_sentences", f.fetch_sentences)
    reg.register("calculate_sentiment", f.calculate_sentiment)
    reg.register("create_sentiment_report", report)
    return reg


def test_dagforge_merges_upstream_outputs_by_default():
    from compat import dagit_functions as f
    from dagforge.spec.runner import run_workflow

    result = run_workflow(SENTIMENT, _registry(f.create_sentiment_report), {"url": "u"})
    assert result.ok and result.workflow_outputs["create_sentiment_report"]["report"][0] == (
        "good day: +1.0"
    )


def test_dagit_shape_passes_the_list_of_upstream_outputs_per_spec():
    from compat import dagit_functions as f
    from dagforge.spec.runner import run_workflow

    spec = copy.deepcopy(SENTIMENT)
    spec["input_shape"] = "dagit"
    seen = []

    def report(params):
        seen.append(params)
        return f.dagit_report(params)

    result = run_workflow(spec, _registry(report), {"url": "u"})
    assert result.ok, result.failures
    assert isinstance(seen[0], list) and len(seen[0]) == 2
    assert seen[0][0]["sentences"] == ["good day", "bad day", "fine"] and "polarity" in seen[0][1]
    assert result.workflow_outputs["create_sentiment_report"]["report"][1] == "bad day: -1.0"
    # the merge recipe written for DAGit fails on dagforge's default shape, as the issue says
    failing = run_workflow(SENTIMENT, _registry(f.dagit_report), {"url": "u"})
    assert not failing.ok and isinstance(failing.failures["create_sentiment_report"], TypeError)
    with pytest.raises(Exception, match="input_shape"):
        run_workflow({**spec, "input_shape": "lists"}, _registry(report), {})
    json.dumps(spec)
    pickle.dumps(spec)


TRIGGER_SCRIPT = """
import requests
import sys
import json
# Usage: python3 <thisfile.py> <trigger.json>
def server():
    url = "http://10.129.28.219:5001/register/trigger/"
    input_json_file = open(sys.argv[1])
    params = json.load(input_json_file)
    reply = requests.post(url = url,json = params,verify=False)
    print(reply.json())
def main():
    server()
if __name__=="__main__":
    main()
"""

TRIGGER = {
    "trigger_name": "text_sentiment_analysis_trigger",
    "type": "dag",
    "priority": "gold",
    "dags": ["text-sentiment-analysis"],
    "functions": "",
}


def test_dagits_trigger_registration_script_then_a_run(dagit_server, tmp_path, monkeypatch, capsys):
    """The seed's script verbatim; only DAGit's host is pointed at the test server."""
    import requests

    _register_sentiment(dagit_server.url)
    real_post = requests.post

    def post(url, **kw):
        return real_post(url.replace("http://10.129.28.219:5001", dagit_server.url), **kw)

    monkeypatch.setattr(requests, "post", post)
    path = tmp_path / "trigger.json"
    path.write_text(json.dumps(TRIGGER))
    monkeypatch.setattr("sys.argv", ["register_trigger.py", str(path)])
    _exec(TRIGGER_SCRIPT, __name__="__main__")
    printed = capsys.readouterr().out
    assert "'trigger_name': 'text_sentiment_analysis_trigger'" in printed and "'gold'" in printed
    with httpx.Client(base_url=dagit_server.url, timeout=60) as http:
        run = http.post("/run/text_sentiment_analysis_trigger?wait=true", json={"url": "u"})
        body = run.json()
    assert run.status_code == 200 and body["status"] == "succeeded" and body["priority"] == "gold"
    assert body["outputs"]["create_sentiment_report"]["report"][2] == "fine: +0.0"
    with httpx.Client(base_url=dagit_server.url, timeout=60) as http:
        triggers = http.get("/view/triggers").json()["trigger"]
        assert [t["trigger_name"] for t in triggers] == ["text_sentiment_analysis_trigger"]
        one = http.get("/view/trigger/text_sentiment_analysis_trigger").json()
        assert one == {
            "trigger": [
                {
                    "trigger_name": "text_sentiment_analysis_trigger",
                    "type": "dag",
                    "dags": ["text-sentiment-analysis"],
                    "functions": [],
                }
            ]
        }
        assert http.get("/view/trigger/nope").json() == {"trigger": []}
        # DAGit's synchronous GET /run/<trigger>, with its JSON body
        ran = http.request("GET", "/run/text_sentiment_analysis_trigger", json={"url": "u"}).json()
        assert ran["status"] == 200 and len(ran["response"]) == 1
        assert set(ran["response"][0]) == {"dag_id", "result"}
        assert ran["response"][0]["result"]["report"][0] == "good day: +1.0"
        assert http.get("/run/unknown_trigger").json() == {
            "response": "the given trigger is not registered in DAGit trigger store"
        }


def test_create_service_registers_the_node_port_url(dagit_server, kube_api, glass_full):
    from dagforge.compat.dagit.deployment import DeploymentManager
    from dagforge.compat.dagit.functions import Functions

    fr = Functions(dagit_server.url)
    func = fr.register_function(str(glass_full), "glass_full", "registry:5000/glass_full", "gpu")
    assert func.function_name == "glass_full" and func.image == "registry:5000/glass_full"
    d = DeploymentManager(func, functions=fr, node_host="127.0.0.1")
    assert d.create_deployment() == "dagit-deployment-glass-full"
    assert d.create_service() == 31234
    assert fr.get_function("glass_full")["url"] == "http://127.0.0.1:31234/"
    dep = kube_api.objects["deployments/default/dagit-deployment-glass-full"]
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"type": "gpu"}
