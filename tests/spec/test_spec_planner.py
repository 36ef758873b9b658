"""The pure planner: primitives, operators, loops and their bound, joins, data overlay.

Every run here is driven by hand, with no engine: take a runnable step (all parents
completed), call its function with ``build_kwargs``, feed ``complete``. ``drive`` also
checks the planner's invariants on every step it is given.
"""

from __future__ import annotations

import importlib.util
import json
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_helpers import node

from dagforge.errors import LoopLimitError, NodeStateError, SpecError, TaskOutputError
from dagforge.spec import (
    FunctionRegistry,
    SpecPlanner,
    SpecWarning,
    compare,
    instance_name,
    load_spec,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GLASS = EXAMPLES / "specs" / "filling-a-glass-of-water.json"
SENTIMENT = EXAMPLES / "specs" / "text-sentiment-analysis.json"


def _example_functions():
    spec = importlib.util.spec_from_file_location(
        "dagforge_example_spec_functions", EXAMPLES / "spec_functions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE_FUNCTIONS = _example_functions()


def cond(source, operator, target):
    return {"source": source, "operator": operator, "target": target}


def drive(spec, functions, arguments=None, *, rng=None, **planner_options):
    """Run a spec with the planner alone; return (planner, outputs, created, ran)."""
    planner = SpecPlanner(spec, arguments, **planner_options)
    outputs, created, ran, queue = {}, [], [], []

    def accept(steps):
        for step in steps:
            assert step.instance not in created, f"{step.instance} created twice"
            # append-only: every edge comes from an instance that already exists
            assert all(p in created for p in step.parents), (step, created)
            assert all(p in outputs for p in step.parents)  # and they have completed
            assert set(step.kwargs_from) <= set(step.parents)
            assert step.instance == instance_name(step.node_id, step.iteration)
            created.append(step.instance)
            queue.append(step)

    accept(planner.start())
    while queue:
        runnable = [s for s in queue if all(p in outputs for p in s.parents)]
        assert runnable, f"nothing runnable; waiting: {queue}"
        assert not planner.finished
        step = runnable[0] if rng is None else rng.choice(runnable)
        queue.remove(step)
        result = functions[step.node_id](**step.build_kwargs(outputs))
        outputs[step.instance] = result
        ran.append(step.instance)
        accept(planner.complete(step.instance, result))
    assert planner.finished and planner.error is None
    return planner, outputs, created, ran


# -- the two seed specs, with the example functions ----------------------------------------


def test_glass_of_water_loops_until_the_target_quantity():
    registry = FunctionRegistry().from_module(EXAMPLE_FUNCTIONS)
    spec = load_spec(GLASS)
    functions = registry.check(spec)
    planner, _, created, ran = drive(spec, functions, {"quantity": 0, "step": 250})
    assert ran == [
        "check_if_full",
        "add_water",
        "check_if_full#2",
        "add_water#2",
        "check_if_full#3",
        "add_water#3",
        "check_if_full#4",
        "add_water#4",
        "check_if_full#5",
        "glass_full",
    ]
    final = planner.final_outputs
    assert list(final) == ["glass_full"]
    assert final["glass_full"]["quantity"] >= 1000
    assert sum(i.startswith("add_water") for i in created) == 4
    # each pass reads the latest instance of its outputs_from node
    assert planner.step("add_water#2").kwargs_from == ["check_if_full#2"]
    assert planner.step("check_if_full#2").parents == ["add_water"]
    # the first pass of the loop gets the trigger arguments alone
    assert planner.step("check_if_full").kwargs_from == []


@pytest.mark.parametrize(("step", "passes"), [(100, 10), (300, 4), (1000, 1), (2000, 1)])
def test_glass_of_water_pass_count_follows_the_pour(step, passes):
    functions = FunctionRegistry().from_module(EXAMPLE_FUNCTIONS).check(load_spec(GLASS))
    planner, _, created, _ = drive(load_spec(GLASS), functions, {"quantity": 0, "step": step})
    assert sum(i.startswith("add_water") for i in created) == passes
    assert planner.final_outputs["glass_full"]["quantity"] >= 1000


def test_glass_already_full_skips_the_loop():
    functions = FunctionRegistry().from_module(EXAMPLE_FUNCTIONS).check(load_spec(GLASS))
    _, _, created, _ = drive(load_spec(GLASS), functions, {"quantity": 1000})
    assert created == ["check_if_full", "glass_full"]


def test_sentiment_analysis_builds_a_report():
    spec = load_spec(SENTIMENT)
    functions = FunctionRegistry().from_module(EXAMPLE_FUNCTIONS).check(spec)
    text = "I love this product. The delivery was slow and the box was broken. It is not bad."
    planner, _, created, _ = drive(spec, functions, {"text": text})
    assert created == ["fetch_sentences", "calculate_sentiment", "create_sentiment_report"]
    assert planner.step("create_sentiment_report").kwargs_from == [
        "fetch_sentences",
        "calculate_sentiment",
    ]
    report = planner.final_outputs["create_sentiment_report"]
    assert [row["label"] for row in report["report"]] == ["positive", "negative", "positive"]
    assert [row["sentence"] for row in report["report"]][1].startswith("The delivery")
    polarity = [row["polarity"] for row in report["report"]]
    assert polarity == pytest.approx([1 / 3, -2 / 3, 1 / 3])  # "slow", "broken": two hits
    assert report["mean_polarity"] == pytest.approx(0.0)


# -- primitives and operators --------------------------------------------------------------


def test_serial_chain_runs_in_order_and_ends_at_empty_next():
    spec = {
        "name": "chain",
        "dag": [node("a", next="b"), node("b", next="c"), node("c")],
    }
    fns = {n: (lambda n=n, **kw: {n: True}) for n in "abc"}
    planner, _, created, _ = drive(spec, fns)
    assert created == ["a", "b", "c"]
    assert planner.step("c").parents == ["b"]
    assert planner.final_outputs == {"c": {"c": True}}


@pytest.mark.parametrize(
    ("operator", "value", "target", "expected"),
    [
        ("equals", 3, "3", True),
        ("equals", "3.0", 3, True),  # both numeric: 3.0 == 3
        ("equals", "1e3", "1000", True),
        ("equals", "even", "even", True),
        ("equals", "Even", "even", False),
        ("equals", "nan", "nan", True),  # not numbers: equal strings
        ("equals", True, "true", True),  # booleans compare as their JSON text
        ("equals", 1, True, False),  # a boolean is not a number
        ("equals", None, "null", True),
        ("equals", 10**17 + 1, str(10**17), False),  # integers compare exactly
        ("greater_than", 10, "9", True),  # numbers: 10 > 9, though "10" < "9" as text
        ("greater_than", "10", "9", True),
        ("greater_than", "b", "a", True),
        ("greater_than", "b", 1, True),  # mixed: both as strings, "b" > "1"
        ("less_than", "10", 9, False),
        ("less_than", " 5 ", "10", True),  # whitespace around a number is ignored
        ("less_than", "apple", "banana", True),
        ("less_than", "10", "9x", True),  # "9x" is not a number: "10" < "9x" as text
        ("less_than", "1_000", "2", True),  # "1_000" is not a number either
        ("greater_than_equals", 5, 5.0, True),
        ("greater_than_equals", "abc", "abc", True),
        ("greater_than_equals", 4.99, "5", False),
        ("less_than_equals", 4, "4.5", True),
        ("less_than_equals", "-.5", "-0.5", True),
        ("less_than_equals", "b", "a", False),
    ],
)
def test_comparison_rule(operator, value, target, expected):
    assert compare(value, operator, target) is expected


def test_compare_rejects_an_unknown_operator():
    with pytest.raises(SpecError, match="unknown operator 'between'"):
        compare(1, "between", 2)


@pytest.mark.parametrize(
    ("operator", "target", "value", "branch"),
    [
        ("equals", "even", "even", "yes"),
        ("equals", "even", "odd", "no"),
        ("greater_than", 5, 6, "yes"),
        ("greater_than", "5", 5, "no"),
        ("less_than", "1000", 999.5, "yes"),
        ("less_than", 1000, "1000", "no"),
        ("greater_than_equals", "5", "5", "yes"),
        ("greater_than_equals", "b", "a", "no"),
        ("less_than_equals", 2, 2, "yes"),
        ("less_than_equals", "abc", "abd", "no"),
    ],
)
def test_condition_takes_branch_1_when_true_else_branch_2(operator, target, value, branch):
    spec = {
        "name": "decide",
        "dag": [
            node(
                "test",
                "condition",
                condition=cond("v", operator, target),
                branch_1="yes",
                branch_2="no",
            ),
            node("yes", outputs_from=["test"]),
            node("no", outputs_from=["test"]),
        ],
    }
    fns = {
        "test": lambda v, **_: {"v": v},
        "yes": lambda v, **_: {"took": "yes", "v": v},
        "no": lambda v, **_: {"took": "no", "v": v},
    }
    planner, _, created, _ = drive(spec, fns, {"v": value})
    assert created == ["test", branch]
    assert planner.final_outputs == {branch: {"took": branch, "v": value}}


def test_parallel_starts_every_branch_and_a_join_waits_for_all_of_them():
    spec = {
        "name": "fanout",
        "dag": [
            node("start", "parallel", next=["left", "right"]),
            node("left", next="join", outputs_from=["start"]),
            node("right", next="join", outputs_from=["start"]),
            node("join", outputs_from=["left", "right"]),
        ],
    }
    fns = {
        "start": lambda x, **_: {"x": x},
        "left": lambda x, **_: {"left": 2 * x},
        "right": lambda x, **_: {"right": 3 * x},
        "join": lambda left, right, **_: {"sum": left + right},
    }
    planner = SpecPlanner(load_spec(spec), {"x": 5})
    (first,) = planner.start()
    branches = planner.complete(first.instance, {"x": 5})
    assert [s.instance for s in branches] == ["left", "right"]  # both due at once
    assert planner.complete("right", {"right": 15}) == []  # left could still arrive
    (join,) = planner.complete("left", {"left": 10})
    assert join.instance == "join" and join.parents == ["right", "left"]
    assert join.kwargs_from == ["left", "right"]
    # and in any completion order, the join runs once with both outputs
    for seed in range(5):
        planner, _, created, _ = drive(spec, fns, {"x": 5}, rng=random.Random(seed))
        assert created.count("join") == 1 and "join#2" not in created
        assert planner.final_outputs == {"join": {"sum": 25}}


def test_a_join_waits_for_long_branches_and_branches_it_does_not_read():
    # b is one step from d, c two; d reads only from b. d still runs once, after e.
    spec = {
        "name": "uneven",
        "dag": [
            node("a", "parallel", next=["b", "c"]),
            node("b", next="d"),
            node("c", next="e"),
            node("e", next="d"),
            node("d", outputs_from=["b"]),
        ],
    }
    fns = {n: (lambda n=n, **_: {"by": n}) for n in "abcde"}
    for seed in range(8):
        planner, _, created, ran = drive(spec, fns, rng=random.Random(seed))
        assert sorted(created) == ["a", "b", "c", "d", "e"]
        assert ran[-1] == "d"
        assert set(planner.step("d").parents) == {"b", "e"}
        assert planner.step("d").kwargs_from == ["b"]


def test_a_join_does_not_wait_for_a_branch_that_went_elsewhere():
    # c decides: branch_1 goes to the join, branch_2 ends. The join waits for c only
    # until c's decision is known.
    spec = {
        "name": "maybe",
        "dag": [
            node("a", "parallel", next=["b", "c"]),
            node("b", next="j"),
            node(
                "c", "condition", condition=cond("go", "equals", "yes"), branch_1="j", branch_2="x"
            ),
            node("j"),
            node("x"),
        ],
    }
    for go, parents in (("yes", {"b", "c"}), ("no", {"b"})):
        fns = {n: (lambda go=go, **_: {"go": go}) for n in "abcjx"}
        planner, _, created, _ = drive(spec, fns)
        assert set(planner.step("j").parents) == parents
        assert created.count("j") == 1


def test_a_parallel_node_can_start_a_loop_per_branch():
    spec = {
        "name": "two-counters",
        "dag": [
            node("fork", "parallel", next=["inc_a", "inc_b"]),
            node("inc_a", next="test_a", outputs_from=["test_a"]),
            node(
                "test_a",
                "condition",
                condition=cond("a", "less_than", 3),
                branch_1="inc_a",
                branch_2="done",
                outputs_from=["inc_a"],
            ),
            node("inc_b", next="test_b", outputs_from=["test_b"]),
            node(
                "test_b",
                "condition",
                condition=cond("b", "less_than", 5),
                branch_1="inc_b",
                branch_2="done",
                outputs_from=["inc_b"],
            ),
            node("done", outputs_from=["test_a", "test_b"]),
        ],
    }
    fns = {
        "fork": lambda **_: {},
        "inc_a": lambda a=0, **_: {"a": a + 1},
        "test_a": lambda a, **_: {"a": a},
        "inc_b": lambda b=0, **_: {"b": b + 1},
        "test_b": lambda b, **_: {"b": b},
        "done": lambda a, b, **_: {"total": a + b},
    }
    for seed in range(6):
        planner, _, created, _ = drive(spec, fns, {"a": 0, "b": 0}, rng=random.Random(seed))
        assert planner.final_outputs == {"done": {"total": 8}}
        assert sum(i.startswith("inc_a") for i in created) == 3
        assert sum(i.startswith("inc_b") for i in created) == 5
        assert created.count("done") == 1


def test_arguments_are_overlaid_by_outputs_from_in_list_order():
    spec = {
        "name": "overlay",
        "dag": [
            node("a", next="b", arguments={"default": 1, "arg": "node default"}),
            node("b", next="c", outputs_from=["a"]),
            node("c", outputs_from=["b", "a"]),
        ],
    }
    seen = {}
    fns = {
        "a": lambda **kw: {"v": "from a", "only_a": 1},
        "b": lambda **kw: {"v": "from b", "only_b": 2},
        "c": lambda **kw: seen.update(kw) or {},
    }
    planner, *_ = drive(spec, fns, {"v": "from trigger", "arg": 7})
    # later entries of outputs_from win: a is listed after b
    assert seen == {"v": "from a", "only_a": 1, "only_b": 2, "arg": 7}
    # a node's own arguments are defaults under the trigger's
    assert planner.step("a").arguments == {"default": 1, "arg": 7, "v": "from trigger"}


def test_build_kwargs_needs_every_kwargs_from_output():
    planner = SpecPlanner(load_spec(SENTIMENT), {"text": "Nice."})
    (step,) = planner.start()
    (nxt,) = planner.complete(step.instance, {"sentences": ["Nice."]})
    with pytest.raises(NodeStateError, match="'fetch_sentences'"):
        nxt.build_kwargs({})
    assert nxt.build_kwargs({"fetch_sentences": {"sentences": ["x"]}}) == {
        "text": "Nice.",
        "sentences": ["x"],
    }


# -- loops and the bound -------------------------------------------------------------------


def _counter_spec(limit=None):
    doc = {
        "name": "counter",
        "dag": [
            node("inc", next="test", outputs_from=["test"]),
            node(
                "test",
                "condition",
                condition=cond("n", "less_than", 1_000_000),
                branch_1="inc",
                branch_2="end",
                outputs_from=["inc"],
            ),
            node("end", outputs_from=["test"]),
        ],
    }
    if limit is not None:
        doc["max_iterations"] = limit
    return doc


COUNTER_FNS = {
    "inc": lambda n=0, **_: {"n": n + 1},
    "test": lambda n, **_: {"n": n},
    "end": lambda n, **_: {"n": n},
}


def _run_until_error(spec, arguments=None, **options):
    planner = SpecPlanner(spec, arguments, **options)
    outputs, queue = {}, list(planner.start())
    with pytest.raises(LoopLimitError) as err:
        while queue:
            step = queue.pop(0)
            outputs[step.instance] = COUNTER_FNS[step.node_id](**step.build_kwargs(outputs))
            queue += planner.complete(step.instance, outputs[step.instance])
    return planner, err.value, outputs


def test_the_default_loop_bound_is_1000_and_ends_the_run():
    planner, error, outputs = _run_until_error(_counter_spec())
    assert planner.max_iterations == 1000
    assert error.node == "inc" and error.bound == 1000
    assert "'inc'" in str(error) and "1000" in str(error) and "max_iterations" in str(error)
    assert "inc#1000" in outputs and "inc#1001" not in outputs
    assert planner.finished and planner.error is error
    with pytest.raises(NodeStateError, match="already ended with LoopLimitError"):
        planner.complete("test#1000", {"n": 1})


def test_the_loop_bound_comes_from_the_spec_or_an_override():
    planner, error, outputs = _run_until_error(_counter_spec(limit=3))
    assert (error.node, error.bound) == ("inc", 3)
    assert sorted(i for i in outputs if i.startswith("inc")) == ["inc", "inc#2", "inc#3"]
    planner, error, _ = _run_until_error(_counter_spec(limit=3), max_iterations=7)
    assert error.bound == 7 and planner.max_iterations == 7
    # a loop that ends within the bound is fine
    doc = _counter_spec(limit=5)
    doc["dag"][1]["properties"]["condition"]["target"] = "5"
    planner, _, created, _ = drive(doc, COUNTER_FNS)
    assert planner.final_outputs == {"end": {"n": 5}}
    assert created.count("inc#5") == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_a_bad_loop_bound_override_is_refused(bad):
    with pytest.raises(SpecError, match="max_iterations"):
        SpecPlanner(load_spec(GLASS), max_iterations=bad)


def test_instance_names():
    assert instance_name("add_water", 1) == "add_water"
    assert instance_name("add_water", 2) == "add_water#2"


# -- run-time errors and misuse ------------------------------------------------------------


def test_a_missing_condition_source_is_a_spec_error_naming_instance_and_key():
    planner = SpecPlanner(load_spec(GLASS), {"quantity": 0})
    (step,) = planner.start()
    with pytest.raises(SpecError) as err:
        planner.complete(step.instance, {"level": 3})
    assert err.value.path == "dag[0].properties.condition.source"
    assert "'check_if_full'" in str(err.value) and "'quantity'" in str(err.value)
    assert "'level'" in str(err.value)  # what it did return
    assert planner.finished and planner.error is err.value


def test_misuse_of_the_planner_is_a_clear_error():
    planner = SpecPlanner(load_spec(SENTIMENT), {})
    with pytest.raises(NodeStateError, match="unknown instance 'fetch_sentences'"):
        planner.complete("fetch_sentences", {})
    assert not planner.finished
    planner.start()
    with pytest.raises(NodeStateError, match="already started"):
        planner.start()
    with pytest.raises(TaskOutputError, match="dict of outputs, got list"):
        planner.complete("fetch_sentences", ["not", "a", "dict"])
    planner.complete("fetch_sentences", {"sentences": []})
    with pytest.raises(NodeStateError, match="already completed"):
        planner.complete("fetch_sentences", {})
    with pytest.raises(SpecError, match="JSON object"):
        SpecPlanner(load_spec(SENTIMENT), ["not", "a", "mapping"])


def test_running_and_finished_follow_the_run():
    spec = {
        "name": "fanout",
        "dag": [
            node("s", "parallel", next=["l", "r"]),
            node("l", next="j"),
            node("r", next="j"),
            node("j", outputs_from=["l", "r"]),
        ],
    }
    planner = SpecPlanner(load_spec(spec))
    assert not planner.finished and planner.running == []
    planner.start()
    assert planner.running == ["s"]
    planner.complete("s", {})
    assert planner.complete("l", {}) == []
    assert planner.running == ["r"] and not planner.finished
    assert [s.instance for s in planner.complete("r", {})] == ["j"]
    planner.complete("j", {"done": 1})
    assert planner.finished and planner.final_outputs == {"j": {"done": 1}}
    assert planner.order == ["s", "l", "r", "j"]


def test_the_planner_accepts_raw_documents_and_validates_them():
    planner = SpecPlanner(json.loads(GLASS.read_text()), {"quantity": 0})
    assert planner.start()[0].instance == "check_if_full"
    with pytest.raises(SpecError, match=r"dag\[0\]\.properties\.next"):
        SpecPlanner({"name": "x", "dag": [node("a", next="ghost")]})


# -- property: random valid specs never break the planner's invariants ---------------------


@st.composite
def random_specs(draw):
    n = draw(st.integers(1, 6))
    names = [f"n{i}" for i in range(n)]
    entries = []
    for name in names:
        kind = draw(st.sampled_from(["serial", "serial", "parallel", "condition"]))
        props = {"primitive": kind}
        if kind == "serial":
            props["next"] = draw(st.sampled_from(["", *names]))
        elif kind == "parallel":
            props["next"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        else:
            props["condition"] = cond(
                "v",
                draw(st.sampled_from(["equals", "less_than", "greater_than_equals"])),
                draw(st.integers(0, 3)),
            )
            props["branch_1"] = draw(st.sampled_from(names))
            props["branch_2"] = draw(st.sampled_from(names))
        entries.append({"node_id": name, "properties": props})
    doc = {"name": "random", "dag": entries, "max_iterations": draw(st.integers(1, 6))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        shape = load_spec(doc)
    # give each node some outputs_from among the nodes that can run before it
    from dagforge.spec.validate import reachability

    reach = reachability(shape)
    runs = reach[shape.start] | {shape.start}
    for entry in entries:
        me = entry["node_id"]
        if me in runs:
            able = [s for s in names if s in runs and me in reach[s]]
            entry["properties"]["outputs_from"] = draw(st.lists(st.sampled_from(able or [me])))
            if not able:
                entry["properties"]["outputs_from"] = []
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs(), st.integers(0, 2**32 - 1))
def test_random_specs_keep_the_planner_invariants(doc, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        spec = load_spec(doc)
    rng = random.Random(seed)
    planner = SpecPlanner(spec, {"v": 0})
    from dagforge.spec.validate import reachability

    acyclic = not any(n in r for n, r in reachability(spec).items())
    outputs, created, queue = {}, [], []
    finished_by_node = {}

    def accept(steps):
        for step in steps:
            assert step.instance not in created
            assert all(p in outputs for p in step.parents)  # existing and completed
            assert set(step.kwargs_from) <= set(step.parents)
            assert step.iteration <= planner.max_iterations
            if acyclic:  # without loops, joins make every node run at most once
                assert step.iteration == 1, step
            created.append(step.instance)
            queue.append(step)

    accept(planner.start())
    try:
        while queue:
            runnable = [s for s in queue if all(p in outputs for p in s.parents)]
            assert runnable, "the planner deadlocked"
            step = rng.choice(runnable)
            queue.remove(step)
            step.build_kwargs(outputs)
            # passes of one node run one after the other
            assert finished_by_node.get(step.node_id, 0) == step.iteration - 1
            finished_by_node[step.node_id] = step.iteration
            outputs[step.instance] = {"v": rng.randint(0, 3)}
            accept(planner.complete(step.instance, outputs[step.instance]))
            assert planner.finished == (not queue)
    except LoopLimitError as exc:
        assert exc.bound == planner.max_iterations and planner.finished
        return
    assert planner.finished and planner.running == []
    assert set(planner.final_outputs) <= set(outputs)
