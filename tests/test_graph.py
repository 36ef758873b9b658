"""``DAG``: wiring with routes, every build-time error (each naming its culprit), the builder
API, structure queries and per-node options."""

from __future__ import annotations

import itertools
import random

import pytest

from dagforge import (
    DAG,
    AmbiguousInputError,
    Config,
    ConfigError,
    CycleError,
    DAGBuilder,
    DuplicateNodeError,
    EdgeRoutingError,
    GraphError,
    MissingInputError,
    NodeOptions,
    Task,
    UnknownNodeError,
)


def make_task(name: str, inputs=(), outputs=(), config_deps=()) -> Task:
    """A Task returning, for each output, the tuple (node, output, sorted inputs received)."""

    def compute(self, cfg=None, **kw):
        return {o: (name, o, tuple(sorted(kw.items()))) for o in self.outputs}

    cls = type(
        name,
        (Task,),
        {
            "inputs": list(inputs),
            "outputs": list(outputs),
            "config_deps": list(config_deps),
            "compute": compute,
        },
    )
    return cls()


# -- routing -------------------------------------------------------------------------------------


def test_auto_route_passes_every_output_the_child_declares():
    d = DAG(
        tasks={
            "src": make_task("src", outputs=["a", "b", "unused"]),
            "dst": make_task("dst", inputs=["a", "b"], outputs=["out"]),
        },
        edges=[("src", "dst")],
    )
    out = d.execute().results["dst"].value["out"]
    assert out[2] == (("a", ("src", "a", ())), ("b", ("src", "b", ())))


def test_rename_route_maps_outputs_to_differently_named_inputs():
    d = DAG(
        tasks={
            "src": make_task("src", outputs=["raw", "meta"]),
            "dst": make_task("dst", inputs=["x", "meta"], outputs=["out"]),
        },
        edges=[("src", "dst", {"raw": "x", "meta": "meta"})],
    )
    received = dict(d.execute().results["dst"].value["out"][2])
    assert received == {"x": ("src", "raw", ()), "meta": ("src", "meta", ())}


def test_restrict_route_takes_only_the_listed_fields_from_that_parent():
    # Both parents output "data"; restricting one edge to "labels" removes the ambiguity.
    d = DAG(
        tasks={
            "p1": make_task("p1", outputs=["data", "labels"]),
            "p2": make_task("p2", outputs=["data"]),
            "dst": make_task("dst", inputs=["data", "labels"], outputs=["out"]),
        },
        edges=[("p1", "dst", ["labels"]), ("p2", "dst")],
    )
    received = dict(d.execute().results["dst"].value["out"][2])
    assert received == {"data": ("p2", "data", ()), "labels": ("p1", "labels", ())}


def test_run_arguments_provide_inputs_no_edge_provides():
    d = DAG(
        tasks={
            "src": make_task("src", outputs=["a"]),
            "dst": make_task("dst", inputs=["a", "factor"], outputs=["out"]),
        },
        edges=[("src", "dst")],
        inputs=["factor"],
    )
    received = dict(d.execute(factor=3).results["dst"].value["out"][2])
    assert received == {"a": ("src", "a", ()), "factor": 3}
    with pytest.raises(MissingInputError) as err:
        d.execute()
    assert "'dst'" in str(err.value) and "'factor'" in str(err.value)


# -- build-time errors ---------------------------------------------------------------------------


def test_missing_input_names_node_and_input():
    with pytest.raises(MissingInputError) as err:
        DAG(
            tasks={
                "src": make_task("src", outputs=["a"]),
                "dst": make_task("dst", inputs=["a", "b"], outputs=["out"]),
            },
            edges=[("src", "dst")],
        )
    assert "'dst'" in str(err.value) and "'b'" in str(err.value) and "'a'" not in str(err.value)
    assert err.value.node == "dst" and err.value.inputs == ["b"]


def test_missing_input_of_a_root():
    with pytest.raises(MissingInputError, match=r"'lonely'.*'x'"):
        DAG(tasks={"lonely": make_task("lonely", inputs=["x"], outputs=["y"])}, edges=[])


def test_ambiguous_input_names_both_parents():
    with pytest.raises(AmbiguousInputError) as err:
        DAG(
            tasks={
                "left": make_task("left", outputs=["data"]),
                "right": make_task("right", outputs=["data"]),
                "join": make_task("join", inputs=["data"], outputs=["out"]),
            },
            edges=[("left", "join"), ("right", "join")],
        )
    msg = str(err.value)
    assert "'left'" in msg and "'right'" in msg and "'join'" in msg and "'data'" in msg
    assert err.value.parents == ["left", "right"] and err.value.input == "data"


def test_ambiguity_through_renames_is_caught_too():
    with pytest.raises(AmbiguousInputError, match=r"'p1', 'p2'"):
        DAG(
            tasks={
                "p1": make_task("p1", outputs=["x"]),
                "p2": make_task("p2", outputs=["y"]),
                "c": make_task("c", inputs=["z"], outputs=["o"]),
            },
            edges=[("p1", "c", {"x": "z"}), ("p2", "c", {"y": "z"})],
        )


def test_an_edge_that_routes_nothing():
    with pytest.raises(EdgeRoutingError) as err:
        DAG(
            tasks={
                "src": make_task("src", outputs=["a"]),
                "other": make_task("other", outputs=["b"]),
                "dst": make_task("dst", inputs=["b"], outputs=["out"]),
            },
            edges=[("src", "dst"), ("other", "dst")],
        )
    msg = str(err.value)
    assert "'src' -> 'dst' routes nothing" in msg and "['a']" in msg and "['b']" in msg


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        ([], "'src' -> 'dst' has an empty route"),
        ({}, "'src' -> 'dst' has an empty route"),
        (["nope"], "routes 'nope', which 'src' does not output"),
        ({"nope": "a"}, "routes 'nope', which 'src' does not output"),
        ({"a": "zz"}, "routes into 'zz', which 'dst' does not take"),
    ],
)
def test_bad_routes_name_the_edge_and_the_field(route, fragment):
    with pytest.raises(EdgeRoutingError) as err:
        DAG(
            tasks={
                "src": make_task("src", outputs=["a"]),
                "dst": make_task("dst", inputs=["a"], outputs=["out"]),
            },
            edges=[("src", "dst", route)],
        )
    assert fragment in str(err.value)


def test_malformed_edge_tuples():
    with pytest.raises(EdgeRoutingError, match=r"\('a',\)"):
        DAG(tasks={"a": make_task("a")}, edges=[("a",)])
    with pytest.raises(EdgeRoutingError, match="'a-b'"):
        DAG(tasks={"a": make_task("a")}, edges=["a-b"])


@pytest.mark.parametrize("end", ["source", "target"])
def test_unknown_node_names_in_edges_with_a_hint(end):
    tasks = {
        "collect": make_task("collect", outputs=["data"]),
        "process": make_task("process", inputs=["data"], outputs=["f"]),
    }
    edge = ("colect", "process") if end == "source" else ("collect", "proces")
    with pytest.raises(UnknownNodeError) as err:
        DAG(tasks=tasks, edges=[edge])
    msg = str(err.value)
    typo, real = ("colect", "collect") if end == "source" else ("proces", "process")
    assert f"edge {end} {typo!r}" in msg and f"did you mean {real!r}?" in msg
    assert isinstance(err.value, KeyError)


def test_unknown_name_without_a_close_match_has_no_hint():
    d = DAG().add_node("alpha")
    with pytest.raises(UnknownNodeError) as err:
        d.add_edge("alpha", "zzzzzz")
    assert "'zzzzzz'" in str(err.value) and "did you mean" not in str(err.value)


def test_duplicate_names():
    d = DAG().add_node("x")
    with pytest.raises(DuplicateNodeError, match="'x' already exists"):
        d.add_node("x")
    with pytest.raises(DuplicateNodeError, match="'y'"):
        DAG.builder().add_node("y").add_node("y")
    assert d.nodes == ["x"]  # the failed add left nothing behind


def test_duplicate_edge_names_the_edge():
    d = DAG().add_node("a").add_node("b").add_edge("a", "b")
    with pytest.raises(GraphError, match="'a' -> 'b' already exists"):
        d.add_edge("a", "b")
    assert d.edges == [("a", "b")]


def test_bad_node_names():
    for bad in ("", None, 3):
        with pytest.raises(GraphError, match="non-empty strings"):
            DAG().add_node(bad)  # type: ignore[arg-type]


def test_cycle_message_and_path():
    b = DAG.builder().add_node("a").add_node("b").add_node("c")
    b.add_edge("a", "b").add_edge("b", "c").add_edge("c", "a")
    with pytest.raises(CycleError) as err:
        b.build()
    assert err.value.cycle == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(err.value)


def test_cycle_behind_an_acyclic_prefix_lists_only_the_cycle():
    b = DAG.builder()
    for n in ("root", "x", "a", "b", "c", "tail"):
        b.add_node(n)
    for u, v in [("root", "x"), ("x", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("x", "tail")]:
        b.add_edge(u, v)
    with pytest.raises(CycleError) as err:
        b.build()
    assert err.value.cycle == ["a", "b", "c", "a"]


def test_cycle_in_a_random_graph_follows_real_edges():
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(3, 12)
        edges = {(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < 0.3}
        u, v = sorted(rng.sample(range(n), 2))
        edges.add((u, v))
        edges.add((v, u))  # a back edge guarantees a cycle
        d = DAG()
        for i in range(n):
            d.add_node(f"n{i}")
        for s, t in sorted(edges):
            d.add_edge(f"n{s}", f"n{t}")
        with pytest.raises(CycleError) as err:
            d.validate()
        cycle = err.value.cycle
        assert cycle[0] == cycle[-1] and len(cycle) >= 3
        assert len(set(cycle[:-1])) == len(cycle) - 1
        for s, t in itertools.pairwise(cycle):
            assert (int(s[1:]), int(t[1:])) in edges, (s, t)


def test_self_loop():
    d = DAG().add_node("a")
    with pytest.raises(CycleError) as err:
        d.add_edge("a", "a")
    assert err.value.cycle == ["a", "a"] and "a -> a" in str(err.value)


def test_a_config_dep_missing_from_the_config():
    with pytest.raises(ConfigError) as err:
        DAG(
            tasks={"src": make_task("src", outputs=["a"], config_deps=["N", "scale"])},
            edges=[],
            config=Config(N=1),
        )
    msg = str(err.value)
    assert "'src'" in msg and "['scale']" in msg and "known: ['N']" in msg
    DAG(
        tasks={"src": make_task("src", outputs=["a"], config_deps=["N"])},
        edges=[],
        config={"N": 1},  # a plain mapping is accepted as the config
    )


def test_errors_are_raised_when_the_dag_is_built_not_when_it_runs():
    calls = []

    class Loud(Task):
        inputs = ["missing"]
        outputs = ["x"]

        def compute(self, missing, cfg=None):
            calls.append(1)
            return {"x": 1}

    with pytest.raises(MissingInputError):
        DAG(tasks={"loud": Loud()}, edges=[])
    assert calls == []


# -- builder and open DAGs ---------------------------------------------------------------------


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


def test_builder_is_fluent_and_build_validates():
    builder = DAG.builder(name="demo")
    assert isinstance(builder, DAGBuilder)
    assert builder.add_nodes(["x", "y"]) is builder
    assert builder.add_edge("x", "y") is builder
    built = builder.build()
    assert isinstance(built, DAG) and built.name == "demo"
    assert built.nodes == ["x", "y"] and built.edges == [("x", "y")]
    assert "demo" in repr(built) and "nodes=2" in repr(built) and "edges=1" in repr(built)


def test_open_dag_add_node_and_add_edge_chain_and_grow():
    d = DAG()
    assert d.add_node("a") is d and d.add_node("b") is d and d.add_edge("a", "b") is d
    assert d.topological_order() == ["a", "b"]
    d.add_node("c").add_edge("c", "a")  # growing drops the cached order
    assert d.topological_order() == ["c", "a", "b"]
    assert len(d) == 3 and "c" in d and "z" not in d and list(d) == ["a", "b", "c"]
    assert d.edge_count == 2


def test_queries_on_a_diamond():
    d = diamond()
    assert d.nodes == ["a", "b", "c", "d"]
    assert d.edges == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert d.predecessors("d") == ["b", "c"] and d.predecessors("a") == []
    assert d.successors("a") == ["b", "c"] and d.successors("d") == []
    assert d.ancestors("d") == {"a", "b", "c"} and d.ancestors("a") == set()
    assert d.descendants("a") == {"b", "c", "d"} and d.descendants("b") == {"d"}
    assert d.roots() == ["a"] and d.leaves() == ["d"]
    assert d.topological_order() == ["a", "b", "c", "d"]


def test_predecessors_keep_edge_insertion_order():
    d = DAG()
    for n in ("x", "y", "z", "t"):
        d.add_node(n)
    d.add_edge("z", "t").add_edge("x", "t").add_edge("y", "t")
    assert d.predecessors("t") == ["z", "x", "y"]


def test_queries_name_unknown_nodes():
    d = diamond()
    for query in (d.predecessors, d.successors, d.ancestors, d.descendants, d.options, d.task):
        with pytest.raises(UnknownNodeError, match="'e'"):
            query("e")


def test_topological_order_is_deterministic_and_valid():
    rng = random.Random(0)
    names = [f"n{i}" for i in range(60)]
    edges = [
        (names[u], names[v]) for u in range(60) for v in range(u + 1, 60) if rng.random() < 0.08
    ]
    shuffled = list(range(60))
    rng.shuffle(shuffled)

    def build() -> DAG:
        d = DAG()
        for i in shuffled:  # insertion order unrelated to the dependency order
            d.add_node(names[i])
        for u, v in edges:
            d.add_edge(u, v)
        return d

    first = build().topological_order()
    assert sorted(first) == sorted(names)
    pos = {n: k for k, n in enumerate(first)}
    assert all(pos[u] < pos[v] for u, v in edges)
    for _ in range(3):
        assert build().topological_order() == first
    # Independent nodes come out in insertion order (Kahn, FIFO).
    flat = DAG()
    for n in ("q", "b", "z", "a"):
        flat.add_node(n)
    assert flat.topological_order() == ["q", "b", "z", "a"]


def test_roots_and_leaves_of_disconnected_graphs():
    d = DAG()
    for n in ("a", "b", "lone", "c"):
        d.add_node(n)
    d.add_edge("a", "b").add_edge("c", "b")
    assert d.roots() == ["a", "lone", "c"] and d.leaves() == ["b", "lone"]
    assert DAG().roots() == [] and DAG().leaves() == [] and DAG().topological_order() == []


def test_subgraph_keeps_nodes_edges_tasks_and_options():
    def fa():
        return 1

    d = DAG()
    d.add_node("a", fa, priority=3)
    d.add_node("b", exclusive=True)
    d.add_node("c")
    d.add_node("d")
    d.add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").add_edge("c", "d")
    sub = d.subgraph(["d", "a", "b"])
    assert sub.nodes == ["a", "b", "d"]  # the parent's order, not the argument's
    assert sub.edges == [("a", "b"), ("b", "d")]
    assert sub.task("a") is fa and sub.options("a").priority == 3
    assert sub.options("b").exclusive is True
    assert d.nodes == ["a", "b", "c", "d"] and len(d.edges) == 4  # the original is untouched
    with pytest.raises(UnknownNodeError, match="'x'"):
        d.subgraph(["a", "x"])


def test_subgraph_keeps_routes():
    d = DAG(
        tasks={
            "src": make_task("src", outputs=["raw"]),
            "dst": make_task("dst", inputs=["x"], outputs=["out"]),
            "other": make_task("other", outputs=["o"]),
        },
        edges=[("src", "dst", {"raw": "x"})],
    )
    sub = d.subgraph(["src", "dst"])
    received = dict(sub.execute().results["dst"].value["out"][2])
    assert received == {"x": ("src", "raw", ())}


def test_critical_path_with_costs():
    d = diamond()
    assert d.critical_path({"a": 1, "b": 5, "c": 2, "d": 1}) == (["a", "b", "d"], 7.0)
    assert d.critical_path({"a": 1, "b": 1, "c": 9, "d": 1}) == (["a", "c", "d"], 11.0)
    # Unlisted nodes cost 1.
    assert d.critical_path({"c": 4}) == (["a", "c", "d"], 6.0)
    assert d.critical_path() == (["a", "b", "d"], 3.0)  # ties: the first-added branch


def test_critical_path_uses_cost_options_and_estimate_instructions():
    d = DAG()
    d.add_node("a", cost=2)
    d.add_node("b", cost=10)
    d.add_node("c")
    d.add_edge("a", "c")
    assert d.critical_path() == (["b"], 10.0)
    assert d.critical_path({"b": 0}) == (["a", "c"], 3.0)  # explicit costs win

    class Heavy(Task):
        outputs = ["x"]
        config_deps = ["N"]

        def compute(self, cfg=None):
            return {"x": 1}

        @staticmethod
        def estimate_instructions(cfg):
            return cfg.N * 100

    class Light(Task):
        inputs = ["x"]
        outputs = ["y"]

        def compute(self, x, cfg=None):
            return {"y": x}

    t = DAG(tasks={"h": Heavy(), "l": Light()}, edges=[("h", "l")], config=Config(N=3))
    assert t.critical_path() == (["h", "l"], 301.0)  # 0 instructions count as 1
    assert t.node_costs() == [300.0, 1.0]


def test_critical_path_of_an_empty_dag():
    assert DAG().critical_path() == ([], 0.0)


def test_copy_is_independent():
    d = diamond()
    c = d.copy()
    c.add_node("e").add_edge("d", "e")
    assert d.nodes == ["a", "b", "c", "d"] and d.leaves() == ["d"]
    assert c.leaves() == ["e"] and c.topological_order()[-1] == "e"


# -- per-node options, three ways -------------------------------------------------------------


def test_options_as_add_node_keywords():
    d = DAG()
    d.add_node("x", priority=5, exclusive=True, cost=3.0, retries=2, timeout=1.5)
    o = d.options("x")
    assert isinstance(o, NodeOptions)
    assert (o.priority, o.exclusive, o.cost, o.retries, o.timeout) == (5, True, 3.0, 2, 1.5)
    b = DAG.builder().add_node("y", priority=-1, is_sequential=True).build()
    assert b.options("y").priority == -1 and b.options("y").exclusive is True


def test_options_as_task_class_attributes_and_dag_options_override_them():
    class Prio(Task):
        outputs = ["x"]
        priority = 7
        exclusive = True

        def compute(self, cfg=None):
            return {"x": 1}

    d = DAG(tasks={"p": Prio(), "q": Prio()}, edges=[])
    assert d.options("p").priority == 7 and d.options("p").exclusive is True
    d2 = DAG(
        tasks={"p": Prio(), "q": Prio()},
        edges=[],
        options={"p": {"priority": 1, "cost": 4}, "q": {"is_sequential": False}},
    )
    assert d2.options("p").priority == 1 and d2.options("p").cost == 4
    assert d2.options("p").exclusive is True  # not overridden: the class attribute stays
    assert d2.options("q").exclusive is False and d2.options("q").priority == 7


def test_options_for_plain_nodes_via_dag_options():
    d = DAG(tasks={"a": lambda: 1, "b": lambda: 2}, edges=[], options={"b": {"priority": 2}})
    assert d.options("b").priority == 2 and d.options("a").priority == 0


def test_nodes_without_options_share_the_default_record():
    d = DAG().add_node("a").add_node("b")
    assert d.options("a") is d.options("b")
    assert d.options("a").priority == 0 and d.options("a").exclusive is False


def test_set_options_changes_one_node():
    d = DAG().add_node("a").add_node("b")
    d.set_options("a", priority=9, is_sequential=True)
    assert d.options("a").priority == 9 and d.options("a").exclusive is True
    assert d.options("b").priority == 0


def test_is_sequential_is_an_alias_of_exclusive():
    assert NodeOptions.from_mapping({"is_sequential": True}).exclusive is True
    assert NodeOptions.from_mapping({"is_sequential": False}).exclusive is False
    assert "is_sequential" not in NodeOptions.names() and "exclusive" in NodeOptions.names()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"prio": 1}, "unknown option 'prio' for node 'n1'"),
        ({"simple": True}, "unknown option 'simple' for node 'n1'"),
        ({"retries": -1}, "option retries=-1 is invalid: must be an integer >= 0"),
        ({"timeout": 0}, "option timeout=0 is invalid: must be > 0 seconds"),
        ({"cost": -2}, "option cost=-2 is invalid: must be >= 0"),
    ],
)
def test_bad_options_name_the_node(options, fragment):
    with pytest.raises(GraphError) as err:
        DAG().add_node("n1", **options)
    assert fragment in str(err.value) and "'n1'" in str(err.value)
    with pytest.raises(GraphError, match="'n1'"):
        DAG(tasks={"n1": lambda: 1}, edges=[], options={"n1": options})


def test_options_for_unknown_nodes_are_named():
    with pytest.raises(UnknownNodeError, match=r"\['ghost'\]"):
        DAG(tasks={"a": lambda: 1}, edges=[], options={"ghost": {"priority": 1}})


def test_node_options_repr_and_to_dict():
    o = NodeOptions(priority=3, exclusive=True)
    assert repr(o) == "NodeOptions(exclusive=True, priority=3)"
    assert o.to_dict()["priority"] == 3 and "simple" not in o.to_dict()
    assert repr(NodeOptions()) == "NodeOptions()"


# -- export (no optional dependency needed) -------------------------------------------------------


def test_to_dict_mermaid_and_dot():
    d = diamond()
    as_dict = d.to_dict()
    assert as_dict["nodes"] == ["a", "b", "c", "d"]
    assert {"source": "a", "target": "b"} in as_dict["edges"]
    mermaid = d.to_mermaid()
    assert mermaid.startswith("flowchart TD") and "n0 --> n1" in mermaid
    assert '"a" -> "b";' in d.to_dot()
