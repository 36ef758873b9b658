"""CLI commands of the profiling layer: ``profile``, ``compare``, ``simulate``, ``trace``.

``register(app)`` adds them to a typer app (``dagforge.cli`` calls it). Each command is
a thin driver over :mod:`dagforge.profiling`, :mod:`dagforge.scheduling.simulate` and
:mod:`dagforge.profiling.plot`; typer and rich are imported by this module only, which nothing in
the library imports. Bad profile files exit with code 2 and the ``ProfileError``
message (it names the JSON path); a run with failed nodes exits with code 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dagforge.cli._app import check_backend

__all__ = ["register", "summary_tables"]


def _load_dag(ref: str) -> Any:
    from dagforge.cli._app import load_object

    return load_object(ref)


def _console() -> Any:
    from rich.console import Console

    return Console(width=120)


def _load_profile(path: Path) -> Any:
    from dagforge.errors import ProfileError
    from dagforge.profiling import Profile

    try:
        return Profile.load(path)
    except ProfileError as exc:
        message = str(exc)
        typer.echo(f"error: {message if str(path) in message else f'{path}: {message}'}", err=True)
        raise typer.Exit(2) from None


def summary_tables(profile: Any, top: int = 5) -> list[Any]:
    """Rich tables: slowest nodes, heaviest edges, critical path (by measured time)."""
    from rich.table import Table

    slow = Table(title=f"slowest nodes (of {len(profile.nodes)})")
    for col in ("node", "compute ms", "serialize ms", "deserialize ms", "bytes out", "worker"):
        slow.add_column(col, justify="left" if col in ("node", "worker") else "right")
    ranked = sorted(profile.execution_metrics.values(), key=lambda m: -m.compute_time_ms)
    for m in ranked[:top]:
        spread = ""
        if m.stats:
            s = m.stats["compute_time_ms"]
            spread = f" [{s['min']:.3f}..{s['max']:.3f}]"
        slow.add_row(
            m.task,
            f"{m.compute_time_ms:.3f}{spread}",
            f"{m.serialize_time_ms:.3f}",
            f"{m.deserialize_time_ms:.3f}",
            f"{m.bytes_out:,}",
            m.worker or "",
        )
    heavy = Table(title=f"heaviest edges (of {len(profile.edges)})")
    heavy.add_column("edge")
    heavy.add_column("bits", justify="right")
    heavy.add_column("bytes", justify="right")
    for key, bits in sorted(profile.edge_weights.items(), key=lambda kv: -kv[1])[:top]:
        heavy.add_row(key, f"{bits:,}", f"{bits / 8:,.0f}")
    path, length = profile.critical_path()
    crit = Table(title="critical path (measured compute time)")
    crit.add_column("path")
    crit.add_column("ms", justify="right")
    crit.add_column("total ms", justify="right")
    crit.add_row(" -> ".join(path), f"{length:.3f}", f"{profile.total_time_ms:.3f}")
    return [slow, heavy, crit]


def register(app: Any) -> None:
    """Add ``profile``, ``compare``, ``simulate`` and ``trace`` to the typer ``app``."""

    @app.command("profile")
    def profile_cmd(
        ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG (or a factory)"),
        seed: int = typer.Option(None, help="seed random and numpy before each run"),
        output: Path = typer.Option(Path("profile.json"), "--output", "-o", help="profile JSON"),
        trace: Path = typer.Option(None, help="also write a Chrome trace JSON here"),
        gantt: Path = typer.Option(None, help="also draw a Gantt chart here (.png/.svg)"),
        runs: int = typer.Option(1, min=1, help="repeat and aggregate (medians, min, max)"),
        backend: str = typer.Option(
            "inline", callback=check_backend, help="inline | threads | processes | asyncio"
        ),
        workers: int = typer.Option(None, min=1, help="worker pool size"),
    ) -> None:
        """Run a DAG with profiling on; write its profile and print a summary."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from dagforge.errors import DagforgeError
        from dagforge.execution.callbacks import ExecutionCallbacks
        from dagforge.profiling import run_profile

        dag = _load_dag(ref)
        console = _console()
        n = len(dag)
        with Progress(
            TextColumn("[bold]profiling[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as bar:
            job = bar.add_task(ref, total=n * runs)

            def step(*_: Any) -> None:
                bar.advance(job)

            def run_done(i: int, _result: Any) -> None:
                bar.update(job, completed=n * (i + 1))

            callbacks = ExecutionCallbacks(
                on_node_complete=step, on_node_error=step, on_node_skipped=step
            )
            try:
                prof = run_profile(
                    dag,
                    seed=seed,
                    runs=runs,
                    backend=backend,
                    max_workers=workers,
                    callbacks=callbacks,
                    on_run=run_done,
                    check=False,
                )
            except DagforgeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
        prof.save(output)
        for table in summary_tables(prof):
            console.print(table)
        console.print(f"profile written to {output}")
        result = prof.result
        if trace is not None and result is not None:
            result.trace.save(trace)
            console.print(f"trace written to {trace}")
        if gantt is not None:
            from dagforge.profiling.plot import gantt as draw

            draw(prof, gantt, title=f"{ref} ({backend})")
            console.print(f"gantt chart written to {gantt}")
        if result is not None and not result.ok:
            from dagforge.cli.run import report_failure

            report_failure(result)

    @app.command("compare")
    def compare_cmd(
        a: Path = typer.Argument(..., help="the first profile JSON"),
        b: Path = typer.Argument(..., help="the second profile JSON"),
    ) -> None:
        """Compare two profiles: configuration, structure, weights, times."""
        from rich.table import Table

        pa, pb = _load_profile(a), _load_profile(b)
        diff = pa.compare(pb)
        table = Table(title=f"{a} -> {b}")
        for col in ("section", "key", "before", "after", "delta", "percent"):
            table.add_column(col, justify="right" if col in ("delta", "percent") else "left")
        for row in diff.rows():
            table.add_row(*row)
        console = _console()
        console.print(table)
        console.print(f"structure: {diff.structure_summary()}")

    @app.command("simulate")
    def simulate_cmd(
        profile: Path = typer.Argument(..., help="a profile JSON"),
        workers: int = typer.Option(1, "--workers", "-w", min=1, help="identical workers"),
        gantt: Path = typer.Option(None, help="draw the predicted schedule (.png/.svg)"),
    ) -> None:
        """Predict the makespan of the engine's policy on N workers from a profile."""
        from rich.table import Table

        from dagforge.scheduling.simulate import simulate

        prof = _load_profile(profile)
        sim = simulate(prof, workers=workers)
        table = Table(title=f"predicted schedule on {workers} worker(s)")
        for col in ("node", "worker", "start", "end"):
            table.add_column(col, justify="right" if col in ("start", "end") else "left")
        for name, w, s, e in sim.entries:
            table.add_row(name, w, f"{s:.3f}", f"{e:.3f}")
        console = _console()
        console.print(table)
        console.print(
            f"makespan: {sim.makespan:.3f} {sim.unit} (measured run: "
            f"{prof.total_time_ms:.3f} ms); utilization {sim.utilization:.0%}"
        )
        if gantt is not None:
            sim.gantt(gantt, title=f"simulated: {profile.name} on {workers} worker(s)")
            console.print(f"gantt chart written to {gantt}")

    @app.command("trace")
    def trace_cmd(
        ref: str = typer.Argument(..., help="MODULE:OBJECT naming a DAG (or a factory)"),
        output: Path = typer.Option(Path("trace.json"), "--output", "-o", help="trace JSON"),
        backend: str = typer.Option(
            "threads", callback=check_backend, help="inline | threads | processes | asyncio"
        ),
        workers: int = typer.Option(None, min=1, help="worker pool size"),
        profile: bool = typer.Option(True, help="measure bytes (shown in the trace args)"),
    ) -> None:
        """Run a DAG and write its Chrome trace (open it in https://ui.perfetto.dev)."""
        from dagforge.execution.executor import Executor

        dag = _load_dag(ref)
        result = Executor(
            dag, backend=backend, max_workers=workers, enable_tracing=True, profile=profile
        ).execute()
        tr = result.trace
        tr.save(output)
        typer.echo(
            f"{result.summary()}\ntrace with {len(tr.node_events)} events on "
            f"{len(tr.tracks)} track(s) written to {output}"
        )
        if not result.ok:
            from dagforge.cli.run import report_failure

            report_failure(result)
