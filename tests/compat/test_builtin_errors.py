"""Errors about bad input are also the built-in types the seeds' originals raise."""

from __future__ import annotations

import pytest

import dagforge
from dagforge import DAG, Config, ResourcePool, ResourceRequirements, Task, task
from dagforge.errors import OptionError


def test_bad_input_errors_derive_from_builtin_types():
    for name in (
        "GraphError",
        "CycleError",
        "DuplicateNodeError",
        "MissingInputError",
        "AmbiguousInputError",
        "EdgeRoutingError",
        "TaskOutputError",
        "ResourceError",
        "DynamicGraphError",
        "SpecError",
        "ProfileError",
        "SerializationError",
        "RegistryError",
    ):
        assert issubclass(getattr(dagforge, name), ValueError), name
    for name in ("UnknownNodeError", "ConfigError", "UnknownFunctionError"):
        assert issubclass(getattr(dagforge, name), KeyError), name
    assert issubclass(OptionError, ValueError)


def test_a_cycle_is_a_value_error_as_in_dagprofiler():
    with pytest.raises(ValueError, match="cycle"):
        DAG(tasks={"a": lambda x: x, "b": lambda x: x}, edges=[("a", "b"), ("b", "a")])


def test_a_task_missing_outputs_is_a_value_error_as_in_dagprofiler():
    class Broken(Task):
        outputs = ["data", "labels"]

        def compute(self, cfg=None):
            return {"data": 1}

    result = DAG(tasks={"broken": Broken()}, edges=[], config=Config()).execute()
    err = result["broken"].error
    assert isinstance(err, ValueError) and "labels" in str(err)


def test_an_impossible_resource_request_is_a_value_error_as_in_dagron():
    pool = ResourcePool(capacities={"gpu": 1})
    dag = DAG.builder().add_node("big").build()
    with pytest.raises(ValueError, match="gpu"):
        dagforge.ResourceAwareExecutor(
            dag, pool, {"big": ResourceRequirements(resources={"gpu": 4})}
        ).execute({"big": lambda: 1})


def test_an_unknown_node_is_a_key_error_with_a_readable_message():
    with pytest.raises(KeyError) as err:
        DAG().add_edge("x", "y")
    assert str(err.value).startswith("edge source 'x'")


def test_task_decorator_bad_option_is_a_value_error():
    with pytest.raises(ValueError, match="retries"):
        task(outputs=["x"], retries=-1)(lambda: {"x": 1})
