"""The platform over real HTTP: register, trigger, runs, priorities, log, security."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from helpers import setup_chain

from dagforge import Client, ClientError
from dagforge.server.dispatch import RunQueues, WeightedRoundRobin

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GLASS = json.loads((EXAMPLES / "specs" / "filling-a-glass-of-water.json").read_text())


def test_register_list_get_delete_over_http(make_server):
    server = make_server()
    with Client(server.url) as c:
        setup_chain(c)
        assert [f["name"] for f in c.list_functions()] == ["add_one", "double", "slow_count"]
        assert c.get_function("double")["path"] == "platform_functions:double"
        assert c.get_dag("chain")["name"] == "chain"
        assert c.get_trigger("t")["priority"] == "gold"
        c.delete_function("double")
        with pytest.raises(ClientError) as err:
            c.get_function("double")
        assert err.value.status_code == 404 and "double" in str(err.value)
        c.delete_trigger("t")
        assert c.list_triggers() == []
    # DAGit's scripts post to /register/trigger/ (trailing slash), verbatim bodies
    reply = httpx.post(
        server.url + "/register/trigger/",
        json={
            "trigger_name": "text_sentiment_analysis_trigger",
            "type": "dag",
            "priority": "gold",
            "dags": ["text-sentiment-analysis"],
            "functions": "",
        },
    )
    assert reply.status_code == 201


def test_trigger_waits_for_outputs_and_records_the_run(make_server):
    server = make_server()
    with Client(server.url) as c:
        setup_chain(c)
        done = c.trigger("t", {"x": 5}, wait=True)
        assert done["status"] == "succeeded"
        assert done["outputs"] == {"slow_count": {"x": 12}}  # (5*2)+1 then +1
        assert set(done["nodes"]) == {"double", "add_one", "slow_count"}
        assert all(n["status"] == "succeeded" for n in done["nodes"].values())
        accepted = c.trigger("t", {"x": 1})
        assert accepted["status"] == "queued" and accepted["run_id"]
        for _ in range(200):
            if c.run(accepted["run_id"])["status"] == "succeeded":
                break
            time.sleep(0.05)
        assert c.outputs(accepted["run_id"]) == {"slow_count": {"x": 4}}
        assert any(r["run_id"] == accepted["run_id"] for r in c.runs())
        trace = c.trace(accepted["run_id"])
        assert {e["name"] for e in trace["traceEvents"] if e.get("ph") == "X"} >= {
            "double",
            "add_one",
            "slow_count",
        }
        profile = c.profile(accepted["run_id"])
        assert profile["dag_structure"]["nodes"] == ["double", "add_one", "slow_count"]


def test_the_request_log_has_one_line_per_run_with_dagits_fields(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "logdata")
    with Client(server.url) as c:
        setup_chain(c, priority="silver")
        ids = [c.trigger("t", {"x": k}, wait=True)["run_id"] for k in range(3)]
    lines = (tmp_path / "logdata" / "requests.log").read_text().splitlines()
    assert len(lines) == 3
    fields = lines[0].split(", ")  # DAGit's ten fields, in DAGit's order
    assert len(fields) == 10 and fields[6] == "silver" and fields[7] == "t"
    assert fields[8] == "chain" and fields[9] in ids
    records = [
        json.loads(x) for x in (tmp_path / "logdata" / "requests.jsonl").read_text().splitlines()
    ]
    assert [r["run_id"] for r in records] == ids  # runs waited for one by one
    for r in records:
        assert r["total_response_time"] >= r["workflow_response_time"] >= 0
        assert r["queue_delay"] >= 0


def test_bad_bodies_get_clear_statuses(make_server):
    server = make_server(token="s3cret", max_body=10_000)
    auth = {"Authorization": "Bearer s3cret"}
    bad_spec = {
        "name": "x",
        "dag": [{"node_id": "a", "properties": {"primitive": "serial", "next": "ghost"}}],
    }
    r = httpx.post(server.url + "/register/dag", json=bad_spec, headers=auth)
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["path"] == "dag[0].properties.next"
    r = httpx.post(server.url + "/register/dag", json=bad_spec)
    assert r.status_code == 401
    r = httpx.post(
        server.url + "/register/function",
        headers=auth,
        json={"name": "evil", "kind": "python", "path": "os:system"},
    )
    assert r.status_code == 422 and "not in the allowed packages" in r.text
    r = httpx.post(
        server.url + "/register/dag",
        headers=auth,
        content=b"{" + b" " * 20_000 + b"}",
    )
    assert r.status_code == 413
    r = httpx.post(server.url + "/run/nope", json={}, headers=auth)
    assert r.status_code == 404 and "nope" in r.text
    r = httpx.get(server.url + "/runs/unknown-id", headers=auth)
    assert r.status_code == 404
    r = httpx.put(server.url + "/config/weights", json={"platinum": 9}, headers=auth)
    assert r.status_code == 422
    assert httpx.get(server.url + "/functions").status_code == 401  # reads need it too
    assert httpx.get(server.url + "/functions", headers=auth).status_code == 200


def test_weighted_round_robin_serves_gold_most_and_never_starves_bronze():
    wrr = WeightedRoundRobin()
    picks = [wrr.pick(["gold", "silver", "bronze"]) for _ in range(60)]
    assert picks.count("gold") == 30 and picks.count("silver") == 20
    assert picks.count("bronze") == 10
    for k in range(0, 60, 6):  # every window of sum(weights) picks serves every class
        assert set(picks[k : k + 6]) == {"gold", "silver", "bronze"}
    wrr.set_weights({"bronze": 3})
    picks = [wrr.pick(["gold", "bronze"]) for _ in range(12)]
    assert picks.count("bronze") == 6


def test_run_queues_follow_the_weights():
    q = RunQueues()
    for k in range(6):
        for cls in ("bronze", "silver", "gold"):
            q.put(cls, f"{cls}{k}")
    order = [q.get(timeout=1)[0] for _ in range(12)]
    assert order.count("gold") == 6 and order.count("bronze") == 2
    q.close()
    assert q.get(timeout=0.1) is None


def test_http_functions_follow_dagits_contract(make_server, function_server, tmp_path):
    server = make_server()
    with Client(server.url) as c:
        c.register_function("square", url=function_server.url + "/square")
        c.register_trigger(
            {
                "trigger_name": "sq",
                "type": "function",
                "priority": "gold",
                "dags": "",
                "functions": ["square"],
            }
        )
        assert c.trigger("sq", {"x": 7}, wait=True)["outputs"] == {"square": {"x": 49}}
        big = list(range(20_000))  # over the inline limit: passed by key through the store
        out = c.trigger("sq", {"x": big}, wait=True)["outputs"]
        assert out == {"square": {"x": sum(v * v for v in big)}}
    small, large = function_server.calls[-2:]
    assert small["arguments"] == {"x": 7} and not small["inputs"]
    assert large["arguments"] == {} and set(large["inputs"]) == {"x"}
    assert large["store"]["type"] == "LocalDirStore" and large["store"]["url"].startswith("file:")


def test_http_functions_may_answer_with_store_keys(make_server, function_server, tmp_path):
    from dagforge.store import LocalDirStore

    server = make_server(data_dir=tmp_path / "keys", retention=0)
    with Client(server.url) as c:
        for fn in ("square_keys", "square_dagit", "broken"):
            c.register_function(fn, url=f"{function_server.url}/{fn}")
            c.register_trigger(
                {
                    "trigger_name": fn,
                    "type": "function",
                    "priority": "silver",
                    "dags": "",
                    "functions": [fn],
                }
            )
        done = c.trigger("square_keys", {"x": 6}, wait=True)
        assert done["outputs"] == {"square_keys": {"x": 36}}
        done = c.trigger("square_dagit", {"x": 5}, wait=True)
        assert done["outputs"] == {"square_dagit": {"x": 25, "activation_id": "a1"}}
        failed = c.trigger("broken", {"x": 1}, wait=True)
        assert failed["status"] == "failed" and "500" in failed["error"]
        assert "broken" in failed["error"]
    prefix = function_server.calls[-1]["output_prefix"]
    assert prefix.startswith(f"{done['run_id']}/_http/square_dagit/")
    # keys the functions wrote live under their run and expire with it (retention 0)
    store = LocalDirStore(tmp_path / "keys" / "store")
    assert store.keys(done["run_id"] + "/") == []


def test_requests_do_not_block_the_event_loop(make_server, tmp_path):
    """Requests waiting for runs (``?wait=true``) leave the server answering others.

    Two waiting requests hold both dispatchers (their last node waits for a gate file
    only this test creates), a third waits in the queue; while all three wait, other
    requests are answered. Nothing here depends on timing: were the event loop (or the
    request thread pool) blocked by the waits, the reads below could only be answered
    after the gate opens, which happens after them, so they would time out instead.
    """
    server = make_server(workers=2)
    gate = tmp_path / "gate"
    with Client(server.url) as c:
        setup_chain(c)
    results: dict[int, dict] = {}

    def waiting(k: int) -> None:
        with Client(server.url) as c2:
            results[k] = c2.trigger("t", {"x": k, "gate": str(gate)}, wait=True, timeout=60)

    threads = [threading.Thread(target=waiting, args=(k,)) for k in range(3)]
    try:
        for t in threads:
            t.start()
        with Client(server.url, timeout=20) as c3:
            for _ in range(1000):  # bounded: until both dispatchers are held at the gate
                statuses = [r["status"] for r in c3.runs()]
                if statuses.count("running") == 2 and statuses.count("queued") == 1:
                    break
                time.sleep(0.02)
            assert sorted(statuses) == ["queued", "running", "running"]
            for _ in range(20):  # many more requests than the waits hold
                assert [f["name"] for f in c3.list_functions()][:1] == ["add_one"]
                assert c3.weights()["gold"] == 3
            assert not gate.exists() and not results  # every wait is still open
            assert all(t.is_alive() for t in threads)
    finally:
        gate.touch()
        for t in threads:
            t.join(60)
    assert sorted(r["outputs"]["slow_count"]["x"] for r in results.values()) == [2, 4, 6]
    assert all(r["status"] == "succeeded" for r in results.values())


def test_kubernetes_manifests_validate_against_the_client_models():
    from dagforge.server import k8s

    docs = k8s.manifests(
        "glass_full", "registry.local/glass:1", min_replicas=1, max_replicas=70, gpu=True
    )
    models = k8s.validate(docs)
    assert [type(m).__name__ for m in models] == [
        "V1Deployment",
        "V1Service",
        "V2HorizontalPodAutoscaler",
    ]
    assert models[0].spec.template.spec.node_selector == {"type": "gpu"}
    assert models[1].spec.type == "NodePort"
    assert models[2].spec.max_replicas == 70
    assert "kind: HorizontalPodAutoscaler" in k8s.to_yaml(docs)
    broken = k8s.manifests("f", "img")
    broken[0]["spec"]["replicas"] = "many"
    with pytest.raises(Exception):
        k8s.validate(broken)


@pytest.mark.parametrize("kind", ["redis", "s3"])
def test_intermediate_data_goes_to_the_configured_store(make_server, kind, request):
    from dagforge.store import get_value, open_store

    if kind == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        url = f"s3://dagforge-runs?endpoint={request.getfixturevalue('s3_endpoint')}"
    server = make_server(store=url)
    with Client(server.url) as c:
        setup_chain(c)
        done = c.trigger("t", {"x": 4}, wait=True)
    store = open_store(url)
    run_id = done["run_id"]
    assert get_value(store, f"{run_id}/double/x") == 8
    assert get_value(store, f"{run_id}/slow_count/x") == 10
    assert sorted(store.keys(f"{run_id}/")) == [
        f"{run_id}/add_one/x",
        f"{run_id}/double/x",
        f"{run_id}/slow_count/x",
    ]


def test_retention_cleans_a_runs_keys(make_server, tmp_path):
    from dagforge.store import LocalDirStore

    server = make_server(data_dir=tmp_path / "ret", retention=0)
    with Client(server.url) as c:
        setup_chain(c)
        run_id = c.trigger("t", {"x": 1}, wait=True)["run_id"]
    store = LocalDirStore(tmp_path / "ret" / "store")
    assert store.keys(f"{run_id}/") == []
