"""The allow-module rule of ``FunctionRegistry`` (issue 10): a callable *defined* in an
allowed package, reached without passing through a module object or a dunder; checked
when a path is registered and again when it is resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagforge.errors import UnknownFunctionError
from dagforge.spec import FunctionRegistry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def on_path(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    pkg = tmp_path / "allowpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "fns.py").write_text(
        "import os\n"
        "from os import system\n"
        "from functools import partial\n"
        "def ok(**_):\n    return {'ok': 1}\n"
        "class Tool:\n    @staticmethod\n    def run(**_):\n        return {'tool': 1}\n"
        "shell = partial(os.system, 'true')\n"
        "__all__ = ['ok', 'system']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("spec_functions:re.enum.bltns.open", "reaches through the module 're'"),
        ("allowpkg.fns:os.system", "reaches through the module 'os'"),
        ("allowpkg.fns:os.remove", "reaches through the module 'os'"),
        ("allowpkg.fns:system", "defined in 'posix'"),  # imported into the allowed module
        ("allowpkg.fns:shell", "defined in 'functools'"),  # a partial of os.system
        ("allowpkg.fns:ok.__globals__", "dunder attribute '__globals__'"),
    ],
)
def test_hops_and_imported_callables_are_refused(on_path, path, why):
    registry = FunctionRegistry(allowed_modules=["allowpkg", "spec_functions"])
    with pytest.raises(UnknownFunctionError) as err:
        registry.register_path("f", path)
        registry.resolve("f")
    assert why in str(err.value) and "'f'" in str(err.value)


def test_functions_defined_in_the_allowed_package_resolve(on_path):
    registry = FunctionRegistry(allowed_modules=["allowpkg", "spec_functions"])
    registry.register_path("ok", "allowpkg.fns:ok")
    registry.register_path("tool", "allowpkg.fns:Tool.run")  # a class's method: no module hop
    registry.register_path("add_water", "spec_functions:add_water")
    assert registry.resolve("ok")() == {"ok": 1}
    assert registry.resolve("tool")() == {"tool": 1}
    assert registry.resolve("add_water")(quantity=1) == {"quantity": 251}


def test_the_rule_is_checked_again_at_resolve(on_path):
    registry = FunctionRegistry(allowed_modules=["allowpkg"])
    registry.register_path("ok", "allowpkg.fns:ok")
    registry.allowed_modules = ("spec_functions",)  # the allow list narrowed since
    with pytest.raises(UnknownFunctionError, match="not in the allowed packages"):
        registry.resolve("ok")


def test_from_module_leaves_out_names_defined_elsewhere(on_path):
    guarded = FunctionRegistry.from_module("allowpkg.fns", allowed_modules=["allowpkg"])
    assert guarded.names == ["ok"]  # __all__'s 'system' comes from os: left out
    assert FunctionRegistry.from_module("allowpkg.fns").names == ["ok", "system"]  # unguarded
