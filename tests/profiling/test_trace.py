"""Chrome trace export: complete events, one track per worker, args, retries."""

from __future__ import annotations

import json

from dagforge import DAG
from dagforge.execution.executor import Executor
from dagforge.profiling import ChromeTrace, build_trace


def test_trace_has_one_track_per_worker_and_node_args(quickstart, tmp_path):
    result = Executor(
        quickstart, backend="threads", max_workers=2, enable_tracing=True, profile=True
    ).execute()
    trace = result.trace
    assert isinstance(trace, ChromeTrace)
    assert trace.tracks == {0: "thread-0", 1: "thread-1"}
    events = trace.node_events
    assert [e["name"] for e in events] == ["collect", "process", "classify"]
    for e in events:
        assert e["ph"] == "X" and e["pid"] == 1 and e["tid"] in (0, 1)
        assert e["dur"] >= 0 and e["ts"] >= 0
        assert e["args"]["node"] == e["name"] and e["args"]["status"] == "succeeded"
        assert e["args"]["attempt"] == 1
        r = result.results[e["name"]]
        assert trace.tracks[e["tid"]] == r.worker
        assert abs(e["ts"] - r.start * 1e6) < 1.0  # microseconds
    assert events[0]["args"]["bytes_out"] == 10000 * 10 * 8 + 10000 * 8
    assert events[2]["args"]["bytes_in"] == events[0]["args"]["bytes_out"]
    assert events[1]["ts"] >= events[0]["ts"] + events[0]["dur"]  # dependency order
    path = trace.save(tmp_path / "trace.json")
    data = json.loads(path.read_text())
    assert set(data) == {"traceEvents", "displayTimeUnit", "otherData"}
    names = [e["name"] for e in data["traceEvents"] if e["ph"] == "M"]
    assert names.count("thread_name") == 2 and "process_name" in names


def test_one_event_per_attempt_when_retries_happened():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError(f"try {calls['n']}")
        return 1

    dag = DAG()
    dag.add_node("flaky", retries=3, retry_delay=0.0)
    dag.add_node("after")
    dag.add_edge("flaky", "after")
    result = Executor(dag, enable_tracing=True).execute({"flaky": flaky, "after": lambda x: x})
    assert result.ok
    events = [e for e in build_trace(result).node_events if e["name"] == "flaky"]
    assert [e["args"]["attempt"] for e in events] == [1, 2, 3]
    assert [e["args"]["status"] for e in events] == ["failed", "failed", "succeeded"]
    assert events[0]["args"]["error"] == "RuntimeError: try 1"
    assert events[1]["ts"] >= events[0]["ts"] + events[0]["dur"]


def test_nodes_that_never_ran_have_no_event_but_are_listed():
    dag = DAG()
    dag.add_node("bad")
    dag.add_node("after")
    dag.add_edge("bad", "after")
    result = Executor(dag, enable_tracing=True).execute(
        {"bad": lambda: 1 / 0, "after": lambda x: x}
    )
    trace = result.trace
    assert [e["name"] for e in trace.node_events] == ["bad"]
    assert trace.node_events[0]["args"]["status"] == "failed"
    assert trace.to_dict()["otherData"]["not_run"] == {"after": "skipped"}


def test_trace_is_none_without_tracing(quickstart):
    assert Executor(quickstart).execute().trace is None
