"""``dagforge run | show``: run a DAG from a module, or print it as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from dagforge.cli._app import OUTPUT, check_backend, emit, fail, load_object

BACKEND_HELP = "inline | threads | processes | asyncio | dask | dask://HOST:PORT"


def result_rows(result: Any) -> list[dict[str, Any]]:
    """One dict per node of an ``ExecutionResult`` (status, worker, times, error)."""
    rows = []
    for name, r in result.results.items():
        detail = f"{type(r.error).__name__}: {r.error}" if r.error else (r.reason or "")
        rows.append(
            {
                "node": name,
                "status": r.status,
                "worker": r.worker or "",
                "start_s": r.start,
                "duration_s": r.duration,
                "detail": detail[:200],
            }
        )
    return rows


def report_failure(result: Any) -> None:
    """``error: ...`` on stderr naming the first failed node and its exception, then exit 1."""
    failed = [(n, r) for n, r in result.results.items() if r.status == "failed"]
    if failed:
        name, r = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        cause = f"{type(r.error).__name__}: {r.error}" if r.error else (r.reason or "failed")
        typer.echo(f"error: node {name!r} failed{more}: {cause}", err=True)
    else:
        typer.echo(f"error: the run did not succeed: {result.summary()}", err=True)
    raise typer.Exit(1)


def run(
    ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG"),
    backend: str = typer.Option("threads", callback=check_backend, help=BACKEND_HELP),
    workers: int = typer.Option(None, min=1, help="worker pool size"),
    max_concurrency: int = typer.Option(None, min=1, help="cap on nodes running at once"),
    trace: Path = typer.Option(None, help="write a Chrome trace JSON here"),
    keep_going: bool = typer.Option(False, help="on a failure, finish independent branches"),
    output: str = OUTPUT,
) -> None:
    """Run a DAG and print a per-node summary (exit 1 if a node failed)."""
    from dagforge.execution.executor import Executor

    dag = load_object(ref)
    result = Executor(
        dag,
        backend=backend,
        max_workers=workers,
        max_concurrency=max_concurrency,
        fail_fast=not keep_going,
        enable_tracing=trace is not None,
    ).execute()
    rows = result_rows(result)
    if output == "json":
        emit({"dag": ref, "ok": result.ok, "summary": result.summary(), "nodes": rows}, output)
    else:
        emit(rows, output, title=f"{ref}: {result.summary()}")
    if trace is not None:
        result.trace.save(trace)
        typer.echo(f"trace written to {trace}", err=output == "json")
    if not result.ok:
        report_failure(result)


def show(
    ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG"),
    fmt: str = typer.Option("mermaid", "--format", help="mermaid | dot | json"),
    output: str = typer.Option(None, "--output", "-o", help="json: same as --format json"),
) -> None:
    """Print a DAG as Mermaid, DOT or JSON text."""
    if output is not None:
        if output not in ("json", "table"):
            fail(f"unknown --output {output!r}; use json (or --format mermaid|dot|json)")
        if output == "json":
            fmt = "json"
    if fmt not in ("mermaid", "dot", "json"):
        fail(f"unknown --format {fmt!r}; use mermaid, dot or json")
    dag = load_object(ref)
    if fmt == "mermaid":
        typer.echo(dag.to_mermaid(), nl=False)
    elif fmt == "dot":
        typer.echo(dag.to_dot(), nl=False)
    else:
        typer.echo(json.dumps(dag.to_dict(), indent=2))


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``show`` to the typer ``app``."""
    app.command("run")(run)
    app.command("show")(show)
