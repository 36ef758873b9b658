"""``dagforge runs ...`` and the registry listings (``functions``, ``dags``, ``triggers``).

All of them talk to a running platform (``--url``, or ``DAGFORGE_URL``) and print a table
or, with ``--output json``, the server's JSON. What the platform offers for runs:
listing, one run's record, its per-node log, cancelling a queued or running run and
retrying a failed or cancelled one (a new attempt of the same run that reuses the
outputs of the nodes it completed).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import typer

from dagforge.cli._app import OUTPUT, emit, fail

if TYPE_CHECKING:
    from dagforge.client import Client
    from dagforge.server.api_models import RunDetail, RunSummary

URL = typer.Option("http://127.0.0.1:5001", "--url", envvar="DAGFORGE_URL", help="platform URL")
TOKEN = typer.Option(None, "--token", envvar="DAGFORGE_TOKEN", help="bearer token")

runs_app = typer.Typer(
    help="List runs on a server, show one, read its logs, cancel or retry it.",
    no_args_is_help=True,
)

_RUN_COLUMNS = ("run_id", "trigger", "dag", "priority", "status", "accepted", "duration_s")


def _client(url: str, token: str | None) -> Client:
    from dagforge.client import Client

    return Client(url, token=token)


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return ""
    return _dt.datetime.fromtimestamp(stamp).isoformat(sep=" ", timespec="seconds")


def _row(run: RunSummary | RunDetail) -> dict[str, Any]:
    started, finished = run.started, run.finished
    duration = finished - started if started is not None and finished is not None else None
    return {
        **run.to_dict(),
        "run_id": run.run_id or run.id,
        "accepted": _when(run.accepted),
        "duration_s": duration,
    }


def _resolve(client: Client, run_id: str) -> str:
    """``latest`` names the newest run; anything else is a run id."""
    if run_id != "latest":
        return run_id
    newest = client.runs(limit=1)
    if not newest:
        fail("there are no runs on this server yet; start one with `dagforge trigger NAME`")
    return newest[0].run_id or newest[0].id


@runs_app.command("ls")
def runs_ls(
    limit: int = typer.Option(20, min=1, help="how many of the newest runs"),
    status: str = typer.Option(None, help="only runs with this status (e.g. failed)"),
    output: str = OUTPUT,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """List the newest runs."""
    runs = _client(url, token).runs(limit=limit)
    if status is not None:
        runs = [r for r in runs if r.status == status]
    if output == "json":
        emit([r.to_dict() for r in runs], output)
    else:
        emit([_row(r) for r in runs], output, columns=_RUN_COLUMNS, title="runs")


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="a run id, or `latest`"),
    output: str = OUTPUT,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Show one run: status, times, error and outputs."""
    client = _client(url, token)
    run = client.run(_resolve(client, run_id))
    if run.status == "succeeded" and run.outputs is None:
        run.outputs = client.outputs(run.run_id or run.id)
    if output == "json":
        emit(run.to_dict(), output)
        return
    row = _row(run)
    emit(
        [{"field": k, "value": row.get(k)} for k in (*_RUN_COLUMNS, "error", "outputs")],
        output,
        title=f"run {row['run_id']}",
    )


def _node_logs(client: Client, run_id: str, node: str) -> dict[str, Any] | None:
    """The node's captured output (``GET /runs/{id}/nodes/{node}/logs``), if served."""
    from dagforge.errors import ClientError

    try:
        return client.node_logs(run_id, node).to_dict()
    except ClientError as exc:
        if getattr(exc, "status_code", None) == 404:
            return None  # not recorded (or a server without node logs)
        raise


@runs_app.command("logs")
def runs_logs(
    run_id: str = typer.Argument(..., help="a run id, or `latest`"),
    node: list[str] = typer.Option(None, "--node", "-n", help="only this node (repeatable)"),
    output: str = OUTPUT,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Print a run's log: each node's status, captured output and error, then the outcome."""
    if output not in ("table", "json"):
        fail(f"unknown --output {output!r}; use table or json")
    client = _client(url, token)
    run = client.run(_resolve(client, run_id))
    rid = run.run_id or run.id
    nodes = run.to_dict().get("nodes") or {}
    wanted = list(node or nodes)
    unknown = [n for n in wanted if n not in nodes]
    if unknown:
        fail(f"run {rid} has no node {unknown[0]!r}; its nodes: {', '.join(nodes) or 'none'}")
    logs = {name: _node_logs(client, rid, name) for name in wanted}
    if output == "json":
        emit({"run_id": rid, "status": run.get("status"), "nodes": nodes, "logs": logs}, output)
        return
    typer.echo(f"run {rid} of trigger {run.trigger!r}")
    typer.echo(f"  accepted {_when(run.accepted)}")
    for name in wanted:
        info = nodes[name] if isinstance(nodes[name], dict) else {"status": nodes[name]}
        detail = logs.get(name) or {}
        line = f"  {name:<24} {info.get('status', '')}"
        error = detail.get("error") or info.get("error")
        if error:
            line += f"  {error}"
        typer.echo(line)
        for stream in ("stdout", "stderr"):
            for text in (detail.get(stream) or "").splitlines():
                typer.echo(f"      {stream}: {text}")
        for record in detail.get("records") or []:
            level, logger = record.get("level"), record.get("logger")
            typer.echo(f"      {level} {logger}: {record.get('message')}")
        if detail.get("traceback"):
            for text in str(detail["traceback"]).rstrip().splitlines():
                typer.echo(f"      | {text}")
    ended = f" at {_when(run.finished)}" if run.finished else ""
    typer.echo(f"  {run.status}{ended}" + (f": {run.error}" if run.error else ""))


@runs_app.command("cancel")
def runs_cancel(
    run_id: str = typer.Argument(..., help="a run id, or `latest`"),
    output: str = OUTPUT,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Cancel a queued or running run (nothing new starts; it ends `cancelled`)."""
    client = _client(url, token)
    rid = _resolve(client, run_id)
    run = client.cancel(rid)
    if output == "json":
        emit(run.to_dict(), output)
    else:
        typer.echo(f"run {rid}: {run.status}")


@runs_app.command("retry")
def runs_retry(
    run_id: str = typer.Argument(..., help="a failed or cancelled run's id, or `latest`"),
    wait: bool = typer.Option(False, "--wait", help="wait for the new attempt to finish"),
    timeout: float = typer.Option(300.0, help="with --wait: give up after this many seconds"),
    output: str = OUTPUT,
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Retry a failed or cancelled run from where it stopped (a new attempt, same id)."""
    client = _client(url, token)
    rid = _resolve(client, run_id)
    accepted = client.retry(rid)
    run = accepted.to_dict()
    if wait:
        run = {**client.wait(rid, timeout=timeout).to_dict(), "attempt": accepted.attempt}
    if output == "json":
        emit(run, output)
    else:
        reused = f", {run['reused_nodes']} nodes reused" if "reused_nodes" in run else ""
        typer.echo(f"run {rid}: attempt {run['attempt']} {run.get('status')}{reused}")
    if wait and run.get("status") != "succeeded":
        raise typer.Exit(1)


def _registry_group(kind: str, plural: str, columns: tuple[str, ...]) -> typer.Typer:
    group = typer.Typer(help=f"List and show the registered {plural}.", no_args_is_help=True)

    @group.command("ls")
    def listing(output: str = OUTPUT, url: str = URL, token: str = TOKEN) -> None:
        items = getattr(_client(url, token), f"list_{plural}")()
        emit([item.to_dict() for item in items], output, columns=columns, title=plural)

    listing.__doc__ = f"List the registered {plural}."

    @group.command("show")
    def show(
        name: str = typer.Argument(..., help=f"the {kind}'s name"),
        output: str = OUTPUT,
        url: str = URL,
        token: str = TOKEN,
    ) -> None:
        item = getattr(_client(url, token), f"get_{kind}")(name).to_dict()
        if output == "json":
            emit(item, output)
        else:
            emit([{"field": k, "value": v} for k, v in item.items()], output, title=name)

    show.__doc__ = f"Show one registered {kind}."
    return group


def register(app: typer.Typer) -> None:
    """Add ``runs``, ``functions``, ``dags`` and ``triggers`` to the typer ``app``."""
    app.add_typer(runs_app, name="runs")
    app.add_typer(
        _registry_group("function", "functions", ("name", "kind", "type", "path", "url")),
        name="functions",
    )
    app.add_typer(_registry_group("dag", "dags", ("name",)), name="dags")
    app.add_typer(
        _registry_group("trigger", "triggers", ("trigger_name", "type", "priority", "dags")),
        name="triggers",
    )
