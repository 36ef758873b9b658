"""``dagforge db ...``, ``dagforge schedules ...`` and ``dagforge deploy k8s-platform``.

``db upgrade`` creates or migrates the platform's schema (alembic, shipped in the
package) at ``--database-url`` (or ``DAGFORGE_DATABASE_URL``; default the embedded
SQLite file of ``--data-dir``); ``db check`` says whether a server could start on it.
``schedules`` talks to a running platform. ``deploy k8s-platform`` writes the gateway's
own Deployment and Service (several replicas on one database).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dagforge.cli._app import OUTPUT, emit, fail, read_json, write_or_print

if TYPE_CHECKING:
    from dagforge.client import Client

URL = typer.Option("http://127.0.0.1:5001", "--url", envvar="DAGFORGE_URL", help="platform URL")
TOKEN = typer.Option(None, "--token", envvar="DAGFORGE_TOKEN", help="bearer token")
DATABASE_URL = typer.Option(
    None,
    "--database-url",
    envvar="DAGFORGE_DATABASE_URL",
    help="sqlite:///path or postgresql://user@host:port/db (default: the --data-dir SQLite file)",
)
DATA_DIR = typer.Option(Path("dagforge-data"), help="where the embedded SQLite journal lives")

db_app = typer.Typer(
    help="Create, migrate and check the platform's database.", no_args_is_help=True
)
schedules_app = typer.Typer(help="Cron schedules of triggers on a server.", no_args_is_help=True)


def _url(database_url: str | None, data_dir: Path) -> str:
    from dagforge.server.database import default_url

    return database_url or default_url(data_dir)


@db_app.command("upgrade")
def db_upgrade(database_url: str = DATABASE_URL, data_dir: Path = DATA_DIR) -> None:
    """Create the schema, or migrate it to this release's (safe to run again)."""
    from dagforge.server.database import redact, upgrade

    url = _url(database_url, data_dir)
    before, after = upgrade(url)
    if before == after:
        typer.echo(f"{redact(url)}: schema already at revision {after}")
    else:
        done = "created" if before is None else f"migrated from {before}"
        typer.echo(f"{redact(url)}: schema {done} at revision {after}")


@db_app.command("check")
def db_check(database_url: str = DATABASE_URL, data_dir: Path = DATA_DIR) -> None:
    """Exit 0 if a server can start on the database, else say what to run (exit 2)."""
    from dagforge.server.database import open_database, redact

    url = _url(database_url, data_dir)
    db = open_database(url)  # SchemaError names `dagforge db upgrade`
    db.close()
    typer.echo(f"{redact(url)}: schema is current")


def _client(url: str, token: str | None) -> Client:
    from dagforge.client import Client

    return Client(url, token=token)


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return ""
    return _dt.datetime.fromtimestamp(stamp).isoformat(sep=" ", timespec="seconds")


@schedules_app.command("ls")
def schedules_ls(url: str = URL, token: str = TOKEN, output: str = OUTPUT) -> None:
    """List the schedules with their next due time and last run."""
    with _client(url, token) as client:
        rows = client.list_schedules()
    if output == "json":
        emit([s.to_dict() for s in rows], output)
        return
    table = [
        {
            **s.to_dict(),
            "next_due": _when(s.next_due),
            "last_run": s.last_fires[0].run_id if s.last_fires else "",
        }
        for s in rows
    ]
    emit(
        table,
        output,
        columns=(
            "name",
            "trigger",
            "cron",
            "timezone",
            "catchup",
            "max_active",
            "next_due",
            "last_run",
        ),
        title="schedules",
    )


@schedules_app.command("add")
def schedules_add(
    source: str = typer.Argument(..., help="schedule JSON (file or text)"),
    url: str = URL,
    token: str = TOKEN,
    output: str = OUTPUT,
) -> None:
    """Register (or replace) a schedule: {name, trigger, cron, arguments, timezone,
    catchup, max_active}."""
    body = read_json(source, "a schedule")
    with _client(url, token) as client:
        emit(client.register_schedule(body).to_dict(), output)


@schedules_app.command("rm")
def schedules_rm(name: str, url: str = URL, token: str = TOKEN) -> None:
    """Delete a schedule (runs it fired stay in the journal)."""
    with _client(url, token) as client:
        client.delete_schedule(name)
    typer.echo(f"deleted schedule {name}")


def deploy_k8s_platform(
    image: str = typer.Option(..., help="container image with dagforge[postgres] installed"),
    replicas: int = typer.Option(2, min=1, help="gateway processes (pods)"),
    database_url_secret: str = typer.Option(
        ..., help="Secret holding the postgresql:// URL (key --database-url-key)"
    ),
    database_url_key: str = typer.Option("url", help="key of the URL in that Secret"),
    store: str = typer.Option(None, help="store URL (redis:// or s3://) without secrets"),
    store_secret: str = typer.Option(None, help="Secret holding the store URL instead"),
    token_secret: str = typer.Option(None, help="Secret holding the bearer token (key 'token')"),
    workers: int = typer.Option(2, min=1, help="runs each replica executes at once"),
    allow_module: list[str] = typer.Option(None, help="packages python functions may use"),
    port: int = typer.Option(5001, help="container port"),
    service_port: int = typer.Option(80, help="the Service's port"),
    service_type: str = typer.Option("ClusterIP", help="ClusterIP, NodePort or LoadBalancer"),
    cpu: str = typer.Option("1"),
    memory: str = typer.Option("512Mi"),
    namespace: str = typer.Option("default"),
    name: str = typer.Option("dagforge-platform", help="name of the Deployment and Service"),
    out: Path = typer.Option(None, help="write YAML here"),
    apply_: bool = typer.Option(False, "--apply", help="create the objects on the cluster"),
) -> None:
    """Write the platform's own Deployment + Service: N gateways on one database."""
    from dagforge.errors import DagforgeError
    from dagforge.server import k8s

    try:
        docs = k8s.platform_manifests(
            image,
            replicas=replicas,
            database_url_secret=database_url_secret,
            database_url_key=database_url_key,
            store=store,
            store_secret=store_secret,
            token_secret=token_secret,
            workers=workers,
            allow_modules=tuple(allow_module or ()),
            port=port,
            service_port=service_port,
            service_type=service_type,
            cpu=cpu,
            memory=memory,
            namespace=namespace,
            name=name,
        )
        k8s.validate(docs)  # the client's models and the official schemas, offline
    except DagforgeError as exc:
        fail(str(exc))
    write_or_print(k8s.to_yaml(docs), out)
    if apply_:
        k8s.apply(docs)
        typer.echo(f"applied {len(docs)} objects in namespace {namespace}", err=True)


def register(app: typer.Typer) -> None:
    # deploy_k8s_platform is registered by dagforge.cli.deploy, with the deploy group
    app.add_typer(db_app, name="db")
    app.add_typer(schedules_app, name="schedules")
