"""``dagforge run | show``: run a DAG from a module, or print it as text."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dagforge.cli import load_object


def _backend(spec: str) -> str:
    return spec


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


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``show`` to the typer ``app``."""
    app.command("run")(run)
    app.command("show")(show)
