"""What a dispatcher asks the journal for each run (issue 10's throughput work).

A fresh run — never started, never retried — has no node results and no node logs yet,
so its dispatcher skips those two statements; a run that started before (resumed) or was
retried still reads them. A ``?wait=true`` waiter is answered with the finished run as
the journal holds it, built without reading it back: it must equal a fresh read.
"""

from __future__ import annotations

import textwrap
from concurrent.futures import Future

import pytest

from dagforge.server.platform import Platform, Settings

ODD = textwrap.dedent(
    """
    def odd(x=0, **_):
        # a tuple, a non-string key, a float: what the journal's JSON makes of them
        # is what a waiter must see
        return {"pair": (x, x + 1), "by_int": {1: "one"}, "f": x / 4}

    def plain(x=0, **_):
        return {"x": x + 1}

    import weakref
    HELD = []

    class Big:
        pass

    def fails(x=0, **_):
        data = Big()  # what a failing function had loaded
        HELD.append(weakref.ref(data))
        raise ValueError("fails on purpose")
    """
)


@pytest.fixture
def platform(tmp_path, monkeypatch):
    (tmp_path / "odd_outputs.py").write_text(ODD)
    monkeypatch.syspath_prepend(str(tmp_path))
    plat = Platform(Settings(data_dir=tmp_path / "data", allow_modules=("odd_outputs",)))
    for fn in ("odd", "plain", "fails"):
        plat.register_function({"name": fn, "path": f"odd_outputs:{fn}"})
    spec = {
        "name": "two",
        "dag": [
            {"node_id": "plain", "properties": {"primitive": "serial", "next": "odd"}},
            {
                "node_id": "odd",
                "properties": {"primitive": "serial", "next": "", "outputs_from": ["plain"]},
            },
        ],
    }
    plat.register_dag(spec)
    plat.register_trigger({"trigger_name": "t", "type": "dag", "priority": "gold", "dags": ["two"]})
    yield plat
    plat.stop()


def statements(plat: Platform) -> list[str]:
    seen: list[str] = []
    plat.db._raw.set_trace_callback(seen.append)
    return seen


def dispatch_one(plat: Platform) -> str:
    """Claim the next queued run and execute it on this thread (no dispatcher threads)."""
    item = plat.queues.get(timeout=5)
    assert item is not None
    plat._dispatch(*item)
    return item[1]


def test_a_fresh_run_skips_node_results_and_node_logs(platform):
    platform.accept("t", {"x": 4})
    seen = statements(platform)
    dispatch_one(platform)
    assert not [s for s in seen if "FROM node_results" in s]
    assert not [s for s in seen if s.startswith("DELETE FROM node_logs")]
    assert [s for s in seen if s.startswith("INSERT INTO node_results")]  # still journaled
    reads = [s for s in seen if s.startswith("SELECT") and "FROM runs" in s]
    assert len(reads) == 1  # the run and its snapshot in one statement, no read-back


def test_a_retried_run_still_reads_its_node_results_and_clears_stale_logs(platform):
    run_id = platform.accept("t", {"x": 4})["run_id"]
    dispatch_one(platform)
    platform.db._write("UPDATE runs SET status='failed' WHERE id=?", (run_id,))
    platform.retry(run_id)
    seen = statements(platform)
    dispatch_one(platform)
    assert [s for s in seen if "FROM node_results" in s]
    assert [s for s in seen if s.startswith("DELETE FROM node_logs")]
    record = platform.db.run(run_id)
    assert record["status"] == "succeeded"
    assert record["nodes"]["plain"]["restored"] and record["nodes"]["odd"]["restored"]


def test_a_resumed_run_reads_its_node_results(platform):
    run_id = platform.accept("t", {"x": 4})["run_id"]
    platform.db.run_started(run_id)  # as if a replica started it and died
    platform.db.node_done(run_id, "plain", {"x": 5})
    seen = statements(platform)
    dispatch_one(platform)
    assert [s for s in seen if "FROM node_results" in s]
    record = platform.db.run(run_id)
    assert record["nodes"]["plain"]["restored"] is True
    assert record["outputs"]["odd"]["pair"] == [5, 6]  # odd ran on the restored value


def test_a_waiter_gets_the_run_exactly_as_the_journal_reads_it(platform):
    waiter: Future = Future()
    run_id = platform.accept("t", {"x": 4}, waiter)["run_id"]
    dispatch_one(platform)
    answer = waiter.result(timeout=5)
    assert answer == platform.db.run(run_id)
    assert answer["outputs"] == {"odd": {"pair": [5, 6], "by_int": {"1": "one"}, "f": 1.25}}


def test_a_held_result_keeps_the_structure_not_the_callables(platform):
    from dagforge.profiling import Profile

    run_id = platform.accept("t", {"x": 4})["run_id"]
    dispatch_one(platform)
    held = platform.result(run_id)
    assert held.dag.nodes == ["plain", "odd"] and held.dag.edges == [("plain", "odd")]
    assert held.dag.task("plain") is None and held.planner is None  # no SpecCall, no planner
    assert held.results["odd"].value["pair"] == (5, 6)  # DAGit's output routes read this
    profile = Profile.from_result(held).to_dict()
    assert profile["dag_structure"]["nodes"] == ["plain", "odd"]


def test_a_held_failed_run_does_not_keep_the_function_s_locals(platform):
    import gc

    import odd_outputs

    platform.register_trigger(
        {"trigger_name": "f", "type": "function", "priority": "gold", "functions": ["fails"]}
    )
    run_id = platform.accept("f", {})["run_id"]
    dispatch_one(platform)
    held = platform.result(run_id)
    [name] = [n for n, r in held.results.items() if r.status == "failed"]
    assert "fails on purpose" in held.results[name].traceback  # the text is kept
    gc.collect()
    assert odd_outputs.HELD and odd_outputs.HELD[-1]() is None  # the frames are not
