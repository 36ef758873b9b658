"""Resource requirements of spec nodes and functions: validated with JSON paths, passed
to each node instance's ``resources=`` option, honoured by a ResourcePool."""

from __future__ import annotations

import threading

import jsonschema
import pytest

from dagforge.errors import ResourceError, SpecError
from dagforge.profiling.resource_usage import usage_from_intervals
from dagforge.resources import ResourcePool
from dagforge.spec import FunctionRegistry, SpecPlanner, load_spec, run_workflow, spec_json_schema
from dagforge.spec.models import MAX_RESOURCES, check_resources
from dagforge.spec.planner import node_requirements


def node(node_id, nxt="", primitive="serial", resources=None, outputs_from=()):
    props = {"label": node_id, "primitive": primitive, "next": nxt}
    if outputs_from:
        props["outputs_from"] = list(outputs_from)
    if resources is not None:
        props["resources"] = resources
    return {"node_id": node_id, "properties": props}


def fan(left=None, right=None, name="fan"):
    return {
        "name": name,
        "dag": [
            node("start", ["left", "right"], "parallel"),
            node("left", "", resources=left),
            node("right", "", resources=right),
        ],
    }


def errors_of(document):
    with pytest.raises(SpecError) as info:
        load_spec(document)
    return info.value.errors


@pytest.mark.parametrize(
    ("resources", "path", "words"),
    [
        ({"cpu": -1}, "dag[1].properties.resources.cpu", "positive finite number, got -1"),
        ({"cpu": 0}, "dag[1].properties.resources.cpu", "positive finite number, got 0"),
        ({"cpu": True}, "dag[1].properties.resources.cpu", "must be a number, got boolean"),
        ({"cpu": "2"}, "dag[1].properties.resources.cpu", "must be a number, got string"),
        ({"cpu": None}, "dag[1].properties.resources.cpu", "must be a number, got null"),
        ({"cpu": 1e13}, "dag[1].properties.resources.cpu", "over the limit"),
        ({"a b": 1}, 'dag[1].properties.resources["a b"]', "resource name 'a b' is not allowed"),
        ({"<b>": 1}, 'dag[1].properties.resources["<b>"]', "is not allowed"),
        ({"x" * 65: 1}, "dag[1].properties.resources", "is not allowed"),
        ({"gpu.mem-gb": -2}, 'dag[1].properties.resources["gpu.mem-gb"]', "got -2"),
        ([2], "dag[1].properties.resources", "must be a JSON object, got array"),
        ("cpu", "dag[1].properties.resources", "must be a JSON object, got string"),
    ],
)
def test_bad_requirements_name_their_json_path(resources, path, words):
    errors = errors_of(fan(left=resources))
    assert len(errors) == 1 and errors[0][0].startswith(path), errors
    assert words in errors[0][1], errors


def test_too_many_resources_and_every_problem_at_once():
    many = {f"r{k}": 1 for k in range(MAX_RESOURCES + 1)}
    errors = errors_of(fan(left=many, right={"cpu": -1, "mem": "x"}))
    assert errors == [
        (
            "dag[1].properties.resources",
            f"names {MAX_RESOURCES + 1} resources; at most 16 are allowed",
        ),
        (
            "dag[2].properties.resources.cpu",
            "resource 'cpu' must be a positive finite number, got -1",
        ),
        ("dag[2].properties.resources.mem", "resource 'mem' must be a number, got string"),
    ]


def test_resource_problems_reported_with_shape_errors_too():
    doc = fan(left={"cpu": -1})
    doc["dag"][2]["properties"]["primitive"] = "sideways"  # a shape error elsewhere
    paths = [p for p, _ in errors_of(doc)]
    assert "dag[1].properties.resources.cpu" in paths
    assert "dag[2].properties.primitive" in paths


def test_valid_requirements_round_trip_and_match_the_schema():
    doc = fan(left={"cpu": 2, "memory": 512.5})
    spec = load_spec(doc)
    assert spec.dag[1].properties.resources == {"cpu": 2, "memory": 512.5}
    dumped = spec.to_json_dict()
    assert dumped["dag"][1]["properties"]["resources"] == {"cpu": 2, "memory": 512.5}
    assert "resources" not in dumped["dag"][0]["properties"]  # DAGit's shape kept
    assert load_spec(dumped) == spec
    validator = jsonschema.Draft202012Validator(spec_json_schema())
    assert validator.is_valid(dumped)
    for bad in ({"cpu": -1}, {"a b": 1}, {"cpu": "2"}):
        assert not validator.is_valid(fan(left=bad)), bad


def test_check_resources_for_function_requirements():
    assert check_resources({"cpu": 2}) == {"cpu": 2.0}
    assert check_resources(None) == {} and check_resources({}) == {}
    with pytest.raises(SpecError) as info:
        check_resources({"cpu": float("nan")}, "functions.f.resources")
    assert info.value.errors == [
        ("functions.f.resources.cpu", "resource 'cpu' must be a positive finite number, got nan")
    ]


def test_planner_steps_carry_function_requirements_overlaid_by_the_node():
    spec = load_spec(fan(left={"cpu": 3}))
    assert node_requirements(spec, {"left": {"cpu": 1, "memory": 8}, "right": {"gpu": 1}}) == {
        "left": {"cpu": 3.0, "memory": 8.0},
        "right": {"gpu": 1.0},
    }
    planner = SpecPlanner(spec, resources={"right": {"gpu": 1}})
    (first,) = planner.start()
    assert first.resources == {}
    steps = {s.instance: s.resources for s in planner.complete("start", {})}
    assert steps == {"left": {"cpu": 3.0}, "right": {"gpu": 1.0}}
    with pytest.raises(SpecError) as info:
        SpecPlanner(spec, resources={"right": {"gpu": -1}})
    assert info.value.errors[0][0] == "resources.right.gpu"


def test_loop_instances_require_what_their_node_does():
    doc = {
        "name": "loop",
        "dag": [
            {
                "node_id": "tick",
                "properties": {
                    "primitive": "condition",
                    "condition": {"source": "x", "operator": "less_than", "target": 3},
                    "branch_1": "tick",
                    "branch_2": "done",
                    "outputs_from": ["tick"],
                    "resources": {"cpu": 1},
                },
            },
            node("done", ""),
        ],
    }
    reg = FunctionRegistry({"tick": lambda x=0, **_: {"x": x + 1}, "done": lambda **_: {}})
    result = run_workflow(doc, reg, resource_pool=ResourcePool({"cpu": 1}), backend="threads")
    assert result.ok
    ticks = [n for n in result.dag.nodes if n.startswith("tick")]
    assert ticks == ["tick", "tick#2", "tick#3"]
    assert all(result.dag.options(n).resources == {"cpu": 1.0} for n in ticks)
    assert result.dag.options("done").resources in (None, {})


def test_a_pool_keeps_instances_within_capacity():
    """left and right need cpu=2 each: on cpu=4 they run at once (each waits for the
    other at a barrier), on cpu=3 the pool never lets them overlap."""
    needs = {"left": {"cpu": 2}, "right": {"cpu": 2}}
    for capacity, peak in ((4, 4.0), (3, 2.0)):
        barrier = threading.Barrier(2, timeout=10) if capacity == 4 else None

        def hold(barrier=barrier, **_):
            if barrier is not None:
                barrier.wait()  # BrokenBarrierError (a failed run) if they cannot overlap
            return {}

        reg = FunctionRegistry({"start": lambda **_: {}, "left": hold, "right": hold})
        pool = ResourcePool({"cpu": capacity})
        result = run_workflow(
            fan(), reg, resources=needs, resource_pool=pool, backend="threads", max_workers=4
        )
        assert result.ok, result.failures
        assert max(s.allocated["cpu"] for s in pool.timeline.snapshots) == peak
        spans = [(n, r.start, r.end) for n, r in result.results.items()]
        (cpu,) = usage_from_intervals(spans, needs)
        assert cpu.resource == "cpu" and cpu.peak == peak


def test_a_requirement_beyond_the_pool_is_refused_before_anything_runs():
    called = []
    reg = FunctionRegistry(
        {n: (lambda **_: called.append(1) or {}) for n in ("start", "left", "right")}
    )
    with pytest.raises(ResourceError) as info:
        run_workflow(fan(right={"cpu": 8}), reg, resource_pool=ResourcePool({"cpu": 4}))
    assert "node 'right'" in str(info.value) and "cpu=8" in str(info.value)
    assert "cpu=4" in str(info.value)
    assert called == []
    with pytest.raises(ResourceError, match="no resource 'gpu'"):
        run_workflow(fan(left={"gpu": 1}), reg, resource_pool=ResourcePool({"cpu": 4}))
