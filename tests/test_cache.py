"""Content-addressed caching, checkpoints and partial runs."""

from __future__ import annotations

import pytest

from dagforge import DAG, Executor


def counting_dag(calls: dict[str, int], scale: int = 2) -> DAG:
    def make(name, fn):
        def wrapped(*args):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args)

        wrapped.__qualname__ = f"node_{name}"
        return wrapped

    dag = DAG()
    dag.add_node("load", make("load", lambda: [1, 2, 3]))
    dag.add_node("double", make("double", lambda xs: [x * scale for x in xs]))
    dag.add_node("other", make("other", lambda xs: len(xs)))
    dag.add_node("total", make("total", lambda d, o: sum(d) + o))
    dag.add_edge("load", "double").add_edge("load", "other")
    dag.add_edge("double", "total").add_edge("other", "total")
    return dag


def test_unchanged_rerun_executes_nothing(tmp_path):
    calls: dict[str, int] = {}
    first = Executor(counting_dag(calls), cache=tmp_path).execute()
    assert first.outputs == {"total": 15} and first.restored == 0
    second = Executor(counting_dag(calls), cache=tmp_path).execute()
    assert second.outputs == {"total": 15}
    assert second.restored == 4
    assert calls == {"load": 1, "double": 1, "other": 1, "total": 1}


def test_a_change_reruns_only_what_depends_on_it(tmp_path):
    calls: dict[str, int] = {}
    Executor(counting_dag(calls), cache=tmp_path).execute()
    dag = counting_dag(calls)
    dag.set_task("double", lambda xs: [x * 3 for x in xs])  # new code for one node
    result = Executor(dag, cache=tmp_path).execute()
    assert result.outputs == {"total": 21}
    assert result.results["load"].reason == "restored from the result cache"
    assert result.results["other"].reason == "restored from the result cache"
    assert calls["total"] == 2  # its input changed
    assert calls["load"] == 1 and calls["other"] == 1


def test_checkpoint_resumes_a_failed_run_without_rerunning_successes(tmp_path):
    calls: dict[str, int] = {}
    broken = {"yes": True}

    def flaky(d, o):
        if broken["yes"]:
            raise RuntimeError("disk full")
        return sum(d) + o

    dag = counting_dag(calls)
    dag.set_task("total", flaky)
    first = Executor(dag, checkpoint=tmp_path / "ckpt").execute()
    assert first.results["total"].status == "failed"
    broken["yes"] = False
    second = Executor(dag, checkpoint=tmp_path / "ckpt").execute()
    assert second.ok and second.outputs == {"total": 15}
    assert calls == {"load": 1, "double": 1, "other": 1}
    assert second.restored == 3


def test_targets_run_only_what_they_need_and_exclude_drops_descendants():
    calls: dict[str, int] = {}
    result = Executor(counting_dag(calls)).execute(targets=["other"])
    assert set(calls) == {"load", "other"}
    assert result.results["total"].status == "skipped"
    assert "targets" in result.results["total"].reason
    calls.clear()
    result = Executor(counting_dag(calls)).execute(exclude=["double"])
    assert set(calls) == {"load", "other"}
    assert result.results["total"].status == "skipped"


def test_unknown_target_is_named():
    with pytest.raises(KeyError, match="ghost"):
        Executor(counting_dag({})).execute(targets=["ghost"])
