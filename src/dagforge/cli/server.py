"""``dagforge serve | register | trigger``: the platform from the shell."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import typer

from dagforge.cli._app import check_backend, read_json

register_app = typer.Typer(
    help="Register functions, DAG specs and triggers on a server.", no_args_is_help=True
)

URL = typer.Option("http://127.0.0.1:5001", "--url", envvar="DAGFORGE_URL", help="platform URL")
TOKEN = typer.Option(None, "--token", envvar="DAGFORGE_TOKEN", help="bearer token")


def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(5001, help="port to bind"),
    data_dir: Path = typer.Option(Path("dagforge-data"), help="registries, journal, data"),
    store: str = typer.Option(
        None, envvar="DAGFORGE_STORE", help="redis://host:port/db or s3://bucket?endpoint=..."
    ),
    database_url: str = typer.Option(
        None,
        "--database-url",
        envvar="DAGFORGE_DATABASE_URL",
        help="sqlite:///path or postgresql://... (run `dagforge db upgrade` first); "
        "default: the SQLite file in --data-dir",
    ),
    workers: int = typer.Option(2, min=1, help="runs executed at once"),
    backend: str = typer.Option(
        "threads", callback=check_backend, help="engine backend for runs (dask://HOST:PORT)"
    ),
    token: str = typer.Option(None, envvar="DAGFORGE_TOKEN", help="require Bearer token"),
    allow_module: list[str] = typer.Option(None, help="packages python functions may use"),
    functions_path: list[Path] = typer.Option(
        None,
        "--functions-path",
        help="directory the server imports python functions from (repeatable; like PYTHONPATH)",
    ),
    max_body: int = typer.Option(1_000_000, min=1, help="largest request body in bytes"),
    retention: float = typer.Option(None, help="seconds to keep a run's data in the store"),
    weights: str = typer.Option(None, help="priority weights as JSON, e.g. '{\"gold\": 5}'"),
    serializer: str = typer.Option("json", help="serializer of values in the store"),
    allow_pickle: bool = typer.Option(
        False, help="allow pickle-like serializers (only if every store writer is trusted)"
    ),
    allow_url: list[str] = typer.Option(
        None, help="URL prefix or CIDR range http functions may use (repeatable)"
    ),
    insecure: bool = typer.Option(
        False, help="allow a non-loopback --host without --token (trusted networks only)"
    ),
    public_reads: bool = typer.Option(
        False, help="with --token, let anyone read runs, outputs and registries"
    ),
    max_iterations: int = typer.Option(1000, min=1, help="cap on a loop's instances per node"),
    max_queued: int = typer.Option(10_000, min=1, help="runs waiting per priority class"),
    max_list: int = typer.Option(
        500, min=1, help="the largest page a listing answers (GET /runs, /functions, ...)"
    ),
    journal_retention: float = typer.Option(
        None, help="seconds to keep finished runs in the journal (default: forever)"
    ),
    log_format: str = typer.Option("text", "--log-format", help="log lines as 'text' or 'json'"),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG shows the engine's detail"),
    otel: bool = typer.Option(
        False, "--otel", help="OpenTelemetry spans per run and node (OTLP: OTEL_EXPORTER_OTLP_*)"
    ),
    resources: str = typer.Option(
        None,
        "--resources",
        help="capacity all runs share, e.g. cpu=4,gpu=1,memory=8192; functions and spec "
        "nodes declaring 'resources' are refused without it",
    ),
) -> None:
    """Start the platform: FastAPI on uvicorn with embedded defaults.

    Python functions are imported by this server process, so their modules must be
    importable here: on PYTHONPATH or in a --functions-path directory (and allowed with
    --allow-module).
    """
    import sys

    import uvicorn

    for directory in reversed(functions_path or []):
        if not directory.is_dir():
            raise typer.BadParameter(f"--functions-path {directory}: no such directory")
        sys.path.insert(0, str(directory.resolve()))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(directory.resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
        )

    from dagforge.errors import DagforgeError
    from dagforge.server.app import create_app
    from dagforge.server.capacity import parse_capacity
    from dagforge.server.platform import Settings

    try:
        capacity = parse_capacity(resources) if resources is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--resources") from None

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        store=store,
        workers=workers,
        token=token,
        allow_modules=tuple(allow_module) if allow_module else None,
        max_body=max_body,
        backend=backend,
        retention=retention,
        weights=_body(weights) if weights else {},
        serializer=serializer,
        allow_pickle=allow_pickle,
        allow_urls=tuple(allow_url) if allow_url else None,
        public_reads=public_reads,
        max_iterations=max_iterations,
        max_queued=max_queued,
        max_list=max_list,
        journal_retention=journal_retention,
        resources=capacity,
    )
    from dagforge.server.guards import check_exposure

    try:
        warning = check_exposure(host, token, insecure)
        if warning:
            typer.echo(warning, err=True)
        app = create_app(settings)
    except DagforgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from dagforge.server.observability import setup_logging, startup_line, tracer_from_environment

    try:
        setup_logging(log_format, log_level)
        if otel:
            app.state.platform.monitor.tracer = tracer_from_environment()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    logging.getLogger("dagforge.server").info(startup_line(settings, f"http://{host}:{port}"))
    _freeze_startup_heap()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _freeze_startup_heap() -> None:
    """Move everything alive now (modules, FastAPI's routes and models, SQLAlchemy's
    tables: ~120k objects) out of the garbage collector's reach: it lives as long as the
    server, and every full collection would walk all of it again (about half of their
    cost, measured; issue 10). What a server process does for itself (gc.freeze's own
    advice), so only here, not in create_app, which tests and embedders call."""
    import gc

    gc.collect()
    gc.freeze()


def _body(source: str) -> Any:
    """JSON from a file path or from the text itself (a missing file is named as such)."""
    return read_json(source)


def _client(url: str, token: str | None) -> Any:
    from dagforge.client import Client

    return Client(url, token=token)


def _run(action: Any) -> Any:
    """Call the server and print its JSON answer; errors go to the command guard."""
    answer = action()
    data = answer.to_dict() if hasattr(answer, "to_dict") else answer  # typed Client results
    typer.echo(json.dumps(data, indent=2))
    return answer


def _explain_import(name: str, path: str | None, action: Any) -> Any:
    """Register a python function; if the server cannot import it, say where it looks."""
    from dagforge.errors import ClientError

    try:
        return _run(action)
    except ClientError as exc:
        text = str(exc)
        if path and ("cannot import" in text or "No module named" in text):
            module = path.partition(":")[0]
            raise ClientError(
                f"{text}\n  the server imports {module!r} itself: start `dagforge serve` with "
                f"--functions-path DIR (or PYTHONPATH=DIR) where DIR holds {module}.py, and "
                f"--allow-module {module.split('.')[0]}",
                status_code=exc.status_code,
            ) from exc
        raise


@register_app.command("function")
def register_function(
    source: str = typer.Argument(
        ..., help="registration JSON (file or text), or the function's name with --path/--http"
    ),
    path: str = typer.Option(None, help="package.module:function"),
    http_url: str = typer.Option(None, "--http", help="URL of an http function"),
    type: str = typer.Option("cpu", help="cpu | gpu"),
    resources: str = typer.Option(
        None,
        "--resources",
        help="what one instance holds while it runs, e.g. cpu=2,gpu=1 (the server must "
        "have been started with --resources)",
    ),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a function: a JSON body, or NAME with --path (python) or --http (URL)."""
    extra: dict[str, Any] = {}
    if resources is not None:
        from dagforge.server.capacity import parse_capacity

        try:  # the parser `dagforge serve --resources` uses: the same names and amounts
            need = parse_capacity(resources)
        except ValueError as exc:
            message = str(exc).removeprefix("--resources: ")
            raise typer.BadParameter(message, param_hint="--resources") from None
        extra["resources"] = {k: int(v) if v.is_integer() else v for k, v in need.items()}
    if os.path.isfile(source) or source.lstrip().startswith("{"):
        body = _body(source)
        if not isinstance(body, dict):
            raise typer.BadParameter("a function registration must be a JSON object")
        if extra and body.get("resources") is not None:
            raise typer.BadParameter(
                "the JSON body has 'resources' already: give them there or with "
                "--resources, not both",
                param_hint="--resources",
            )
        body = {**body, **extra}
        _explain_import(
            str(body.get("name")),
            body.get("path") if isinstance(body.get("path"), str) else None,
            lambda: _client(url, token).register_function(body),
        )
        return
    if not path and not http_url:
        raise typer.BadParameter(f"function {source!r} needs --path MODULE:FUNC or --http URL")
    _explain_import(
        source,
        path,
        lambda: _client(url, token).register_function(
            source, path=path, url=http_url, type=type, **extra
        ),
    )


@register_app.command("dag")
def register_dag(
    spec: str = typer.Argument(..., help="spec JSON file or text"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a workflow spec."""
    body = _body(spec)
    _run(lambda: _client(url, token).register_dag(body))


@register_app.command("trigger")
def register_trigger(
    trigger: str = typer.Argument(..., help="trigger JSON file or text"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Register a trigger (DAGit's trigger body)."""
    body = _body(trigger)
    _run(lambda: _client(url, token).register_trigger(body))


def trigger(
    name: str,
    args: str = typer.Option("{}", help="arguments as JSON (text or file)"),
    wait: bool = typer.Option(True, help="wait for the outputs"),
    timeout: float = typer.Option(300.0, help="seconds to wait"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Run a trigger and print the finished run (or its run id with --no-wait)."""
    arguments = _body(args)
    if not isinstance(arguments, dict):
        raise typer.BadParameter("--args must be a JSON object")
    answer = _run(lambda: _client(url, token).trigger(name, arguments, wait=wait, timeout=timeout))
    if wait and answer.get("status") in ("failed", "cancelled"):
        rid = answer.get("run_id") or answer.get("id")
        reason = f": {answer['error']}" if answer.get("error") else ""
        typer.echo(
            f"error: run {rid} {answer['status']}{reason}\n  see `dagforge runs logs {rid}`",
            err=True,
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("trigger")(trigger)
    app.add_typer(register_app, name="register")
