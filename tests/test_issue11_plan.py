"""Issue 11: inline per-run setup is compiled once per DAG version and reused."""

from __future__ import annotations

import pytest

from dagforge import DAG, Executor


def layered() -> DAG:
    d = DAG()
    for k in range(6):
        d.add_node(f"r{k}", lambda k=k: k)
    for k in range(6):
        d.add_node(f"s{k}", lambda a, b: a + b)
        d.add_edge(f"r{k}", f"s{k}").add_edge(f"r{(k + 1) % 6}", f"s{k}")
    d.add_node("sink", lambda *xs: sum(xs))
    for k in range(6):
        d.add_edge(f"s{k}", "sink")
    return d


def test_a_second_run_reuses_the_plan_and_gives_the_same_result():
    d = layered()
    first = Executor(d).execute()
    plan = d._plan
    assert plan is not None
    second = Executor(d).execute()
    assert d._plan is plan
    assert second["sink"].value == first["sink"].value == 30
    assert second.execution_order == first.execution_order
    assert [r.status for r in second.results.values()] == ["succeeded"] * len(d)
    assert all(r.worker == "main" for r in second.results.values())
    assert all(len(r.attempts) <= 1 for r in second.results.values())


def test_any_mutation_drops_the_plan():
    d = layered()
    d.execute()
    d.set_task("sink", lambda *xs: -sum(xs))
    assert d._plan is None
    assert d.execute()["sink"].value == -30
    d.set_options("r0", priority=5)
    assert d._plan is None
    assert d.execute().execution_order[0] == "r0"
    d.add_node("extra", lambda: "new")
    assert d.execute()["extra"].value == "new"


def test_other_callables_are_not_served_from_an_old_plan():
    d = DAG().add_node("a").add_node("b").add_edge("a", "b")
    assert d.execute({"a": lambda: 1, "b": lambda x: x + 1})["b"].value == 2
    assert d.execute({"a": lambda: 10, "b": lambda x: x * 3})["b"].value == 30


def test_compiled_order_matches_the_heap_order_of_a_general_run():
    d = layered()
    compiled = Executor(d).execute().execution_order
    traced = Executor(d, callbacks=__import__("dagforge").ExecutionCallbacks()).execute()
    assert compiled == traced.execution_order


@pytest.mark.parametrize("fail_fast", [True, False])
def test_a_failure_leaves_the_compiled_order_with_the_same_semantics(fail_fast):
    d = layered()
    d.set_task("s2", lambda a, b: 1 / 0)
    d.execute()  # compile
    r = Executor(d, fail_fast=fail_fast).execute()
    assert r["s2"].status == "failed" and isinstance(r["s2"].error, ZeroDivisionError)
    assert r["sink"].status == "skipped"
    ran = r.execution_order
    if fail_fast:
        assert ran[-1] == "s2"  # nothing started after the failure
    else:
        assert all(r[f"s{k}"].status == "succeeded" for k in (0, 1, 3, 4, 5))
        assert r.succeeded == len(d) - 2


def test_keyboard_interrupt_inside_a_compiled_run_cancels_it():
    d = layered()

    def ctrl_c(a, b):
        raise KeyboardInterrupt

    d.set_task("s3", ctrl_c)
    r = Executor(d).execute()
    assert r.interrupted and r.status == "cancelled"
    assert r["s3"].status == "cancelled"
    assert "while it was running" in r["s3"].reason
    assert all(r[f"r{k}"].status == "succeeded" for k in range(6))


def test_prepare_compiles_the_plan_the_first_run_then_uses():
    d = DAG().add_node("a").add_node("b").add_edge("a", "b")
    fns = {"a": lambda: 2, "b": lambda x: x * 5}
    assert d.prepare(fns) is d
    plan = d._plan
    assert plan is not None and plan.schedules  # the inline order is compiled too
    assert d.execute(fns)["b"].value == 10
    assert d._plan is plan


def test_a_successful_first_run_teaches_the_order_a_failed_one_does_not():
    d = layered()
    d.set_task("s1", lambda a, b: 1 / 0)
    Executor(d, fail_fast=False).execute()
    assert not d._plan.schedules  # a failed run's order is not every node's
    d.set_task("s1", lambda a, b: a * b)
    first = Executor(d).execute()
    assert d._plan.schedules[True] == [d._index[n] for n in first.execution_order]
    assert Executor(d).execute().execution_order == first.execution_order


def test_a_non_callable_task_is_named_with_every_other_problem():
    d = DAG().add_node("a", 5).add_node("b", 6).add_node("c", lambda: 1)
    with pytest.raises(Exception) as err:
        d.execute()
    assert [node for node, _ in err.value.errors] == ["a", "b"]
    assert "node 'b' is not callable: 6" in err.value.errors[1][1]


def test_a_pickled_dag_leaves_its_plan_behind():
    import copy
    import pickle

    d = DAG().add_node("a").add_node("b")
    d.execute({"a": lambda: "xy", "b": lambda: "z"})
    assert d._plan is not None
    clone = pickle.loads(pickle.dumps(d))
    assert clone._plan is None and clone.nodes == ["a", "b"]
    assert copy.deepcopy(d)._plan is None
