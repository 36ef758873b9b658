"""The public names are typed for users: ``dagforge/__init__.py`` loads them lazily at run
time, and its ``if TYPE_CHECKING:`` block imports each one, from the module ``_EXPORTS``
names, as an explicit re-export (``from m import X as X``) that a strict type checker
accepts."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import dagforge

ROOT = Path(__file__).resolve().parents[1]
INIT = Path(dagforge.__file__)


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """``{bound name: (module, imported name)}`` of the ``if TYPE_CHECKING:`` block."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "dagforge/__init__.py has one top-level `if TYPE_CHECKING:` block"
    found: dict[str, tuple[str, str]] = {}
    for stmt in blocks[0].body:
        assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
        for alias in stmt.names:
            bound = alias.asname or alias.name
            assert bound not in found, f"{bound} is imported twice"
            found[bound] = (stmt.module or "", alias.name)
            assert alias.asname == alias.name, (
                f"{alias.name} must be imported as `{alias.name} as {alias.name}` "
                "(an explicit re-export)"
            )
    return found


def test_every_public_name_is_imported_for_type_checkers_from_its_module():
    imports = _type_checking_imports()
    assert set(imports) == set(dagforge._EXPORTS), (
        f"missing: {sorted(set(dagforge._EXPORTS) - set(imports))}, "
        f"extra: {sorted(set(imports) - set(dagforge._EXPORTS))}"
    )
    for name, (module, imported) in imports.items():
        assert module == dagforge._EXPORTS[name], name
        assert imported == name


def test_the_type_checking_block_is_not_executed_at_import():
    probe = (
        "import sys, dagforge\n"
        "print('dagforge.graph' in sys.modules, 'dagforge.execution.executor' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_sees_the_real_classes_behind_the_lazy_loader():
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "tests/typing/check_public_api.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
