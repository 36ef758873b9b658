"""The error hierarchy (issue 14 item 7): one root, six families, built-in bases.

Walks every class defined in ``dagforge.errors``: each has a one-line "Raised ..."
docstring, derives from exactly one family (the families from the root directly), and
has exactly the built-in bases the table below says a user would catch it by.
"""

from __future__ import annotations

import inspect

import pytest

import dagforge
from dagforge import DAG, errors
from dagforge.errors import FAMILIES, DagforgeError

BUILTINS = (ValueError, KeyError, TypeError, RuntimeError, TimeoutError, OSError)

# class -> (family, the built-in exception types it must also be, and no others)
EXPECTED: dict[str, tuple[str, set[type[Exception]]]] = {
    "GraphError": ("GraphError", {ValueError}),
    "DuplicateNodeError": ("GraphError", {ValueError}),
    "UnknownNodeError": ("GraphError", {ValueError, KeyError}),
    "CycleError": ("GraphError", {ValueError}),
    "MissingInputError": ("GraphError", {ValueError}),
    "AmbiguousInputError": ("GraphError", {ValueError}),
    "EdgeRoutingError": ("GraphError", {ValueError}),
    "OptionError": ("GraphError", {ValueError}),
    "SignatureError": ("GraphError", {ValueError}),
    "GraphValidationError": ("GraphError", {ValueError}),
    "ConfigError": ("GraphError", {ValueError, KeyError}),
    "DynamicGraphError": ("GraphError", {ValueError}),
    "RunError": ("RunError", set()),
    "TaskOutputError": ("RunError", {ValueError}),
    "NodeStateError": ("RunError", {RuntimeError}),
    "ExecutionError": ("RunError", set()),
    "NodeTimeoutError": ("RunError", {TimeoutError, OSError}),  # TimeoutError is an OSError
    "WorkerLostError": ("RunError", set()),
    "BackendError": ("RunError", set()),
    "CancelledError": ("RunError", set()),
    "ResourceError": ("ResourceError", {ValueError}),
    "WorkflowError": ("WorkflowError", set()),
    "SpecError": ("WorkflowError", {ValueError}),
    "LoopLimitError": ("WorkflowError", set()),
    "UnknownFunctionError": ("WorkflowError", {KeyError}),
    "PlatformError": ("PlatformError", set()),
    "StorageFault": ("PlatformError", set()),
    "RegistryError": ("PlatformError", {ValueError}),
    "ClientError": ("PlatformError", set()),
    "PersistenceError": ("PersistenceError", set()),
    "StoreError": ("PersistenceError", set()),
    "SerializationError": ("PersistenceError", {ValueError}),
    "ProfileError": ("PersistenceError", {ValueError}),
}


def defined_classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and obj.__module__ == errors.__name__
    }


def test_every_class_is_in_the_table_and_the_table_is_complete():
    names = set(defined_classes()) - {"DagforgeError"}
    assert names == set(EXPECTED), (
        f"not in the table: {sorted(names - set(EXPECTED))}; "
        f"gone from errors.py: {sorted(set(EXPECTED) - names)}"
    )


@pytest.mark.parametrize("name", sorted(defined_classes()))
def test_one_line_raised_when_docstring(name):
    cls = defined_classes()[name]
    doc = cls.__dict__.get("__doc__")
    assert doc and doc.strip(), f"{name} has no docstring"
    first = doc.strip().splitlines()[0]
    assert first.startswith("Raised"), f"{name}: {first!r} does not say when it is raised"
    assert first.endswith("."), f"{name}: the first line {first!r} is not one whole sentence"


def test_the_families_hang_directly_under_the_root():
    assert len(FAMILIES) == 6 and len(set(FAMILIES)) == 6
    for fam in FAMILIES:
        assert DagforgeError in fam.__bases__, fam
        assert not any(issubclass(fam, other) for other in FAMILIES if other is not fam)
    assert DagforgeError.__bases__ == (Exception,)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exactly_one_family_and_the_right_builtin_bases(name):
    cls = defined_classes()[name]
    family, builtins = EXPECTED[name]
    assert issubclass(cls, DagforgeError)
    in_families = [f.__name__ for f in FAMILIES if issubclass(cls, f)]
    assert in_families == [family], f"{name} is in {in_families}"
    got = {b for b in BUILTINS if issubclass(cls, b)}
    assert got == builtins, f"{name} is also {sorted(b.__name__ for b in got)}"


def test_every_error_is_importable_from_the_package_and_errors_module():
    for name in EXPECTED:
        assert getattr(dagforge.errors, name) is defined_classes()[name]
    # the names the package exported before the families came stay exported from it
    for name in ("DagforgeError", "GraphError", "CycleError", "UnknownNodeError"):
        assert getattr(dagforge, name) is getattr(errors, name)


def test_an_unknown_node_in_a_result_is_an_unknown_node_error_and_a_key_error():
    dag = DAG.builder().add_node("a").build()
    result = dag.execute({"a": lambda: 1})
    for lookup in (lambda: result["nope"], lambda: result.results["nope"]):
        with pytest.raises(errors.UnknownNodeError, match="'nope' is not a node of this run"):
            lookup()
        with pytest.raises(KeyError):
            lookup()
    assert result.results.get("nope") is None  # Mapping.get still works: it is a KeyError


def test_an_unknown_node_in_a_dag_names_it_and_suggests_the_closest():
    dag = DAG.builder().add_node("extract").build()
    with pytest.raises(errors.UnknownNodeError, match=r"'extrat'.*did you mean 'extract'"):
        dag.predecessors("extrat")


def test_a_cycle_is_caught_as_a_value_error_like_graphlib():
    b = DAG.builder().add_node("a").add_node("b").add_edge("a", "b").add_edge("b", "a")
    with pytest.raises(ValueError, match="a -> b -> a"):
        b.build()
