"""The DAG Task Standard: ``Task``, the ``@task`` decorator, the ``dag()`` helper that infers
edges, and the run-time check of what ``compute`` returns (``TaskOutputError``)."""

from __future__ import annotations

import pytest

from dagforge import (
    DAG,
    AmbiguousInputError,
    Config,
    DuplicateNodeError,
    Executor,
    GraphError,
    MissingInputError,
    Task,
    TaskOutputError,
    dag,
    task,
)

# -- Task ------------------------------------------------------------------------------------


class Collect(Task):
    inputs = []
    outputs = ["data", "labels"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        return {"data": list(range(cfg.N)), "labels": [i % 3 for i in range(cfg.N)]}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 10


class Plain(Task):
    inputs = ["data"]
    outputs = ["out"]

    def compute(self, data, cfg=None):
        return {"out": data}


def test_defaults_of_the_standard():
    class Bare(Task):
        pass

    t = Bare()
    assert tuple(t.inputs) == () and tuple(t.outputs) == () and tuple(t.config_deps) == ()
    assert Task.estimate_instructions(Config(N=5)) == 0  # no cost model: 0
    assert Plain.estimate_instructions(None) == 0
    with pytest.raises(NotImplementedError, match=r"Bare\.compute"):
        t.compute()


def test_estimate_instructions_is_a_static_cost_model():
    assert Collect.estimate_instructions(Config(N=7)) == 70  # callable on the class
    assert Collect().estimate_instructions(Config(N=7)) == 70


def test_name_and_repr():
    t = Collect()
    assert t.name == "Collect"
    assert repr(t) == "<Collect inputs=[] outputs=['data', 'labels']>"


def test_compute_receives_inputs_by_name_and_the_config():
    seen = {}

    class Spy(Task):
        inputs = ["labels", "data"]  # declared order differs from the parent's outputs
        outputs = ["n"]
        config_deps = ["N"]

        def compute(self, labels, data, cfg=None):
            seen.update(labels=labels, data=data, cfg=cfg)
            return {"n": len(data)}

    config = Config(N=4)
    d = DAG(tasks={"c": Collect(), "s": Spy()}, edges=[("c", "s")], config=config)
    result = d.execute()
    assert result.results["s"].value == {"n": 4}
    assert seen["data"] == [0, 1, 2, 3] and seen["labels"] == [0, 1, 2, 0]
    assert seen["cfg"] is config


# -- class attributes as node options -------------------------------------------------------


def test_class_attributes_are_node_options_and_is_sequential_is_an_alias():
    class Heavy(Task):
        outputs = ["x"]
        priority = 7
        is_sequential = True
        cost = 2.5
        tags = ("cpu",)

        def compute(self, cfg=None):
            return {"x": 1}

    d = DAG(tasks={"h": Heavy()}, edges=[])
    o = d.options("h")
    assert (o.priority, o.exclusive, o.cost, o.tags) == (7, True, 2.5, frozenset({"cpu"}))
    assert o.retries == 0 and o.timeout is None  # the rest keep their defaults


def test_methods_named_like_options_are_not_options():
    class WithMethod(Task):
        outputs = ["x"]

        def priority(self):  # a method, not a value
            return 99

        def compute(self, cfg=None):
            return {"x": 1}

    assert DAG(tasks={"w": WithMethod()}, edges=[]).options("w").priority == 0


# -- @task -------------------------------------------------------------------------------------


def test_task_decorator_makes_a_task_that_keeps_the_function():
    @task(inputs=["data"], outputs=["result"], config_deps=["N"], estimate_fn=lambda c: c.N * 3)
    def double(data, cfg):
        """Double every item."""
        return {"result": [x * 2 for x in data]}

    assert isinstance(double, Task)
    assert double.name == "double" and double.__doc__ == "Double every item."
    assert tuple(double.inputs) == ("data",) and tuple(double.outputs) == ("result",)
    assert tuple(double.config_deps) == ("N",)
    assert double.estimate_instructions(Config(N=5)) == 15
    assert double([1, 2], None) == {"result": [2, 4]}  # still callable as a function
    assert double.compute(cfg=Config(N=1), data=[3]) == {"result": [6]}
    assert "double" in repr(double) and "['data']" in repr(double)


def test_task_function_without_cfg_is_called_without_it():
    @task(inputs=["a"], outputs=["b"])
    def inc(a):
        return {"b": a + 1}

    assert inc.compute(cfg=Config(N=1), a=1) == {"b": 2}
    assert inc.estimate_instructions(Config(N=1)) == 0  # no estimate_fn


def test_bare_decorator_and_options_as_keywords():
    @task
    def nothing():
        return {}

    assert isinstance(nothing, Task) and tuple(nothing.outputs) == ()

    @task(outputs=["x"], priority=4, is_sequential=True)
    def opt(cfg=None):
        return {"x": 1}

    o = DAG(tasks={"opt": opt}, edges=[]).options("opt")
    assert o.priority == 4 and o.exclusive is True


def test_task_rejects_unknown_options_naming_the_function():
    with pytest.raises(GraphError) as err:

        @task(outputs=["x"], prio=1)
        def fn():
            return {"x": 1}

    assert "'prio'" in str(err.value) and "'fn'" in str(err.value)


# -- dag() -------------------------------------------------------------------------------------


def test_dag_helper_infers_edges_by_matching_names():
    @task(outputs=["data", "labels"])
    def source(cfg):
        return {"data": [1.0] * cfg.N, "labels": [0] * cfg.N}

    @task(inputs=["data"], outputs=["features"])
    def featurize(data):
        return {"features": [x * 10 for x in data]}

    @task(inputs=["features", "labels"], outputs=["predictions"])
    def classify(features, labels):
        return {"predictions": list(zip(features, labels, strict=True))}

    # tasks listed out of dependency order: edges come from names, not positions
    d = dag(tasks=[classify, featurize, source], config=Config(N=2))
    assert d.nodes == ["classify", "featurize", "source"]
    assert set(d.edges) == {
        ("source", "featurize"),
        ("source", "classify"),
        ("featurize", "classify"),
    }
    assert d.topological_order() == ["source", "featurize", "classify"]
    assert d.config == Config(N=2)
    result = d.execute()
    assert result.outputs == {"classify": {"predictions": [(10.0, 0), (10.0, 0)]}}


def test_dag_helper_routes_only_the_inferred_fields():
    @task(outputs=["data", "other"])
    def source():
        return {"data": 1, "other": 2}

    @task(inputs=["data"], outputs=["y"])
    def use(data):
        return {"y": data}

    d = dag(tasks=[source, use])
    assert d.execute().outputs == {"use": {"y": 1}}


def test_dag_helper_errors_name_the_culprits():
    @task(outputs=["data"])
    def a():
        return {"data": 1}

    @task(outputs=["data"])
    def b():
        return {"data": 2}

    @task(inputs=["data"], outputs=["y"])
    def use(data):
        return {"y": data}

    with pytest.raises(AmbiguousInputError) as err:
        dag(tasks=[a, b, use])
    msg = str(err.value)
    assert "'a'" in msg and "'b'" in msg and "'use'" in msg and "'data'" in msg

    with pytest.raises(DuplicateNodeError, match="'a'"):
        dag(tasks=[a, a])

    with pytest.raises(GraphError, match="@task"):
        dag(tasks=[lambda: 1])  # type: ignore[list-item]

    with pytest.raises(MissingInputError) as missing:
        dag(tasks=[use])
    assert "'use'" in str(missing.value) and "'data'" in str(missing.value)


def test_dag_helper_accepts_run_inputs():
    @task(inputs=["x"], outputs=["y"])
    def square(x):
        return {"y": x * x}

    d = dag(tasks=[square], inputs=["x"])
    assert d.execute(x=7).outputs == {"square": {"y": 49}}


# -- what compute returns (checked at run time) --------------------------------------------------


def _returning(value):
    class Bad(Task):
        outputs = ["features", "labels"]

        def compute(self, cfg=None):
            return value

    return Bad()


@pytest.mark.parametrize("backend", ["inline", "threads"])
@pytest.mark.parametrize(
    ("returned", "fragments"),
    [
        ([1, 2], ["must return a dict", "list", "['features', 'labels']"]),
        (None, ["must return a dict", "NoneType"]),
        ({"features": 1}, ["missing declared output(s) ['labels']"]),
        (
            {"features": 1, "labels": 2, "extra": 3, "more": 4},
            ["undeclared output(s) ['extra', 'more']"],
        ),
        ({"features": 1, "extra": 3}, ["missing declared output(s) ['labels']", "['extra']"]),
    ],
)
def test_task_output_errors_name_the_node_and_the_keys(backend, returned, fragments):
    d = DAG(tasks={"bad_node": _returning(returned)}, edges=[])
    result = Executor(d, backend=backend).execute()
    node = result.results["bad_node"]
    assert node.status == "failed" and isinstance(node.error, TaskOutputError)
    msg = str(node.error)
    assert "'bad_node'" in msg
    for fragment in fragments:
        assert fragment in msg
    assert "TaskOutputError" in node.traceback


def test_a_dict_subclass_is_accepted_as_outputs():
    class Ordered(dict):
        pass

    class T(Task):
        outputs = ["x"]

        def compute(self, cfg=None):
            return Ordered(x=1)

    assert DAG(tasks={"t": T()}, edges=[]).execute().results["t"].value == {"x": 1}
