"""The public surface: ``dagforge.__all__`` is exactly what ``__init__.py`` promises, every name
resolves, and ``import dagforge`` (and a plain run) stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dagforge

HEAVY = ("numpy", "pandas", "dask", "distributed", "fastapi", "matplotlib")

# Written out by hand from src/dagforge/__init__.py: a name added to or dropped from the
# public API must be a deliberate change here too.
EXPECTED = {
    "__version__",
    # authoring
    "Config",
    "Task",
    "task",
    "DAG",
    "DAGBuilder",
    "dag",
    "NodeOptions",
    # functional authoring
    "node",
    "pipeline",
    "Pipeline",
    # dynamic graphs
    "Rule",
    "rule",
    # execution
    "Executor",
    "ResourceAwareExecutor",
    "AsyncResourceAwareExecutor",
    "ExecutionCallbacks",
    "ExecutionResult",
    "NodeResult",
    # profiling and simulation
    "Profile",
    "TaskMetrics",
    "EdgeMetrics",
    "simulate",
    # resources
    "ResourcePool",
    "ResourceRequirements",
    "ResourceSnapshot",
    "ResourceTimeline",
    # errors
    "DagforgeError",
    "GraphError",
    "CycleError",
    "DuplicateNodeError",
    "UnknownNodeError",
    "MissingInputError",
    "AmbiguousInputError",
    "EdgeRoutingError",
    "ConfigError",
    "TaskOutputError",
    "NodeStateError",
    "ExecutionError",
    "NodeTimeoutError",
    "WorkerLostError",
    "BackendError",
    "CancelledError",
    "ResourceError",
    "DynamicGraphError",
    "SpecError",
    "LoopLimitError",
    "UnknownFunctionError",
    "ProfileError",
    "SerializationError",
    "StoreError",
    "RegistryError",
    "ClientError",
    # the platform client
    "Client",
}

ERRORS = {name for name in EXPECTED if name.endswith("Error")}


def _modules_after(code: str) -> list[str]:
    """Heavy modules present in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = (
        f"import sys\n{code}\n"
        f"import json; print(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_all_is_exactly_the_public_surface():
    assert set(dagforge.__all__) == EXPECTED
    assert len(dagforge.__all__) == len(set(dagforge.__all__))  # no duplicates


def test_every_public_name_resolves_to_the_object_its_module_defines():
    for name in dagforge.__all__:
        value = getattr(dagforge, name)
        assert value is not None, name
        if name != "__version__":
            module = dagforge._EXPORTS[name]
            assert value is getattr(__import__(module, fromlist=[name]), name), name


def test_names_import_with_from_import():
    from dagforge import DAG, Config, Executor, Task, task  # noqa: F401

    namespace: dict = {}
    exec("from dagforge import *", namespace)
    assert EXPECTED - {"__version__"} <= set(namespace)


def test_version_is_a_string():
    assert isinstance(dagforge.__version__, str) and dagforge.__version__.count(".") >= 1


def test_dir_lists_the_public_names():
    assert set(dir(dagforge)) >= EXPECTED


def test_unknown_attributes_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = dagforge.Nope
    assert not hasattr(dagforge, "Engine")


def test_every_public_error_derives_from_the_root():
    for name in ERRORS:
        cls = getattr(dagforge, name)
        assert isinstance(cls, type) and issubclass(cls, dagforge.DagforgeError), name
        assert cls.__doc__, name
    # Graph construction errors share a base a user can catch at once.
    for name in (
        "CycleError",
        "DuplicateNodeError",
        "UnknownNodeError",
        "MissingInputError",
        "AmbiguousInputError",
        "EdgeRoutingError",
    ):
        assert issubclass(getattr(dagforge, name), dagforge.GraphError), name


def test_import_dagforge_pulls_in_no_heavy_dependency():
    assert _modules_after("import dagforge") == []


def test_building_and_running_a_dag_stays_light():
    code = (
        "import dagforge\n"
        "d = dagforge.DAG.builder().add_node('a').add_node('b').add_edge('a', 'b').build()\n"
        "for backend in ('inline', 'threads'):\n"
        "    r = dagforge.Executor(d, backend=backend).execute("
        "{'a': lambda: 1, 'b': lambda a: a + 1})\n"
        "    assert r.outputs == {'b': 2}, r\n"
        "dagforge.Config(N=1); dagforge.task; dagforge.ExecutionCallbacks"
    )
    assert _modules_after(code) == []
