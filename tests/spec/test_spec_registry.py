"""FunctionRegistry: registering by name, decorator, import path and module; its errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from dagforge.errors import RegistryError, UnknownFunctionError
from dagforge.spec import FunctionRegistry, load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


@pytest.fixture
def make_module(tmp_path, monkeypatch):
    """Write a throwaway package module under tmp_path and put it on the path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created = []

    def make(name, source):
        path = tmp_path.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.parents:
            if parent == tmp_path:
                break
            (parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield make
    for name in created:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            sys.modules.pop(key, None)


def spec(*names):
    dag = [
        {
            "node_id": n,
            "properties": {
                "primitive": "serial",
                "next": names[i + 1] if i + 1 < len(names) else "",
            },
        }
        for i, n in enumerate(names)
    ]
    return load_spec({"name": "w", "dag": dag})


def test_register_by_name_and_as_a_decorator():
    registry = FunctionRegistry({"one": lambda **_: {"v": 1}})

    def two(**_):
        return {"v": 2}

    assert registry.register("two", two) is two

    @registry.register
    def three(**_):
        return {"v": 3}

    @registry.register("four")
    def not_four(**_):
        return {"v": 4}

    @registry.function
    def five(**_):
        return {"v": 5}

    @registry.function("six")
    def not_six(**_):
        return {"v": 6}

    assert three()["v"] == 3  # the decorator gives the function back
    assert registry.names == ["five", "four", "one", "six", "three", "two"]
    assert [registry.resolve(n)()["v"] for n in ("one", "two", "three", "four", "five", "six")] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert "four" in registry and "not_four" not in registry and len(registry) == 6
    registry.register("one", two)  # a later registration replaces
    assert registry.resolve("one") is two


def test_registration_errors():
    registry = FunctionRegistry()
    with pytest.raises(RegistryError, match="not callable"):
        registry.register("x", 42)
    with pytest.raises(RegistryError, match="non-empty string"):
        registry.register("", lambda: None)
    with pytest.raises(RegistryError, match="non-empty string"):
        registry.register_path(None, "os:getcwd")


@pytest.mark.parametrize("path", ["no_colon", "pkg.mod:", ":func", "a b:c", "pkg..mod:f", 3])
def test_malformed_import_paths_are_refused(path):
    with pytest.raises(UnknownFunctionError, match=r"package\.module:function"):
        FunctionRegistry().register_path("bad", path)


def test_import_paths_resolve_on_first_use(examples_on_path):
    registry = FunctionRegistry()
    registry.register_path("add_water", "spec_functions:add_water")
    registry.register_path("join", "os.path:join")
    assert registry.resolve("add_water")(quantity=1) == {"quantity": 251}
    assert registry.resolve("join")("a", "b") == "a/b"
    registry.register_path("method", "collections:OrderedDict.fromkeys")  # dotted attributes
    assert list(registry.resolve("method")("ab")) == ["a", "b"]


def test_allowed_modules_refuse_paths_and_modules_outside_them(examples_on_path):
    registry = FunctionRegistry(allowed_modules=["spec_functions", "mypkg"])
    registry.register_path("add_water", "spec_functions:add_water")
    registry.register_path("deep", "mypkg.sub.module:f")  # a subpackage is inside
    with pytest.raises(UnknownFunctionError, match="'os' is not in the allowed packages"):
        registry.register_path("evil", "os:system")
    with pytest.raises(UnknownFunctionError, match="not in the allowed packages"):
        registry.register_path("sneaky", "mypkg_evil:f")  # a prefix is not a package
    with pytest.raises(UnknownFunctionError, match="not in the allowed packages"):
        registry.from_module("subprocess")
    assert "evil" not in registry and "sneaky" not in registry
    assert FunctionRegistry(allowed_modules="spec_functions").allowed_modules == ("spec_functions",)
    nothing = FunctionRegistry(allowed_modules=[])
    with pytest.raises(UnknownFunctionError, match="not in the allowed packages"):
        nothing.register_path("add_water", "spec_functions:add_water")
    # a callable handed over directly is trusted: it is already in the process
    nothing.register("local", lambda: 1)


def test_from_module_registers_the_public_functions_defined_there(make_module):
    name = make_module(
        "fns_plain",
        """
        from os.path import join            # imported: not registered
        CONSTANT = 3                        # not callable
        class Helper: pass                  # a class: not registered
        def _private(): pass
        def alpha(**_): return {"a": 1}
        def beta(**_): return {"b": 2}
        """,
    )
    registry = FunctionRegistry.from_module(name)  # on the class: a new registry
    assert registry.names == ["alpha", "beta"]
    module = sys.modules[name]
    other = FunctionRegistry()
    assert other.from_module(module) is other  # on an instance: adds to it
    assert other.names == ["alpha", "beta"]
    listed = make_module(
        "fns_listed",
        """
        from os.path import join
        __all__ = ["join", "gamma"]
        def gamma(): pass
        def delta(): pass
        """,
    )
    assert FunctionRegistry.from_module(listed).names == ["gamma", "join"]
    guarded = FunctionRegistry.from_module(name, allowed_modules=["fns_plain"])
    assert guarded.allowed_modules == ("fns_plain",) and guarded.names == ["alpha", "beta"]
    with pytest.raises(UnknownFunctionError, match="cannot import module 'no_such_mod'"):
        FunctionRegistry.from_module("no_such_mod")
    with pytest.raises(RegistryError, match="a module or its name"):
        FunctionRegistry().from_module(42)


def test_resolve_errors_say_why(make_module):
    registry = FunctionRegistry({"add_water": lambda: 1})
    with pytest.raises(UnknownFunctionError, match="did you mean 'add_water'"):
        registry.resolve("add_watr")
    registry.register_path("ghost", "os.path:does_not_exist")
    with pytest.raises(UnknownFunctionError, match="has no attribute 'does_not_exist'"):
        registry.resolve("ghost")
    registry.register_path("nomod", "no_such_module_xyz:f")
    with pytest.raises(UnknownFunctionError, match=r"cannot import .*ModuleNotFoundError"):
        registry.resolve("nomod")
    registry.register_path("constant", "os:sep")
    with pytest.raises(UnknownFunctionError, match="is not callable"):
        registry.resolve("constant")
    broken = make_module("fns_broken", "raise RuntimeError('boom at import')\n")
    registry.register_path("broken", f"{broken}:f")
    with pytest.raises(UnknownFunctionError, match="RuntimeError: boom at import"):
        registry.resolve("broken")


def test_check_lists_every_missing_function_before_anything_runs():
    ran = []
    registry = FunctionRegistry({"a": lambda **_: ran.append("a") or {}})
    registry.register_path("c", "no_such_module_xyz:c")
    with pytest.raises(UnknownFunctionError) as err:
        registry.check(spec("a", "b", "c", "d"))
    assert err.value.missing == ["b", "c", "d"]
    assert [p for p, _ in err.value.errors] == ["dag[1]", "dag[2]", "dag[3]"]
    message = str(err.value)
    assert "3 node(s) have no usable function (b, c, d)" in message
    assert "dag[2]: 'c': function 'c': cannot import" in message
    assert ran == []
    registry.register("b", lambda **_: {})
    registry.register("c", lambda **_: {})
    registry.register("d", lambda **_: {})
    assert set(registry.check(spec("a", "b", "c", "d"))) == {"a", "b", "c", "d"}
