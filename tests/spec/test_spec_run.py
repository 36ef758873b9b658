"""Running specs on the engine (runner.py): loops, conditions, joins, the bound, stores,
resume. The planner's own semantics are tested without an engine in test_spec_planner.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from spec_helpers import node

from dagforge.errors import LoopLimitError, SpecError, UnknownFunctionError
from dagforge.spec import FunctionRegistry, run_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

import spec_functions  # noqa: E402


def registry(**fns):
    reg = FunctionRegistry()
    for name, fn in fns.items():
        reg.register(name, fn)
    return reg


@pytest.mark.parametrize("backend", ["inline", "threads", "processes", "asyncio"])
def test_glass_of_water_unrolls_the_loop_into_instances(backend):
    reg = FunctionRegistry().from_module(spec_functions)
    result = run_workflow(
        EXAMPLES / "specs" / "filling-a-glass-of-water.json", reg, {"quantity": 0}, backend=backend
    )
    assert result.ok
    assert result.workflow_outputs == {
        "glass_full": {"message": "glass full at 1000 ml", "quantity": 1000}
    }
    order = result.execution_order
    assert order[:4] == ["check_if_full", "add_water", "check_if_full#2", "add_water#2"]
    assert sum(n.startswith("add_water") for n in order) == 4
    assert order[-1] == "glass_full"
    # what ran is a DAG: each instance depends on the one before it
    assert result.dag.predecessors("add_water#2") == ["check_if_full#2"]
    assert result.dag.predecessors("check_if_full#2") == ["add_water"]


def test_sentiment_report_uses_outputs_from_both_earlier_nodes():
    reg = FunctionRegistry().from_module(spec_functions)
    text = "I love this product. The delivery was slow and the box was broken. Not bad."
    result = run_workflow(EXAMPLES / "specs" / "text-sentiment-analysis.json", reg, {"text": text})
    report = result.workflow_outputs["create_sentiment_report"]
    labels = [row["label"] for row in report["report"]]
    assert labels == ["positive", "negative", "positive"]
    assert report["report"][1]["sentence"].startswith("The delivery")


def test_condition_takes_the_right_branch():
    doc = {
        "name": "parity",
        "dag": [
            node(
                "classify",
                "condition",
                condition={"source": "result", "operator": "equals", "target": "even"},
                branch_1="on_even",
                branch_2="on_odd",
            ),
            node("on_even", outputs_from=["classify"]),
            node("on_odd", outputs_from=["classify"]),
        ],
    }
    reg = registry(
        classify=lambda n, **_: {"result": "even" if n % 2 == 0 else "odd", "n": n},
        on_even=lambda n, **_: {"msg": f"{n} is even"},
        on_odd=lambda n, **_: {"msg": f"{n} is odd"},
    )
    assert run_workflow(doc, reg, {"n": 4}).workflow_outputs == {"on_even": {"msg": "4 is even"}}
    assert run_workflow(doc, reg, {"n": 7}).workflow_outputs == {"on_odd": {"msg": "7 is odd"}}


def test_parallel_branches_run_concurrently_and_join_once():
    import threading

    barrier = threading.Barrier(2, timeout=5)

    def branch(tag):
        def fn(x, **_):
            barrier.wait()  # both branches must be running at the same time
            return {tag: x * (2 if tag == "left" else 3)}

        return fn

    doc = {
        "name": "fanout",
        "dag": [
            node("start", "parallel", next=["left", "right"]),
            node("left", next="join", outputs_from=["start"]),
            node("right", next="join", outputs_from=["start"]),
            node("join", outputs_from=["left", "right"]),
        ],
    }
    reg = registry(
        start=lambda x, **_: {"x": x},
        left=branch("left"),
        right=branch("right"),
        join=lambda left, right, **_: {"sum": left + right},
    )
    result = run_workflow(doc, reg, {"x": 5}, backend="threads", max_workers=2)
    assert result.workflow_outputs == {"join": {"sum": 25}}
    assert [n for n in result.execution_order if n.startswith("join")] == ["join"]
    assert set(result.dag.predecessors("join")) == {"left", "right"}


def test_later_outputs_from_win_and_arguments_are_overlaid():
    doc = {
        "name": "overlay",
        "dag": [
            node("a", next="b"),
            node("b", next="c", outputs_from=["a"]),
            node("c", outputs_from=["a", "b"]),
        ],
    }
    seen = {}
    reg = registry(
        a=lambda **kw: {"v": "from a", "only_a": 1},
        b=lambda **kw: {"v": "from b"},
        c=lambda **kw: seen.update(kw) or {"ok": True},
    )
    run_workflow(doc, reg, {"v": "from trigger", "arg": 7})
    assert seen == {"v": "from b", "only_a": 1, "arg": 7}


def test_loop_bound_ends_the_run_with_loop_limit_error():
    doc = json.loads((EXAMPLES / "specs" / "filling-a-glass-of-water.json").read_text())
    doc["max_iterations"] = 3
    reg = FunctionRegistry().from_module(spec_functions)
    with pytest.raises(LoopLimitError, match=r"'check_if_full'.*loop bound of 3") as err:
        run_workflow(doc, reg, {"quantity": 0, "step": 100})
    partial = err.value.result
    assert partial.status == "failed"
    assert sum(n.startswith("add_water") for n in partial.execution_order) == 3


def test_missing_condition_source_is_a_spec_error_naming_instance_and_key():
    doc = {
        "name": "bad",
        "dag": [
            node(
                "check",
                "condition",
                condition={"source": "level", "operator": "less_than", "target": 3},
                branch_1="check",
                branch_2="end",
            ),
            node("end"),
        ],
    }
    reg = registry(check=lambda **_: {"quantity": 1}, end=lambda **_: {})
    with pytest.raises(SpecError, match=r"'check'.*'level'"):
        run_workflow(doc, reg, {})


def test_unknown_functions_are_reported_before_anything_runs():
    ran = []
    doc = {"name": "x", "dag": [node("a", next="b"), node("b", next="c"), node("c")]}
    reg = registry(a=lambda **_: ran.append("a") or {})
    with pytest.raises(UnknownFunctionError) as err:
        run_workflow(doc, reg, {})
    assert err.value.missing == ["b", "c"]
    assert ran == []


def test_outputs_are_stored_by_key_and_a_run_resumes_from_completed(tmp_path):
    from dagforge.store import LocalDirStore, get_value

    store = LocalDirStore(tmp_path / "data")
    calls = []

    def counted(name, fn):
        def wrapper(**kw):
            calls.append(name)
            return fn(**kw)

        return wrapper

    reg = registry(
        **{
            n: counted(n, getattr(spec_functions, n))
            for n in ("check_if_full", "add_water", "glass_full")
        }
    )
    doc = EXAMPLES / "specs" / "filling-a-glass-of-water.json"
    first = run_workflow(doc, reg, {"quantity": 500}, store=store, run_id="run1")
    assert get_value(store, "run1/add_water-2/quantity") == 1000
    assert get_value(store, "run1/glass_full/message") == "glass full at 1000 ml"
    journal = {n: first.results[n].value for n in ("check_if_full", "add_water")}
    calls.clear()
    again = run_workflow(doc, reg, {"quantity": 500}, completed=journal, run_id="run2")
    assert again.workflow_outputs == first.workflow_outputs
    # the journaled first two instances are restored, not called again
    assert calls == ["check_if_full", "add_water", "check_if_full", "glass_full"]
    assert again.execution_order[:2] == ["check_if_full", "add_water"]
