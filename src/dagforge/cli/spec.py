"""``dagforge spec validate | show | run | schema``: workflow specs from the shell."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import typer

from dagforge.cli._app import fail

spec_app = typer.Typer(
    help="Validate, draw and run DAGit workflow specifications.", no_args_is_help=True
)


def _load(file: Path) -> Any:
    """The validated spec; a ``SpecError`` (it names the JSON path) is a usage error."""
    from dagforge.errors import SpecError
    from dagforge.spec import load_spec

    try:
        return load_spec(file)
    except SpecError as exc:
        message = str(exc)
        fail(message if str(file) in message else f"{file}: {message}")


@spec_app.command("validate")
def validate(file: Path = typer.Argument(..., help="spec JSON file")) -> None:
    """Check a spec; errors name the JSON path."""
    spec = _load(file)
    typer.echo(f"{file}: valid workflow {spec.name!r} with {len(spec.dag)} node(s)")


@spec_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a workflow spec."""
    from dagforge.spec import spec_json_schema

    typer.echo(json.dumps(spec_json_schema(), indent=2))


def spec_mermaid(spec: Any) -> str:
    """Mermaid text of a spec's control flow (conditions show their test on the edges)."""
    ids = {e.node_id: f"n{i}" for i, e in enumerate(spec.dag)}
    lines = ["flowchart TD"]
    for e in spec.dag:
        p = e.properties
        label = (p.label or e.node_id).replace('"', "'")
        shape = ("{{", "}}") if p.primitive == "condition" else ("[", "]")
        lines.append(f'    {ids[e.node_id]}{shape[0]}"{label}"{shape[1]}')
    for e in spec.dag:
        p = e.properties
        if p.primitive == "condition" and p.condition is not None:
            c = p.condition
            test = f"{c.source} {c.operator} {c.target}".replace('"', "'")
            lines.append(f'    {ids[e.node_id]} -->|"{test}"| {ids[p.branch_1]}')
            lines.append(f"    {ids[e.node_id]} -->|else| {ids[p.branch_2]}")
        else:
            for target in p.successors:
                lines.append(f"    {ids[e.node_id]} --> {ids[target]}")
    return "\n".join(lines) + "\n"


@spec_app.command("show")
def show(
    file: Path = typer.Argument(..., help="spec JSON file"),
    png: Path = typer.Option(None, help="also draw the unrolled run of --args to this PNG"),
    functions: str = typer.Option(None, help="module with the functions (for --png)"),
    args: str = typer.Option("{}", help="trigger arguments as JSON (for --png)"),
    output: str = typer.Option(
        "mermaid", "--output", "-o", help="mermaid, or json: the validated spec as DAGit JSON"
    ),
) -> None:
    """Print the spec's control flow as Mermaid text (and draw a run with --png)."""
    if output not in ("mermaid", "json", "table"):
        fail(f"unknown --output {output!r}; use mermaid or json")
    spec = _load(file)
    if output == "json":
        typer.echo(json.dumps(spec.to_json_dict(), indent=2))
    else:
        typer.echo(spec_mermaid(spec), nl=False)
    if png is not None:
        result = _run(spec, functions, args, backend="inline", quiet=True)
        from dagforge.profiling.plot import draw_dag

        draw_dag(result.dag, png, result=result)
        typer.echo(f"wrote {png}")


def _registry(functions: str | None) -> Any:
    from dagforge.spec import FunctionRegistry

    if not functions:
        raise typer.BadParameter("--functions MODULE is required to run a spec")
    sys.path.insert(0, str(Path.cwd()))
    if functions.endswith(".py"):
        path = Path(functions).resolve()
        sys.path.insert(0, str(path.parent))
        functions = path.stem
    try:
        module = importlib.import_module(functions)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {functions!r}: {exc}") from exc
    return FunctionRegistry().from_module(module)


def _run(spec: Any, functions: str | None, args: str, backend: str, quiet: bool) -> Any:
    from dagforge.errors import DagforgeError
    from dagforge.execution.callbacks import ExecutionCallbacks
    from dagforge.spec import run_workflow

    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--args is not valid JSON: {exc}") from exc
    callbacks = None
    if not quiet:
        callbacks = ExecutionCallbacks(
            on_node_start=lambda n: typer.echo(f"  start  {n}"),
            on_node_complete=lambda n, v: typer.echo(f"  done   {n} -> {json.dumps(v)[:100]}"),
            on_node_error=lambda n, e: typer.echo(f"  FAILED {n}: {type(e).__name__}: {e}"),
        )
    try:
        return run_workflow(
            spec, _registry(functions), arguments, backend=backend, callbacks=callbacks
        )
    except DagforgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@spec_app.command("run")
def run(
    file: Path = typer.Argument(..., help="spec JSON file"),
    functions: str = typer.Option(..., help="module (or .py file) defining the functions"),
    args: str = typer.Option("{}", help="trigger arguments as JSON"),
    backend: str = typer.Option("threads", help="inline | threads | processes | asyncio"),
) -> None:
    """Run a spec, printing each step as it happens and the final outputs."""
    spec = _load(file)
    typer.echo(f"running {spec.name!r}")
    result = _run(spec, functions, args, backend, quiet=False)
    typer.echo(json.dumps(result.workflow_outputs, indent=2, default=str))
    raise typer.Exit(0 if result.ok else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")
