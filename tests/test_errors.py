"""The error hierarchy (issue 14 item 7): one root, six families, built-in bases.

Walks every class defined in ``dagforge.errors``: each has a one-line "Raised ..."
docstring, derives from exactly one family (the families from the root directly), and
has exactly the built-in bases the table below says a user would catch it by. Then
walks the source of ``src/dagforge`` with ``ast``: a ``raise`` of a built-in exception
(``raise ValueError(...)``) is allowed only where ``ALLOWED_BUILTIN_RAISES`` says why,
so every error a user should catch as ``dagforge.DagforgeError`` is one.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

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
    "TracingError": ("GraphError", {ValueError, TypeError}),
    "RunError": ("RunError", set()),
    "TaskOutputError": ("RunError", {ValueError}),
    "NodeStateError": ("RunError", {RuntimeError}),
    "ExecutionError": ("RunError", set()),
    "NodeTimeoutError": ("RunError", {TimeoutError, OSError}),  # TimeoutError is an OSError
    "WorkerLostError": ("RunError", set()),
    "BackendError": ("RunError", set()),
    "CancelledError": ("RunError", set()),
    "RunArgumentError": ("RunError", {ValueError, TypeError}),
    "DeadlockError": ("RunError", {RuntimeError}),
    "ResourceError": ("ResourceError", {ValueError}),
    "RequirementError": ("ResourceError", {ValueError, TypeError}),
    "WorkflowError": ("WorkflowError", set()),
    "SpecError": ("WorkflowError", {ValueError}),
    "LoopLimitError": ("WorkflowError", set()),
    "UnknownFunctionError": ("WorkflowError", {KeyError}),
    "PlatformError": ("PlatformError", set()),
    "StorageFault": ("PlatformError", set()),
    "LeaseLost": ("PlatformError", set()),
    "RegistryError": ("PlatformError", {ValueError}),
    "ClientError": ("PlatformError", set()),
    "ServerOptionError": ("PlatformError", {ValueError}),
    "PersistenceError": ("PersistenceError", set()),
    "StoreError": ("PersistenceError", set()),
    "SerializationError": ("PersistenceError", {ValueError}),
    "ProfileError": ("PersistenceError", {ValueError}),
    "ReportError": ("PersistenceError", {ValueError, TypeError}),
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


# --- no bare built-in raises in src/dagforge ---------------------------------------------

SRC = Path(dagforge.__file__).parent
BUILTIN_EXCEPTIONS = {
    name
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, BaseException)
}
_PROTOCOL = "a Python protocol: this built-in is what the caller's machinery expects"
_INTERNAL = "an internal assertion of an impossible state (a dagforge bug, not bad input)"
_TRANSLATED = "internal: caught a few lines up and raised as a dagforge error"
_ABSTRACT = "an abstract method: NotImplementedError is the convention"
_EXTRA = "a missing optional dependency stays an ImportError, with the pip command"
_COMPAT = "compat: the original library raises this built-in here (tests/compat)"

# (file under src/dagforge, enclosing function, built-in) -> why it stays a built-in.
ALLOWED_BUILTIN_RAISES: dict[tuple[str, str, str], str] = {
    ("__init__.py", "__getattr__", "AttributeError"): _PROTOCOL + " (module __getattr__)",
    ("config.py", "Config.__getattr__", "AttributeError"): _PROTOCOL + " (getattr/hasattr)",
    ("config.py", "Config.__setattr__", "AttributeError"): _PROTOCOL + " (read-only object)",
    ("config.py", "Config.__hash__", "TypeError"): _PROTOCOL + " (hash() of an unhashable)",
    ("server/api_models.py", "ApiModel.__getitem__", "KeyError"): _PROTOCOL + " (Mapping)",
    ("cli/__init__.py", "main", "SystemExit"): "the CLI's exit code",
    ("cli/_app.py", "main", "SystemExit"): "the CLI's exit code",
    ("execution/core.py", "Core._complete", "KeyboardInterrupt"): "Ctrl-C in a node stops the run",
    ("execution/backends/base.py", "Backend.capacity", "NotImplementedError"): _ABSTRACT,
    ("execution/backends/base.py", "Backend.submit", "NotImplementedError"): _ABSTRACT,
    ("execution/backends/base.py", "Backend.wait", "NotImplementedError"): _ABSTRACT,
    ("serializers.py", "Serializer.dumps", "NotImplementedError"): _ABSTRACT,
    ("serializers.py", "Serializer.loads", "NotImplementedError"): _ABSTRACT,
    ("tasks.py", "Task.compute", "NotImplementedError"): _ABSTRACT,
    ("otel.py", "_require", "ModuleNotFoundError"): _EXTRA,
    ("profiling/plot.py", "_figure", "ImportError"): _EXTRA,
    ("profiling/saga.py", "_saga", "ImportError"): _EXTRA,
    # json.dumps' default= hook must raise TypeError; dumps() translates it.
    ("serializers.py", "_json_default", "TypeError"): _PROTOCOL + "; " + _TRANSLATED,
    ("serializers.py", "NumpySerializer._dumps", "TypeError"): _TRANSLATED,
    ("serializers.py", "NumpySerializer._loads", "ValueError"): _TRANSLATED,
    ("server/schedules.py", "validate", "ValueError"): _TRANSLATED,
    ("execution/backends/asyncio_backend.py", "AsyncioBackend.wait", "RuntimeError"): _INTERNAL,
    ("scheduling/simbackend.py", "SimulatedBackend.submit", "RuntimeError"): _INTERNAL,
    ("scheduling/simbackend.py", "SimulatedBackend.wait", "RuntimeError"): _INTERNAL,
    ("scheduling/simulate.py", "_never", "RuntimeError"): _INTERNAL,
    ("profiling/schema.py", "_is", "ValueError"): _INTERNAL + " (PROFILE_SCHEMA's types)",
    ("compat/adage/__init__.py", "rundag", "TypeError"): _COMPAT,
    ("compat/adage/__init__.py", "rundag", "RuntimeError"): _COMPAT,
    ("compat/adage/graph.py", "AdageDAG.addNode", "TypeError"): _COMPAT,
    ("compat/adage/graph.py", "AdageDAG.getNodeByName", "RuntimeError"): _COMPAT,
    ("compat/adage/serialize.py", "_SavedTask.__call__", "RuntimeError"): _COMPAT,
    ("compat/adage/serialize.py", "_saved_rule.body", "RuntimeError"): _INTERNAL,
    ("compat/tawazi/__init__.py", "DAG.get_node_by_id", "KeyError"): _COMPAT,
    ("compat/tawazi/__init__.py", "DAG._selection.ids", "KeyError"): _COMPAT,
    ("compat/tawazi/__init__.py", "xn", "TypeError"): _COMPAT + " (and its message)",
    ("compat/tawazi/__init__.py", "dag", "TypeError"): _COMPAT + " (and its message)",
}


class _BuiltinRaises(ast.NodeVisitor):
    """Collects ``(file, enclosing function, built-in, line)`` of every ``raise X(...)``
    or ``raise X`` whose ``X`` is a built-in exception class."""

    def __init__(self, file: str):
        self.file = file
        self.scope: list[str] = []
        self.found: list[tuple[str, str, str, int]] = []

    def _scoped(self, node: ast.AST, name: str) -> None:
        self.scope.append(name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node, node.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id in BUILTIN_EXCEPTIONS:
            where = ".".join(self.scope) or "<module>"
            self.found.append((self.file, where, exc.id, node.lineno))
        self.generic_visit(node)


def builtin_raises(root: Path = SRC) -> list[tuple[str, str, str, int]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        visitor = _BuiltinRaises(path.relative_to(root).as_posix())
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found += visitor.found
    return found


def test_the_scan_finds_a_bare_builtin_raise(tmp_path):
    (tmp_path / "mod.py").write_text(
        "class A:\n"
        "    def f(self, x):\n"
        "        if x:\n"
        "            raise ValueError(f'bad {x}')\n"
        "        raise KeyError\n"
        "def g():\n"
        "    raise dagforge.errors.GraphError('fine')\n"
        "def h(exc):\n"
        "    raise exc\n"
    )
    assert builtin_raises(tmp_path) == [
        ("mod.py", "A.f", "ValueError", 4),
        ("mod.py", "A.f", "KeyError", 5),
    ]


def test_no_builtin_raise_outside_the_allowlist():
    tolerated = ALLOWED_BUILTIN_RAISES.keys()
    bad = [
        f"{f}:{line} {where}: raise {exc}"
        for f, where, exc, line in builtin_raises()
        if (f, where, exc) not in tolerated
    ]
    assert not bad, (
        "raise a dagforge error (dagforge.errors, with the built-in base the caller "
        "catches) instead, or add the site to ALLOWED_BUILTIN_RAISES saying why:\n  "
        + "\n  ".join(bad)
    )


def test_every_allowlisted_raise_still_exists():
    found = {(f, where, exc) for f, where, exc, _line in builtin_raises()}
    stale = sorted(set(ALLOWED_BUILTIN_RAISES) - found)
    assert not stale, f"no longer raised; remove from ALLOWED_BUILTIN_RAISES: {stale}"


def _bad_executor_seed():
    from dagforge import Executor

    Executor(DAG.builder().add_node("a").build(), seed="42")


def _bad_backend_name():
    from dagforge.execution.backends import make_backend

    make_backend("no-such-backend")


def _bad_thread_count():
    from dagforge.execution.backends.threads import ThreadBackend

    ThreadBackend(max_workers=0)


def _bad_capture_limit():
    from dagforge.execution.capture import LogCapture

    LogCapture(-1)


@pytest.mark.parametrize(
    ("call", "builtin"),
    [
        (_bad_executor_seed, TypeError),
        (_bad_backend_name, ValueError),
        (_bad_thread_count, ValueError),
        (_bad_capture_limit, ValueError),
    ],
)
def test_execution_argument_errors_are_run_argument_errors(call, builtin):
    with pytest.raises(errors.RunArgumentError) as caught:
        call()
    assert isinstance(caught.value, builtin) and isinstance(caught.value, errors.RunError)


# --- the converted raises: caught as DagforgeError and as the old built-in --------------


def _simulate_bad_workers():
    from dagforge.scheduling.simulate import simulate

    simulate(DAG.builder().add_node("a").build(), workers=0)


def _simulate_bad_source():
    from dagforge.scheduling.simulate import simulate

    simulate(42, workers=1)


def _simulate_unknown_priority_node():
    from dagforge.scheduling.simulate import simulate

    simulate(DAG.builder().add_node("a").build(), workers=1, priorities={"zz": 1})


def _node_on_a_non_callable():
    from dagforge.functional import node

    node(42)


def _gantt_of_a_number():
    from dagforge.profiling.plot import gantt

    gantt(42)


def _requirement_not_a_number():
    from dagforge.profiling.resource_usage import usage_from_intervals

    usage_from_intervals([("a", 0.0, 1.0)], {"a": {"gpu": "one"}})


def _bad_capacity():
    from dagforge.server.capacity import parse_capacity

    parse_capacity("cpu=four")


def _bad_log_format():
    from dagforge.server.observability import setup_logging

    setup_logging("xml")


def _unknown_spec_node():
    from dagforge.spec import load_spec

    examples = Path(__file__).resolve().parents[1] / "examples" / "specs"
    load_spec(examples / "filling-a-glass-of-water.json").node("zz")


@pytest.mark.parametrize(
    ("call", "error", "builtin", "match"),
    [
        (_simulate_bad_workers, errors.RunArgumentError, ValueError, "workers must be"),
        (_simulate_bad_source, errors.RunArgumentError, TypeError, "got int"),
        (_simulate_unknown_priority_node, errors.UnknownNodeError, KeyError, "'zz'"),
        (_node_on_a_non_callable, errors.TracingError, TypeError, "got 42"),
        (_gantt_of_a_number, errors.ReportError, TypeError, "got int"),
        (_requirement_not_a_number, errors.RequirementError, TypeError, "'gpu' of node 'a'"),
        (_bad_capacity, errors.ServerOptionError, ValueError, "cpu='four' is not a number"),
        (_bad_log_format, errors.ServerOptionError, ValueError, "'xml'"),
        (_unknown_spec_node, errors.UnknownNodeError, KeyError, "'zz' is not in this spec"),
    ],
)
def test_bad_input_raises_a_dagforge_error_that_is_also_the_old_builtin(
    call, error, builtin, match
):
    with pytest.raises(error, match=match) as err:
        call()
    assert isinstance(err.value, DagforgeError) and isinstance(err.value, builtin)


def test_docs_errors_md_lists_every_class_with_its_builtin_bases():
    page = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text()
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            rows[cells[0].strip("`")] = {c.strip("` ") for c in cells[1].split(",") if c.strip()}
    assert set(rows) == set(EXPECTED), (
        f"missing from docs/errors.md: {sorted(set(EXPECTED) - set(rows))}; "
        f"not in errors.py: {sorted(set(rows) - set(EXPECTED))}"
    )
    for name, (_family, bases) in EXPECTED.items():
        documented = {b for b in bases if b is not OSError}  # TimeoutError is an OSError
        assert rows[name] == {b.__name__ for b in documented}, name
