"""DAGBuilder's staged construction: the same DAG as add_node/add_edge, checks kept.

The builder stages nodes and edges in flat lists and moves them into the DAG in one
pass at ``build()`` (the cheap path of a 1,000,000-node build); these tests hold it to
building exactly what the one-by-one path builds, and to naming every culprit.
"""

from __future__ import annotations

import gc
import random
from typing import Any

import pytest

from dagforge import DAG, Task
from dagforge.errors import (
    CycleError,
    DuplicateNodeError,
    GraphError,
    OptionError,
    UnknownNodeError,
)
from dagforge.graph import DAGBuilder


def structure(d: DAG) -> dict[str, Any]:
    """Everything the engine reads from a DAG, compared as plain values."""
    return {
        "names": list(d._names),
        "index": dict(d._index),
        "succ": [list(x) for x in d._succ],
        "pred": [list(x) for x in d._pred],
        "tasks": list(d._tasks),
        "opts": [repr(o) for o in d._opts],  # NodeOptions compare by identity
        "routes": dict(d._routes),
        "conditions": dict(d._conditions),
        "n_edges": d._n_edges,
        "topo": d._topo,
        "bindings": dict(d._bindings),
    }


def random_dag(seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    names = [f"v{i}" for i in rng.sample(range(1000), n)]
    edges = []
    for j in range(1, n):
        for i in rng.sample(range(j), min(j, rng.randint(0, 4))):
            edges.append((names[i], names[j]))
    rng.shuffle(edges)  # insertion order is the parents' positional order: keep it random
    return names, edges


@pytest.mark.parametrize("seed", range(25))
def test_staged_build_equals_one_by_one_build(seed):
    names, edges = random_dag(seed)
    plain = DAG()
    b = DAG.builder()
    for name in names:
        plain.add_node(name)
        b.add_node(name)
    for u, v in edges:
        plain.add_edge(u, v)
        b.add_edge(u, v)
    built = b.build()
    plain.validate()
    assert structure(built) == structure(plain)
    assert built.edges == plain.edges and built.topological_order() == plain.topological_order()
    # and it runs: every node once, parents' values in edge-insertion order
    got = built.execute({n: (lambda *a: 1 + sum(a)) for n in names})
    want = plain.execute({n: (lambda *a: 1 + sum(a)) for n in names})
    assert got.ok and {n: got[n].value for n in names} == {n: want[n].value for n in names}


def test_tasks_options_routes_and_conditions_are_staged_too():
    class Out(Task):
        outputs = ["x", "y"]

        def compute(self, cfg=None):
            return {"x": 1, "y": 2}

    class In(Task):
        inputs = ["z"]
        outputs = ["w"]
        priority = 4

        def compute(self, cfg=None, z=None):
            return {"w": z}

    def when(value: Any) -> bool:
        return True

    def fn(a: Any) -> Any:
        return a

    out, into = Out(), In()

    def build(d: DAG | DAGBuilder) -> Any:
        d.add_node("out", out)
        d.add_node("in", into, retries=2)
        d.add_node("p", None, priority=3)
        d.add_node("q", fn)
        d.add_edge("out", "in", {"y": "z"})
        d.add_edge("p", "q", when=when)
        return d

    plain = build(DAG()).validate()
    staged = build(DAG.builder()).build()
    assert structure(staged) == structure(plain)
    assert staged.options("in").priority == 4 and staged.options("in").retries == 2
    assert staged.options("p").priority == 3
    assert staged.execute({"p": lambda: 5})["in"].value == {"w": 2}


def test_names_and_options_are_checked_at_once():
    b = DAG.builder().add_node("extract")
    with pytest.raises(DuplicateNodeError, match="'extract'"):
        b.add_node("extract")
    with pytest.raises(GraphError, match="non-empty strings, got ''"):
        b.add_node("")
    with pytest.raises(GraphError, match="got 3"):
        b.add_node(3)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="'bad'"):
        b.add_node("bad", priority="high")
    with pytest.raises(UnknownNodeError, match=r"edge target 'extrat'.*did you mean 'extract'"):
        b.add_edge("extract", "extrat")
    with pytest.raises(UnknownNodeError, match="edge source 'nope'"):
        b.add_edge("nope", "extract")
    with pytest.raises(KeyError):  # an UnknownNodeError is a KeyError
        b.add_edge("extract", ["not", "a", "name"])  # type: ignore[arg-type]
    with pytest.raises(UnknownNodeError, match=r"edge source \['not'\]"):
        b.add_edge(["not"], "extract")  # type: ignore[arg-type]
    with pytest.raises(CycleError, match="extract -> extract"):
        b.add_edge("extract", "extract")
    # none of the refused calls left anything behind
    assert b.build().nodes == ["extract"] and b.build().edges == []


def test_a_duplicate_edge_is_named_at_build_and_leaves_the_dag_empty():
    b = DAG.builder().add_node("a").add_node("b").add_node("c")
    b.add_edge("a", "b").add_edge("b", "c").add_edge("a", "b")
    with pytest.raises(GraphError, match="edge 'a' -> 'b' already exists"):
        b.build()
    assert len(b._dag) == 0 and b._dag.edge_count == 0


def test_a_cycle_is_found_at_build():
    b = DAG.builder().add_node("x").add_node("a").add_node("b").add_node("c")
    b.add_edge("x", "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "a")
    with pytest.raises(CycleError) as err:
        b.build()
    assert err.value.cycle == ["a", "b", "c", "a"]


def test_after_build_the_builder_edits_the_built_dag():
    b = DAG.builder().add_node("a")
    d = b.build()
    b.add_node("b").add_edge("a", "b")
    assert d.nodes == ["a", "b"] and d.edges == [("a", "b")]
    with pytest.raises(GraphError, match="'a' -> 'b' already exists"):
        b.add_edge("a", "b")  # the DAG's own, immediate check
    assert b.build() is d and d.topological_order() == ["a", "b"]


def test_a_builder_over_a_dag_with_nodes_adds_to_it():
    d = DAG().add_node("a").add_node("b").add_edge("a", "b")
    b = DAGBuilder(d).add_node("c").add_edge("b", "c").add_edge("a", "c", when=bool)
    with pytest.raises(UnknownNodeError, match="'zz'"):
        b.add_edge("zz", "c")
    assert b.build() is d
    assert d.edges == [("a", "b"), ("a", "c"), ("b", "c")]
    assert d.predecessors("c") == ["b", "a"] and (0, 2) in d._conditions
    dup = DAGBuilder(d).add_edge("a", "b")
    with pytest.raises(GraphError, match="'a' -> 'b' already exists"):
        dup.build()


def test_a_builder_over_a_dag_changed_behind_it_still_builds_right():
    d = DAG()
    b = DAGBuilder(d).add_node("x")
    d.add_node("y")  # behind the builder's back: its staged "x" must not take y's index
    b.add_node("z").add_edge("x", "z")
    b.build()
    assert d.nodes == ["y", "x", "z"] and d.edges == [("x", "z")]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        b = DAG.builder().add_nodes(["a", "b"]).add_edge("a", "b")
        b.build()
        assert gc.isenabled() is enabled
        b2 = DAG.builder().add_nodes(["a", "b"]).add_edge("a", "b").add_edge("a", "b")
        with pytest.raises(GraphError):
            b2.build()
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_an_empty_builder_builds_an_empty_dag():
    d = DAG.builder(name="empty").build()
    assert len(d) == 0 and d.name == "empty" and d.topological_order() == []
