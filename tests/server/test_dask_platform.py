"""The platform on a Dask cluster (issue 16, item 3): ``Settings(backend="dask://HOST:PORT")``
runs spec workflows — serial steps, a condition that loops, a spec with a fan-in — and
function triggers on a real LocalCluster's worker processes, and the run's profile and
trace come from the workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from helpers import setup_chain  # noqa: E402

from dagforge import Client  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GLASS = json.loads((EXAMPLES / "specs" / "filling-a-glass-of-water.json").read_text())


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster with 2 worker processes (module scope: one cluster)."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def dask_server(make_server, scheduler, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the server imports spec_functions
    address = scheduler.removeprefix("tcp://")
    return make_server(backend=f"dask://{address}")


def test_a_serial_spec_runs_on_the_cluster_with_worker_profile_and_trace(dask_server):
    with Client(dask_server.url) as c:
        setup_chain(c)
        record = c.trigger("t", {"x": 5}, wait=True)
        assert record["status"] == "succeeded", record
        assert record["outputs"] == {"slow_count": {"x": 12}}  # (5*2)+1 then +1
        assert c.outputs(record["run_id"]) == record["outputs"]
        profile = c.profile(record["run_id"])
        trace = c.trace(record["run_id"])
    assert [m["task"] for m in profile["execution_metrics"]] == ["double", "add_one", "slow_count"]
    assert profile["metadata"]["backend"] == "dask"
    workers = {m["worker"] for m in profile["dagforge"]["execution_metrics"].values()}
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
    tracks = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"}
    assert tracks == workers  # one track per Dask worker thread that ran a node
    spans = [e["name"] for e in trace["traceEvents"] if e.get("ph") == "X"]
    assert spans == ["double", "add_one", "slow_count"]


def _node(node_id, primitive="serial", nxt="", outputs_from=(), **extra):
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
            **extra,
        },
    }


FORK_JOIN = {  # double, then add_one and slow_count in parallel, joined by double again
    "name": "fork-join",
    "dag": [
        _node("double", "parallel", ["add_one", "slow_count"]),
        _node("add_one", nxt="double_again", outputs_from=["double"]),
        _node("slow_count", nxt="double_again", outputs_from=["double"]),
        _node("double_again", outputs_from=["add_one", "slow_count"]),
    ],
}


def _register_all(c: Client) -> None:
    for fn in ("double", "add_one", "slow_count"):
        c.register_function(fn, path=f"platform_functions:{fn}")
    c.register_function("double_again", path="platform_functions:double")
    for fn in ("check_if_full", "add_water", "glass_full"):
        c.register_function(fn, path=f"spec_functions:{fn}")
    for spec, trigger in ((GLASS, "glass"), (FORK_JOIN, "fork")):
        c.register_dag(spec)
        c.register_trigger(
            {
                "trigger_name": trigger,
                "type": "dag",
                "priority": "gold",
                "dags": [spec["name"]],
                "functions": "",
            }
        )
    c.register_trigger(
        {
            "trigger_name": "fn",
            "type": "function",
            "priority": "silver",
            "dags": "",
            "functions": ["add_one"],
        }
    )


CASES = [("glass", {"quantity": 0}), ("fork", {"x": 3}), ("fn", {"x": 41})]


def test_loops_fork_joins_and_function_triggers_match_the_threads_backend(
    make_server, dask_server, tmp_path
):
    """Each trigger gives the same outputs and the same node instances (loop iterations
    ``add_water#2`` …) on the cluster as on local threads, and ran on Dask workers."""
    local = make_server(data_dir=tmp_path / "threads-data")
    answers = {}
    for label, server in (("dask", dask_server), ("threads", local)):
        with Client(server.url) as c:
            _register_all(c)
            answers[label] = [c.trigger(t, args, wait=True) for t, args in CASES]
    for on_dask, on_threads in zip(answers["dask"], answers["threads"], strict=True):
        assert on_dask["status"] == on_threads["status"] == "succeeded", on_dask
        assert on_dask["outputs"] == on_threads["outputs"]
        assert list(on_dask["nodes"]) == list(on_threads["nodes"])
        assert all(n["worker"].startswith("tcp://127.0.0.1:") for n in on_dask["nodes"].values())
    glass, fork, fn = answers["dask"]
    assert glass["outputs"] == {
        "glass_full": {"message": "glass full at 1000 ml", "quantity": 1000}
    }
    assert "add_water#4" in glass["nodes"] and "add_water#5" not in glass["nodes"]
    assert set(fork["nodes"]) == {"double", "add_one", "slow_count", "double_again"}
    assert fn["outputs"] == {"add_one": {"x": 42}}
