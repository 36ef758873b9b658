"""The ``dagforge`` command line: run, show, profile, compare, simulate, spec, serve.

Each command is a thin driver over the library; subcommand groups owned by other
modules register themselves through a ``register(app)`` function so this file stays
small. typer and rich are imported here only, never by ``import dagforge``.
"""

from __future__ import annotations

import importlib
import json
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


def _backend(spec: str) -> str:
    return spec


@app.command()
def run(
    ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG"),
    backend: str = typer.Option(
        "threads", help="inline | threads | processes | asyncio | dask[://HOST:PORT]"
    ),
    workers: int = typer.Option(None, help="worker pool size"),
    max_concurrency: int = typer.Option(None, help="cap on nodes running at once"),
    trace: Path = typer.Option(None, help="write a Chrome trace JSON here"),
    keep_going: bool = typer.Option(False, help="on a failure, finish independent branches"),
) -> None:
    """Run a DAG and print a per-node summary."""
    from rich.console import Console
    from rich.table import Table

    from dagforge.execution.executor import Executor

    dag = load_object(ref)
    console = Console()
    result = Executor(
        dag,
        backend=_backend(backend),
        max_workers=workers,
        max_concurrency=max_concurrency,
        fail_fast=not keep_going,
        enable_tracing=trace is not None,
    ).execute()
    table = Table(title=f"{ref}: {result.summary()}")
    for col in ("node", "status", "worker", "start s", "duration s", "detail"):
        table.add_column(col)
    for name, r in result.results.items():
        detail = f"{type(r.error).__name__}: {r.error}" if r.error else (r.reason or "")
        table.add_row(
            name,
            r.status,
            r.worker or "",
            f"{r.start:.4f}" if r.start is not None else "",
            f"{r.duration:.4f}" if r.duration is not None else "",
            detail[:80],
        )
    console.print(table)
    if trace is not None:
        result.trace.save(trace)
        console.print(f"trace written to {trace}")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def show(
    ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG"),
    fmt: str = typer.Option("mermaid", "--format", help="mermaid | dot | json"),
) -> None:
    """Print a DAG as Mermaid, DOT or JSON text."""
    dag = load_object(ref)
    if fmt == "mermaid":
        typer.echo(dag.to_mermaid(), nl=False)
    elif fmt == "dot":
        typer.echo(dag.to_dot(), nl=False)
    elif fmt == "json":
        typer.echo(json.dumps(dag.to_dict(), indent=2))
    else:
        raise typer.BadParameter(f"unknown format {fmt!r}; use mermaid, dot or json")


def _register_optional() -> None:
    for module_name in ("dagforge.cli_profiling", "dagforge.spec.cli", "dagforge.server.cli"):
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
