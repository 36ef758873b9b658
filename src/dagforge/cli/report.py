"""``dagforge report``: one self-contained HTML file of a run from its saved files."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        files: list[Path] = typer.Argument(
            ..., help="a profile JSON and/or a Chrome trace JSON (either order)"
        ),
        output: Path = typer.Option(Path("run.html"), "--output", "-o", help="HTML file"),
        title: str = typer.Option(None, help="page title"),
    ) -> None:
        """Write the run report (DAG, Gantt chart, profile table) that opens without a server."""
        import json

        from dagforge.profiling.report import write_report

        profile = trace = None
        for path in files:
            if not path.is_file():
                raise typer.BadParameter(f"{path}: no such file")
            try:
                data = json.loads(path.read_text())
            except ValueError as exc:
                raise typer.BadParameter(f"{path}: not JSON ({exc})") from None
            if (isinstance(data, dict) and "traceEvents" in data) or isinstance(data, list):
                if trace is not None:
                    raise typer.BadParameter(f"{path}: a second trace (give one of each)")
                trace = path
            elif isinstance(data, dict) and "execution_metrics" in data:
                if profile is not None:
                    raise typer.BadParameter(f"{path}: a second profile (give one of each)")
                profile = path
            else:
                raise typer.BadParameter(
                    f"{path}: neither a dagforge profile (execution_metrics) nor a Chrome "
                    "trace (traceEvents)"
                )
        out = write_report(output, profile=profile, trace=trace, title=title)
        typer.echo(f"report written to {out}")
