"""The ``dagforge`` command line: run, show, profile, compare, simulate, spec, serve.

Each command is a thin driver over the library; one module per command group
(``run``, ``profiling``, ``spec``, ``server``) adds its commands through a
``register(app)`` function so this file stays small. typer and rich are imported by
this package only, never by ``import dagforge``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    name="dagforge",
    help="Author, run, profile, schedule, grow and serve DAG workflows.",
    no_args_is_help=True,
    add_completion=False,
)


def load_object(ref: str) -> Any:
    """Load ``MODULE:OBJECT`` (a DAG, or a zero-argument callable returning one)."""
    from dagforge.graph import DAG

    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise typer.BadParameter(f"expected MODULE:OBJECT, got {ref!r}")
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name).resolve()
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    else:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise typer.BadParameter(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, DAG) and callable(obj):
        obj = obj()
    if not isinstance(obj, DAG):
        raise typer.BadParameter(f"{ref} is not a dagforge DAG (got {type(obj).__name__})")
    return obj


def _register_optional() -> None:
    for module_name in (
        "dagforge.cli.run",
        "dagforge.cli.profiling",
        "dagforge.cli.spec",
        "dagforge.cli.server",
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if exc.name and exc.name.startswith("dagforge"):
                continue  # that part is not part of this build
            raise
        module.register(app)


_register_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
