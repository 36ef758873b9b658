"""Authoring and wiring: Config, the Task Standard, DAG construction and its errors.

Every error test checks that the message names the culprit.
"""

from __future__ import annotations

import itertools

import pytest

import dagforge
from dagforge import (
    DAG,
    AmbiguousInputError,
    Config,
    ConfigError,
    CycleError,
    DuplicateNodeError,
    EdgeRoutingError,
    Executor,
    GraphError,
    MissingInputError,
    NodeStateError,
    Task,
    TaskOutputError,
    UnknownNodeError,
    dag,
    task,
)

# -- Config ---------------------------------------------------------------------------------


def test_config_access_copy_and_protocols():
    cfg = Config(N_UE=10000, N_CELL=7)
    assert cfg.N_UE == 10000 and cfg["N_CELL"] == 7
    assert cfg.get("N_SLICE", 5) == 5 and cfg.get("N_UE") == 10000
    assert cfg.to_dict() == {"N_UE": 10000, "N_CELL": 7}
    bigger = cfg.copy(N_UE=20000)
    assert bigger.N_UE == 20000 and cfg.N_UE == 10000
    assert "N_CELL" in cfg and "X" not in cfg
    assert len(cfg) == 2 and list(cfg) == ["N_UE", "N_CELL"]
    assert cfg == Config(N_UE=10000, N_CELL=7) and cfg != bigger
    assert repr(cfg) == "Config(N_UE=10000, N_CELL=7)"
    with pytest.raises(AttributeError, match="read-only"):
        cfg.N_UE = 1
    with pytest.raises(ConfigError, match=r"'missing'.*known"):
        cfg["missing"]
    with pytest.raises(AttributeError, match="'missing'"):
        _ = cfg.missing


# -- Task Standard ----------------------------------------------------------------------------


class Source(Task):
    inputs = []
    outputs = ["data", "labels"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        return {"data": list(range(cfg.N)), "labels": [x % 3 for x in range(cfg.N)]}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 10


class Square(Task):
    inputs = ["data"]
    outputs = ["features"]

    def compute(self, data, cfg=None):
        return {"features": [x * x for x in data]}


class Join(Task):
    inputs = ["features", "labels"]
    outputs = ["pairs"]

    def compute(self, features, labels, cfg=None):
        return {"pairs": list(zip(features, labels, strict=True))}


def test_edges_auto_route_matching_outputs_to_inputs():
    d = DAG(
        tasks={"src": Source(), "sq": Square(), "join": Join()},
        edges=[("src", "sq"), ("src", "join"), ("sq", "join")],
        config=Config(N=4),
    )
    result = d.execute()
    assert result.ok
    assert result.results["join"].value == {"pairs": [(0, 0), (1, 1), (4, 2), (9, 0)]}
    assert result.outputs == {"join": {"pairs": [(0, 0), (1, 1), (4, 2), (9, 0)]}}


def test_rename_and_restrict_routes():
    class Out(Task):
        outputs = ["a", "b"]

        def compute(self, cfg=None):
            return {"a": 1, "b": 2}

    class In(Task):
        inputs = ["x", "b"]
        outputs = ["s"]

        def compute(self, x, b, cfg=None):
            return {"s": (x, b)}

    d = DAG(tasks={"o": Out(), "i": In()}, edges=[("o", "i", {"a": "x", "b": "b"})])
    assert d.execute().results["i"].value == {"s": (1, 2)}

    class OnlyB(Task):
        inputs = ["b"]
        outputs = ["s"]

        def compute(self, b, cfg=None):
            return {"s": b}

    d2 = DAG(tasks={"o": Out(), "i": OnlyB()}, edges=[("o", "i", ["b"])])
    assert d2.execute().results["i"].value == {"s": 2}


def test_task_decorator_and_dag_helper_infer_edges():
    @task(inputs=[], outputs=["data"])
    def source(cfg):
        return {"data": [1.0] * cfg.N}

    @task(inputs=["data"], outputs=["result"], estimate_fn=lambda cfg: cfg.N * 10)
    def process(data, cfg):
        return {"result": [x * 2 for x in data]}

    my_dag = dag(tasks=[source, process], config=Config(N=3))
    assert my_dag.edges == [("source", "process")]
    assert process.estimate_instructions(Config(N=3)) == 30
    assert source.estimate_instructions(Config(N=3)) == 0
    assert my_dag.execute().results["process"].value == {"result": [2.0, 2.0, 2.0]}


def test_task_class_attributes_become_node_options():
    class Heavy(Task):
        outputs = ["x"]
        priority = 7
        is_sequential = True

        def compute(self, cfg=None):
            return {"x": 1}

    d = DAG(tasks={"h": Heavy()}, edges=[])
    assert d.options("h").priority == 7 and d.options("h").exclusive is True
    d2 = DAG(tasks={"h": Heavy()}, edges=[], options={"h": {"priority": 1}})
    assert d2.options("h").priority == 1


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ([1, 2], "must return a dict"),
        ({}, "missing declared output(s) ['features']"),
        ({"features": 1, "extra": 2}, "undeclared output(s) ['extra']"),
    ],
)
def test_task_output_errors_name_node_and_keys(returned, fragment):
    class Bad(Task):
        outputs = ["features"]

        def compute(self, cfg=None):
            return returned

    result = DAG(tasks={"bad": Bad()}, edges=[]).execute()
    err = result.results["bad"].error
    assert isinstance(err, TaskOutputError)
    assert "'bad'" in str(err) and fragment in str(err)


# -- build-time errors -------------------------------------------------------------------------


def test_missing_input_names_node_and_input():
    with pytest.raises(MissingInputError) as err:
        DAG(tasks={"sq": Square()}, edges=[])
    assert "'sq'" in str(err.value) and "'data'" in str(err.value)
    assert err.value.node == "sq" and err.value.inputs == ["data"]


def test_declared_run_inputs_are_accepted_and_required_at_run_time():
    d = DAG(tasks={"sq": Square()}, edges=[], inputs=["data"])
    assert d.execute(data=[3]).results["sq"].value == {"features": [9]}
    with pytest.raises(MissingInputError, match="'data'"):
        d.execute()


def test_ambiguous_input_names_both_parents():
    class A(Task):
        outputs = ["data"]

        def compute(self, cfg=None):
            return {"data": [1]}

    with pytest.raises(AmbiguousInputError) as err:
        DAG(tasks={"a1": A(), "a2": A(), "sq": Square()}, edges=[("a1", "sq"), ("a2", "sq")])
    assert "'a1'" in str(err.value) and "'a2'" in str(err.value) and "'data'" in str(err.value)


def test_edge_routing_nothing_is_an_error():
    with pytest.raises(EdgeRoutingError, match="'sq' -> 'sq2' routes nothing"):
        DAG(
            tasks={"src": Source(), "sq": Square(), "sq2": Square()},
            edges=[("src", "sq"), ("sq", "sq2")],
            config=Config(N=1),
        )


def test_route_naming_unknown_output_is_an_error():
    with pytest.raises(EdgeRoutingError, match="'nope'"):
        DAG(
            tasks={"src": Source(), "sq": Square()},
            edges=[("src", "sq", {"nope": "data"})],
            config=Config(N=1),
        )


def test_unknown_node_in_edge_suggests_a_name():
    with pytest.raises(UnknownNodeError) as err:
        DAG(
            tasks={"src": Source(), "square": Square()},
            edges=[("src", "sqare")],
            config=Config(N=1),
        )
    assert "'sqare'" in str(err.value) and "did you mean 'square'" in str(err.value)


def test_duplicate_names_are_refused():
    d = DAG()
    d.add_node("x")
    with pytest.raises(DuplicateNodeError, match="'x'"):
        d.add_node("x")


def test_cycle_is_named_in_order():
    b = DAG.builder().add_node("a").add_node("b").add_node("c").add_node("d")
    b.add_edge("d", "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "a")
    with pytest.raises(CycleError) as err:
        b.build()
    cycle = err.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"} and len(cycle) == 4
    # the path follows the edges
    edges = {("a", "b"), ("b", "c"), ("c", "a")}
    assert all(pair in edges for pair in itertools.pairwise(cycle))
    assert " -> ".join(cycle) in str(err.value)


def test_self_loop_is_a_cycle():
    d = DAG().add_node("a")
    with pytest.raises(CycleError, match="a -> a"):
        d.add_edge("a", "a")


def test_missing_config_dep_is_named():
    with pytest.raises(ConfigError, match=r"'src'.*\['N'\]"):
        DAG(tasks={"src": Source()}, edges=[], config=Config(M=1))


def test_unknown_option_is_named():
    with pytest.raises(GraphError, match="unknown option 'prio'"):
        DAG().add_node("x", prio=3)


# -- structure queries ----------------------------------------------------------------------------


def diamond() -> DAG:
    return (
        DAG.builder()
        .add_node("a")
        .add_node("b")
        .add_node("c")
        .add_node("d")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .build()
    )


def test_queries():
    d = diamond()
    assert d.nodes == ["a", "b", "c", "d"]
    assert d.edges == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert d.predecessors("d") == ["b", "c"] and d.successors("a") == ["b", "c"]
    assert d.ancestors("d") == {"a", "b", "c"} and d.descendants("b") == {"d"}
    assert d.roots() == ["a"] and d.leaves() == ["d"]
    assert d.topological_order() == ["a", "b", "c", "d"]
    assert d.topological_order() == diamond().topological_order()
    sub = d.subgraph(["a", "b", "d"])
    assert sub.edges == [("a", "b"), ("b", "d")]
    path, total = d.critical_path({"a": 1, "b": 5, "c": 2, "d": 1})
    assert path == ["a", "b", "d"] and total == 7
    assert "n0 --> n1" in d.to_mermaid() and '"a" -> "b";' in d.to_dot()
    with pytest.raises(UnknownNodeError):
        d.successors("zz")


def test_plain_callables_receive_parents_positionally_in_edge_order():
    d = DAG()
    for n in ("x", "y", "z"):
        d.add_node(n)
    d.add_edge("y", "z").add_edge("x", "z")
    result = Executor(d).execute({"x": lambda: "X", "y": lambda: "Y", "z": lambda *a: a})
    assert result.outputs == {"z": ("Y", "X")}


def test_missing_callables_are_reported_before_running():
    ran = []
    d = diamond()
    with pytest.raises(GraphError, match=r"\['c', 'd'\]"):
        Executor(d).execute({"a": lambda: ran.append(1), "b": lambda a: 1})
    assert ran == []
    with pytest.raises(UnknownNodeError, match="'zz'"):
        Executor(d).execute({"zz": lambda: 1})


def test_illegal_transitions_name_node_and_states():
    from dagforge.execution.backends import make_backend
    from dagforge.execution.engine import Run

    run = Run(diamond(), {n: (lambda *a: 1) for n in "abcd"}, make_backend("inline"))
    with pytest.raises(NodeStateError) as err:
        run._set(0, 3)  # pending -> succeeded skips ready and running
    assert "'a'" in str(err.value) and "'pending'" in str(err.value)
    assert "'succeeded'" in str(err.value)


def test_run_cannot_be_started_twice():
    from dagforge.execution.backends import make_backend
    from dagforge.execution.engine import Run

    run = Run(diamond(), {n: (lambda *a: 1) for n in "abcd"}, make_backend("inline"))
    run.run()
    with pytest.raises(NodeStateError, match="new execute"):
        run.begin()


# -- errors (the public surface itself is tested in test_public_api.py) ----------------


def test_every_error_derives_from_the_one_root():
    from dagforge import errors

    classes = [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, Exception) and v.__module__ == errors.__name__
    ]
    assert len(classes) >= 25
    for cls in classes:
        assert issubclass(cls, dagforge.DagforgeError), cls
        assert cls.__doc__ and cls.__doc__.strip().startswith(("Raised", "Root")), cls
