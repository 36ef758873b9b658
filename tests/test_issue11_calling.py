"""Issue 11: the calling convention of plain callables, all problems at once, empty map."""

from __future__ import annotations

import functools

import pytest

from dagforge import DAG, Executor, Rule, Task
from dagforge.errors import (
    DynamicGraphError,
    GraphValidationError,
    MissingInputError,
    SignatureError,
)


def work(n):
    return f"work({n})"


def test_defaults_are_never_filled_from_parents_the_lambda_idiom_works():
    names = ["a", "b", "c"]
    d = DAG()
    for n in names:
        d.add_node(n, lambda n=n: work(n))
    d.add_edge("a", "c").add_edge("b", "c")
    r = Executor(d, backend="threads", max_workers=2).execute()
    assert {n: r[n].value for n in names} == {n: f"work({n})" for n in names}


def test_required_positionals_take_parents_in_edge_order_and_defaults_stay():
    d = DAG()
    d.add_node("x", lambda: 1).add_node("y", lambda: 2)
    d.add_node("f", lambda second, first, scale=10: (second, first, scale))
    d.add_edge("y", "f").add_edge("x", "f")  # edge order: y first
    assert d.execute()["f"].value == (2, 1, 10)


def test_star_args_takes_every_parent():
    d = DAG()
    for k in range(4):
        d.add_node(f"p{k}", lambda k=k: k)
    d.add_node("total", lambda head, *rest: (head, rest))
    for k in range(4):
        d.add_edge(f"p{k}", "total")
    assert d.execute()["total"].value == (0, (1, 2, 3))


def test_partial_and_callable_objects_follow_the_same_rules():
    class Scale:
        def __call__(self, v, factor=3):
            return v * factor

    d = DAG()
    d.add_node("v", lambda: 2)
    d.add_node("obj", Scale()).add_edge("v", "obj")
    d.add_node("part", functools.partial(lambda a, b: a + b, 100)).add_edge("v", "part")
    r = d.execute()
    assert r["obj"].value == 6 and r["part"].value == 102


def two(a, b):
    return a + b


def test_a_callable_that_cannot_take_its_parents_is_refused_at_build():
    b = DAG.builder()
    b.add_node("only", lambda: 1).add_node("needs_two", two).add_edge("only", "needs_two")
    with pytest.raises(SignatureError) as err:
        b.build()
    msg = str(err.value)
    assert "'needs_two'" in msg and "'only'" in msg and "two(a, b)" in msg
    assert err.value.errors == [("needs_two", msg)]


def test_execute_refuses_given_callables_before_anything_runs():
    ran = []
    d = DAG().add_node("a").add_node("b").add_edge("a", "b")
    with pytest.raises(SignatureError, match=r"'b'.*\['a'\]"):
        d.execute({"a": lambda: ran.append("a"), "b": lambda x, y: None})
    assert ran == []


def test_required_keyword_only_parameters_are_refused():
    d = DAG().add_node("a", lambda: 1).add_node("k", lambda *, x: x).add_edge("a", "k")
    with pytest.raises(SignatureError, match="keyword-only"):
        d.validate()


def test_every_signature_problem_is_reported_at_once():
    d = DAG().add_node("a", lambda: 1)
    d.add_node("b", two).add_node("c", two)
    d.add_edge("a", "b").add_edge("a", "c")
    with pytest.raises(GraphValidationError) as err:
        d.validate()
    assert [node for node, _ in err.value.errors] == ["b", "c"]
    assert all(isinstance(p, SignatureError) for p in err.value.problems)


def test_a_rule_adding_an_uncallable_node_ends_the_run_naming_it():
    d = DAG().add_node("src", lambda: 1)
    d.add_rule(Rule(lambda v: v.succeeded("src"), lambda b: b.add_node("bad", two, after=["src"])))
    with pytest.raises(DynamicGraphError, match=r"'bad'.*two\(a, b\)"):
        d.execute()


# -- all problems at once ---------------------------------------------------------------------


class Needs(Task):
    inputs = ("alpha", "beta")
    outputs = ("out",)

    def compute(self, alpha, beta, cfg=None):
        return {"out": alpha + beta}


class NeedsGamma(Task):
    inputs = ("gamma",)
    outputs = ("out",)

    def compute(self, gamma, cfg=None):
        return {"out": gamma}


def test_a_dag_missing_several_inputs_names_them_all():
    with pytest.raises(GraphValidationError) as err:
        DAG(tasks={"n": Needs(), "g": NeedsGamma()}, edges=[])
    e = err.value
    assert [node for node, _ in e.errors] == ["n", "g"]
    assert all(isinstance(p, MissingInputError) for p in e.problems)
    assert "'alpha', 'beta'" in e.errors[0][1] and "'gamma'" in e.errors[1][1]
    assert "'n'" in str(e) and "'g'" in str(e)


def test_missing_run_inputs_are_all_named():
    d = DAG(tasks={"n": Needs(), "g": NeedsGamma()}, edges=[], inputs=["alpha", "beta", "gamma"])
    with pytest.raises(GraphValidationError) as err:
        d.execute(alpha=1)
    assert [node for node, _ in err.value.errors] == ["n", "g"]
    assert "'beta'" in err.value.errors[0][1]


def test_one_problem_keeps_its_own_type_and_has_errors():
    with pytest.raises(MissingInputError) as err:
        DAG(tasks={"g": NeedsGamma()}, edges=[])
    assert err.value.errors == [("g", str(err.value))]


# -- dag.map over nothing -------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["inline", "threads"])
def test_map_over_an_empty_list_calls_reduce_with_no_arguments(backend):
    calls = []

    def reduce(*values):
        calls.append(values)
        return len(values)

    d = DAG().add_node("src", lambda: [])
    d.map("src", lambda x: x * 2, name="double", reduce=reduce)
    r = Executor(d, backend=backend).execute()
    assert calls == [()]
    assert r["double.reduce"].value == 0
    assert r.execution_order.index("src") < r.execution_order.index("double.reduce")


def test_map_reduce_without_defaults_gets_no_arguments_when_empty():
    d = DAG().add_node("src", lambda: [])
    d.map("src", lambda x: x, name="m", reduce=lambda: "nothing to reduce")
    assert d.execute()["m.reduce"].value == "nothing to reduce"


def test_a_cycle_is_reported_with_the_other_problems():
    from dagforge.errors import CycleError

    d = DAG().add_node("a", lambda x: x).add_node("b", lambda x: x).add_node("c", two)
    d.add_edge("a", "b").add_edge("b", "a").add_edge("a", "c")
    with pytest.raises(GraphValidationError) as err:
        d.validate()
    kinds = [type(p) for p in err.value.problems]
    assert kinds == [CycleError, SignatureError]
    assert "a -> b -> a" in err.value.errors[0][1]
