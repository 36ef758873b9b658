"""``dagforge deploy ...``: Kubernetes manifests for HTTP functions and for the platform.

``deploy k8s FUNCTION`` writes (and with ``--apply`` creates, then registers) a
function's Deployment, NodePort Service and autoscaler; ``deploy k8s-platform`` the
platform's own gateways on one database (its command body lives with the other
platform-operations commands in :mod:`dagforge.cli.platform`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from dagforge.cli._app import write_or_print
from dagforge.cli.server import TOKEN, URL, _client, _run

deploy_app = typer.Typer(help="Deploy HTTP functions and the platform.", no_args_is_help=True)


@deploy_app.command("k8s")
def deploy_k8s(
    function: str,
    image: str = typer.Option(..., help="container image serving the function"),
    min_replicas: int = typer.Option(1),
    max_replicas: int = typer.Option(70),
    cpu: str = typer.Option("500m"),
    memory: str = typer.Option("256Mi"),
    gpu: bool = typer.Option(False, help="schedule on type=gpu nodes with one GPU"),
    port: int = typer.Option(8080, help="container port"),
    node_port: int = typer.Option(None, help="pin the Service's node port (30000-32767)"),
    namespace: str = typer.Option("default"),
    out: Path = typer.Option(None, help="write YAML here"),
    apply_: bool = typer.Option(False, "--apply", help="create the objects on the cluster"),
    register: bool = typer.Option(
        None,
        "--register/--no-register",
        help="register the service URL as an http function (default: with --apply)",
    ),
    node_host: str = typer.Option("127.0.0.1", help="a node address for the service URL"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Write Deployment + NodePort Service + HPA for FUNCTION (and apply/register them)."""
    from dagforge.errors import DagforgeError
    from dagforge.server import k8s

    try:
        docs = k8s.manifests(
            function,
            image,
            port=port,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            cpu=cpu,
            memory=memory,
            gpu=gpu,
            namespace=namespace,
            node_port=node_port,
        )
        k8s.validate(docs)
    except DagforgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    write_or_print(k8s.to_yaml(docs), out)
    assigned = None
    if apply_:
        try:
            assigned = k8s.apply(docs)
        except DagforgeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"applied {len(docs)} objects in namespace {namespace}", err=True)
    if register if register is not None else apply_:
        service_url = k8s.service_url(docs, node_host, assigned)
        typer.echo(
            f"the platform must allow this URL: start `dagforge serve` with "
            f"--allow-url {service_url}",
            err=True,
        )
        _run(
            lambda: _client(url, token).register_function(
                function, url=service_url, type="gpu" if gpu else "cpu"
            )
        )


def register(app: typer.Typer) -> None:
    from dagforge.cli.platform import deploy_k8s_platform

    deploy_app.command("k8s-platform")(deploy_k8s_platform)
    app.add_typer(deploy_app, name="deploy")
