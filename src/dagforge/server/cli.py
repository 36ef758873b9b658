"""``dagforge serve | register | trigger | deploy``: the platform from the shell."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

register_app = typer.Typer(
    help="Register functions, DAG specs and triggers on a server.", no_args_is_help=True
)
deploy_app = typer.Typer(help="Deploy HTTP functions.", no_args_is_help=True)

URL = typer.Option("http://127.0.0.1:5001", "--url", envvar="DAGFORGE_URL", help="platform URL")
TOKEN = typer.Option(None, "--token", envvar="DAGFORGE_TOKEN", help="bearer token")


def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(5001, help="port to bind"),
    data_dir: Path = typer.Option(Path("dagforge-data"), help="registries, journal, data"),
    store: str = typer.Option(None, help="redis://host:port/db or s3://bucket?endpoint=..."),
    workers: int = typer.Option(2, help="runs executed at once"),
    backend: str = typer.Option("threads", help="engine backend for runs (dask://HOST:PORT)"),
    token: str = typer.Option(None, envvar="DAGFORGE_TOKEN", help="require Bearer token"),
    allow_module: list[str] = typer.Option(None, help="packages python functions may use"),
    max_body: int = typer.Option(1_000_000, help="largest request body in bytes"),
    retention: float = typer.Option(None, help="seconds to keep a run's data in the store"),
) -> None:
    """Start the platform: FastAPI on uvicorn with embedded defaults."""
    import uvicorn

    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    settings = Settings(
        data_dir=data_dir,
        store=store,
        workers=workers,
        token=token,
        allow_modules=tuple(allow_module) if allow_module else None,
        max_body=max_body,
        backend=backend,
        retention=retention,
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _body(source: str) -> Any:
    text = Path(source).read_text() if os.path.exists(source) else source
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not a JSON file or JSON text: {exc}") from exc


def _client(url: str, token: str | None) -> Any:
    from dagforge.client import Client

    return Client(url, token=token)


def _run(action: Any) -> None:
    from dagforge.errors import ClientError

    try:
        typer.echo(json.dumps(action(), indent=2))
    except ClientError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@register_app.command("function")
def register_function(
    name: str,
    path: str = typer.Option(None, help="package.module:function"),
    http_url: str = typer.Option(None, "--http", help="URL of an http function"),
    type: str = typer.Option("cpu", help="cpu | gpu"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a Python function by import path, or an HTTP one by URL."""
    _run(lambda: _client(url, token).register_function(name, path=path, url=http_url, type=type))


@register_app.command("dag")
def register_dag(
    spec: str = typer.Argument(..., help="spec JSON file or text"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a workflow spec."""
    _run(lambda: _client(url, token).register_dag(_body(spec)))


@register_app.command("trigger")
def register_trigger(
    trigger: str = typer.Argument(..., help="trigger JSON file or text"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a trigger (DAGit's trigger body)."""
    _run(lambda: _client(url, token).register_trigger(_body(trigger)))


def trigger(
    name: str,
    args: str = typer.Option("{}", help="arguments as JSON"),
    wait: bool = typer.Option(True, help="wait for the outputs"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Run a trigger and print its outputs (or its run id with --no-wait)."""
    _run(lambda: _client(url, token).trigger(name, _body(args), wait=wait))


@deploy_app.command("k8s")
def deploy_k8s(
    function: str,
    image: str = typer.Option(..., help="container image serving the function"),
    min_replicas: int = typer.Option(1),
    max_replicas: int = typer.Option(70),
    cpu: str = typer.Option("500m"),
    gpu: bool = typer.Option(False),
    port: int = typer.Option(8080),
    out: Path = typer.Option(None, help="write YAML here"),
    apply_: bool = typer.Option(False, "--apply", help="create the objects on the cluster"),
    register: bool = typer.Option(False, help="register the service URL as an http function"),
    node_host: str = typer.Option("127.0.0.1", help="a node address for the service URL"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Write Deployment + NodePort Service + HPA for FUNCTION (and apply/register them)."""
    from dagforge.server import k8s

    docs = k8s.manifests(
        function,
        image,
        port=port,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu=cpu,
        gpu=gpu,
    )
    k8s.validate(docs)
    text = k8s.to_yaml(docs)
    if out:
        out.write_text(text)
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text)
    if apply_:
        k8s.apply(docs)
    if register:
        service = docs[1]["metadata"]["name"]
        _run(
            lambda: _client(url, token).register_function(
                function, url=f"http://{node_host}:{port}/{service}", type="gpu" if gpu else "cpu"
            )
        )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("trigger")(trigger)
    app.add_typer(register_app, name="register")
    app.add_typer(deploy_app, name="deploy")
