"""Dynamic DAGs: rules, run-time fan-out, nesting, bad bodies, conditional edges."""

from __future__ import annotations

import random

import pytest

from dagforge import DAG, DynamicGraphError, Executor, ResourcePool
from dagforge.dynamic import Rule, rule

BACKENDS = ["inline", "threads", "processes", "asyncio"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_reduce_width_known_only_at_run_time(backend):
    width = random.Random(7).randint(3, 9)
    dag = DAG()
    dag.add_node("files", lambda: [f"file{i}" for i in range(width)])
    dag.map("files", len, name="size", reduce=lambda *xs: list(xs), reduce_name="sizes")
    result = Executor(dag, backend=backend, max_workers=2).execute()
    assert result.ok
    assert result.outputs == {"sizes": [len(f"file{i}") for i in range(width)]}
    assert result.succeeded == width + 2
    assert len(dag) == 1  # the user's DAG is untouched; the run grew its own copy
    assert len(result.dag) == width + 2


def test_adage_two_rules_reduce_waits_until_the_map_tag_is_settled():
    dag = DAG()
    dag.add_node("download", lambda: [3, 1, 2])

    def add_maps(b):
        for k in range(len(b.view.value("download"))):
            b.add_node(
                f"process{k}", lambda items, k=k: items[k] * 10, after=["download"], tags=["pdf"]
            )

    seen_settled = []

    def ready_to_merge(view):
        seen_settled.append(view.settled("pdf"))
        return view.all_done("pdf") and view.done("download")

    dag.add_rule(Rule(lambda v: v.succeeded("download"), add_maps, tags=["pdf"]))
    dag.add_rule(
        Rule(
            ready_to_merge,
            lambda b: b.add_node("merge", lambda *xs: sorted(xs), after=b.view.by_tag("pdf")),
        )
    )
    result = Executor(dag, backend="threads", max_workers=2).execute()
    assert result.outputs == {"merge": [10, 20, 30]}
    assert seen_settled[0] is False  # while the map rule was pending
    order = result.execution_order
    assert order.index("merge") > max(order.index(f"process{k}") for k in range(3))


def test_rules_that_add_rules_two_levels_deep():
    dag = DAG()
    dag.add_node("root", lambda: 2)

    def level1(b):
        b.add_node("l1", lambda r: r + 1, after=["root"])

        @rule(lambda v: v.succeeded("l1"), name="level2")
        def level2(b2):
            for k in range(b2.view.value("l1")):
                b2.add_node(f"l2_{k}", lambda x, k=k: x * k, after=["l1"])

        b.add_rule(level2)

    dag.add_rule(Rule(lambda v: v.succeeded("root"), level1, name="level1"))
    result = Executor(dag).execute()
    assert result.ok
    assert {n: result.results[n].value for n in ("l2_0", "l2_1", "l2_2")} == {
        "l2_0": 0,
        "l2_1": 3,
        "l2_2": 6,
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (lambda b: b.add_node("new", lambda: 1).add_edge("new", "b"), "'new' -> 'b'"),
        (lambda b: b.add_node("b", lambda: 1), "node 'b'"),
        (lambda b: b.remove_node("a"), "remove node 'a'"),
        (lambda b: b.add_node("x", lambda: 1).add_edge("ghost", "x"), "'ghost'"),
    ],
)
def test_bad_bodies_fail_cleanly_with_nothing_half_added(body, fragment):
    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("b", lambda: 2)
    dag.add_rule(Rule(lambda v: v.succeeded("a"), body, name="bad"))
    with pytest.raises(DynamicGraphError) as err:
        Executor(dag).execute()
    assert "bad" in str(err.value) and fragment in str(err.value)
    partial = err.value.result
    assert partial.status == "failed"
    assert "x" not in partial.dag and "new" not in partial.dag


def test_predicate_errors_become_dynamic_graph_errors_naming_the_rule():
    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_rule(Rule(lambda v: 1 / 0, lambda b: None, name="divider"))
    with pytest.raises(DynamicGraphError, match=r"divider.*ZeroDivisionError"):
        Executor(dag).execute()


def test_new_nodes_honour_priorities_and_resources():
    dag = DAG()
    dag.add_node("seed", lambda: None)

    def body(b):
        b.add_node("low", lambda _: "low", after=["seed"], priority=1)
        b.add_node("high", lambda _: "high", after=["seed"], priority=9)
        b.add_node("gpu", lambda _: "gpu", after=["seed"], resources={"gpu": 1})

    dag.add_rule(Rule(lambda v: v.succeeded("seed"), body))
    pool = ResourcePool(capacities={"gpu": 1})
    result = Executor(dag, resource_pool=pool).execute()
    order = result.execution_order
    assert order.index("high") < order.index("low")
    assert pool.timeline.peak_utilization()["gpu"] == 1.0


def test_conditional_edges_skip_with_a_reason_not_a_failure():
    dag = DAG()
    dag.add_node("check", lambda: {"quantity": 5})
    dag.add_node("refill", lambda c: "refilled")
    dag.add_node("full", lambda c: "full")
    dag.add_node("after_refill", lambda r: r + "!")
    dag.add_node("report", lambda *xs: [x for x in xs if x])
    dag.add_edge("check", "refill", when=lambda out: out["quantity"] < 10)
    dag.add_edge("check", "full", when=lambda out: out["quantity"] >= 10)
    dag.add_edge("refill", "after_refill")
    dag.add_edge("after_refill", "report")
    dag.add_edge("full", "report")
    result = Executor(dag, backend="threads").execute()
    assert result.ok and result.failed == 0
    assert result.results["full"].status == "skipped"
    assert "switched off" in result.results["full"].reason
    assert result.results["report"].value == ["refilled!"]  # reachable through a live path


def test_false_condition_skips_everything_only_reachable_through_it():
    dag = DAG()
    dag.add_node("a", lambda: 0)
    dag.add_node("b", lambda a: a)
    dag.add_node("c", lambda b: b)
    dag.add_edge("a", "b", when=bool)
    dag.add_edge("b", "c")
    result = Executor(dag).execute()
    assert [result.results[n].status for n in "abc"] == ["succeeded", "skipped", "skipped"]
