"""The root of the command line: the typer app, global options and error reporting.

Every command runs inside :func:`guard`, so a user's mistake never ends in a
traceback: the error is printed in one or two lines that name the culprit and the
fix. Exit codes: 0 success, 1 a run (or the service it needs) failed, 2 a usage
error (bad argument, missing or malformed file, invalid DAG, unknown name).
``dagforge --debug ...`` (or ``DAGFORGE_DEBUG=1``) re-raises instead, so the full
traceback is shown.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer

try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as _click
except ImportError:  # pragma: no cover - older typer on the real click
    from click import exceptions as _click  # type: ignore[no-redef]

__all__ = [
    "EXTRAS",
    "check_backend",
    "OUTPUT",
    "app",
    "emit",
    "fail",
    "guard",
    "load_object",
    "main",
    "missing_extra",
    "read_json",
]

app = typer.Typer(
    name="dagforge",
    help="Author, run, profile, schedule, grow and serve DAG workflows.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

#: Which extra brings each optional third-party module (``pip install 'dagforge[X]'``).
EXTRAS: dict[str, str] = {
    "typer": "cli",
    "rich": "cli",
    "click": "cli",
    "numpy": "numpy",
    "matplotlib": "plot",
    "pydantic": "spec",
    "networkx": "interop",
    "redis": "redis",
    "boto3": "s3",
    "botocore": "s3",
    "dask": "dask",
    "distributed": "dask",
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "httpx": "server",
    "yaml": "server",
    "jinja2": "server",
    "prometheus_client": "server",
    "sqlalchemy": "server",
    "alembic": "server",
    "croniter": "server",
    "psycopg": "postgres",
    "opentelemetry": "otel",
    "kubernetes": "k8s",
}

#: ``--output table|json`` of every list and show command.
OUTPUT = typer.Option(
    "table", "--output", "-o", help="table (for people) or json (for scripts)", show_default=True
)

_USAGE = 2
_FAILED = 1


class _Failure(Exception):
    """A reported error: the message is shown as is, then the process exits with ``code``."""

    def __init__(self, message: str, code: int = _USAGE):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = _USAGE) -> None:
    """Stop the command with ``error: <message>`` and exit ``code`` (2 usage, 1 failure)."""
    raise _Failure(message, code)


def missing_extra(exc: BaseException) -> str | None:
    """``"pip install 'dagforge[X]'"`` when ``exc`` is an import of an optional package."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ImportError):
            top = (exc.name or "").split(".")[0]
            if top in EXTRAS:
                return f"{top} is not installed: pip install 'dagforge[{EXTRAS[top]}]'"
        exc = exc.__cause__  # type: ignore[assignment]  # only an explicit `raise ... from`
    return None


_DEBUG = {"on": False}  # set by the root callback on every invocation


def _debugging() -> bool:
    if os.environ.get("DAGFORGE_DEBUG", "").lower() in ("1", "true", "yes"):
        return True
    return _DEBUG["on"]


def _explain(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for an exception that escaped a command."""
    from dagforge.errors import ClientError, DagforgeError, RunError, StoreError

    if isinstance(exc, _Failure):
        return str(exc), exc.code
    extra = missing_extra(exc)
    if extra is not None:
        return extra, _FAILED
    if isinstance(exc, ClientError):
        status = getattr(exc, "status_code", None)
        if status is None:
            return (
                f"{exc}\n  start the platform with `dagforge serve`, or point --url "
                "(or DAGFORGE_URL) at a running one",
                _FAILED,
            )
        return str(exc), _USAGE if 400 <= status < 500 and status != 408 else _FAILED
    if isinstance(exc, RunError | StoreError):  # a run, its backend or its store failed
        return str(exc), _FAILED
    if isinstance(exc, DagforgeError):
        return str(exc), _USAGE
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}", _USAGE
    if isinstance(exc, IsADirectoryError):
        return f"expected a file, got the directory {exc.filename or exc}", _USAGE
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}", _USAGE
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), _FAILED
    if isinstance(exc, ValueError | TypeError | KeyError):
        return f"{type(exc).__name__}: {exc}", _USAGE
    return (
        f"unexpected {type(exc).__name__}: {exc}\n  rerun with `dagforge --debug ...` for "
        "the traceback, and please report it",
        _FAILED,
    )


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that errors are reported in one or two lines, not a traceback."""
    if getattr(fn, "_dagforge_guarded", False):
        return fn

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, _click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _debugging():
                raise
            message, code = _explain(exc)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code) from None

    command._dagforge_guarded = True  # type: ignore[attr-defined]
    return command


def _guard_all(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None:
            info.callback = guard(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_all(group.typer_instance)


def _version(value: bool) -> None:
    if value:
        from dagforge import __version__

        typer.echo(f"dagforge {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="DAGFORGE_DEBUG", help="Show the full traceback of an error."
    ),
) -> None:
    """Author, run, profile, schedule, grow and serve DAG workflows."""
    _DEBUG["on"] = debug


# -- helpers the command modules share ----------------------------------------------------------


def read_json(source: str | Path, what: str = "JSON") -> Any:
    """JSON from a file, or from the text itself when ``source`` starts with ``{`` or ``[``.

    A name that is neither an existing file nor JSON text is reported as a missing file,
    and malformed JSON names the file, line and column.
    """
    text = str(source)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        origin = "the JSON text"
    else:
        path = Path(text)
        if not path.exists():
            fail(f"no such file: {text} (expected {what} as a file or as JSON text)")
        if path.is_dir():
            fail(f"{text} is a directory, expected {what} as a file")
        origin = text
        text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"{origin} is not valid JSON ({what}): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        )


def emit(
    data: Any,
    output: str,
    *,
    columns: Iterable[str] | None = None,
    title: str | None = None,
) -> None:
    """Print ``data`` as JSON (``--output json``) or as a rich table of ``columns``."""
    if output == "json":
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if output != "table":
        fail(f"unknown --output {output!r}; use table or json")
    from rich.console import Console
    from rich.table import Table

    rows = data if isinstance(data, list) else [data]
    cols = list(columns or (rows[0].keys() if rows and isinstance(rows[0], dict) else []))
    table = Table(title=title)
    for col in cols:
        table.add_column(col, no_wrap=col in ("run_id", "id", "name", "node"))
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in cols))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def write_or_print(text: str, out: Path | None) -> None:
    """``text`` to the file ``out`` (saying so on stderr), or to stdout without one."""
    if out:
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


_DEBUG_PASSTHROUGH = (KeyboardInterrupt, SystemExit)


def _where(exc: BaseException) -> str:
    """`` at file.py:12`` — the innermost frame of the traceback, the user's line."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if "importlib" not in f.filename]
    if not user:
        return ""
    last = user[-1]
    return f" at {last.filename}:{last.lineno}"


def check_backend(value: str | None) -> str | None:
    """A typer callback: ``--backend`` must name a backend (usage error otherwise)."""
    from dagforge.execution.backends import BACKENDS

    if value is None or value in BACKENDS or value.startswith("dask://"):
        return value
    raise typer.BadParameter(
        f"unknown backend {value!r}; choose one of {', '.join(BACKENDS)} or dask://HOST:PORT"
    )


def load_object(ref: str) -> Any:
    """Load ``MODULE:OBJECT`` (a DAG, or a zero-argument callable returning one).

    ``MODULE`` is a dotted module importable from the current directory, or a path to a
    ``.py`` file. Errors (no such module or file, no such attribute, not a DAG) are
    usage errors; a DAG that cannot be built (a cycle, a mis-wired edge) reports the
    graph's own error.
    """
    from dagforge.graph import DAG

    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        fail(f"expected MODULE:OBJECT (e.g. pipeline:dag or pipeline.py:build), got {ref!r}")
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name).resolve()
        if not path.is_file():
            fail(f"no such file: {module_name} (in {ref!r})")
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    else:
        sys.path.insert(0, str(Path.cwd()))
    from dagforge.errors import DagforgeError

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name.split(".")[0] or exc.name == module_name:
            fail(
                f"cannot import {module_name!r} (from {ref!r}): no such module in "
                f"{Path.cwd()} or on PYTHONPATH"
            )
        if missing_extra(exc) is not None:
            raise
        fail(f"importing {module_name!r} failed{_where(exc)}: {type(exc).__name__}: {exc}")
    except DagforgeError:
        raise  # a DAG built at import time that is invalid: its own message names it
    except _DEBUG_PASSTHROUGH:
        raise
    except Exception as exc:
        if _debugging():
            raise
        fail(f"importing {module_name!r} failed{_where(exc)}: {type(exc).__name__}: {exc}")
    try:
        obj = getattr(module, attr)
    except AttributeError:
        public = sorted(
            n for n, v in vars(module).items() if not n.startswith("_") and isinstance(v, DAG)
        )
        known = f"; DAGs in it: {', '.join(public)}" if public else ""
        fail(f"module {module_name!r} has no attribute {attr!r}{known}")
    if not isinstance(obj, DAG) and callable(obj):
        try:
            obj = obj()
        except DagforgeError:
            raise
        except Exception as exc:
            if _debugging():
                raise
            fail(f"{ref}() failed{_where(exc)}: {type(exc).__name__}: {exc}")
    if not isinstance(obj, DAG):
        fail(f"{ref} is not a dagforge DAG (got {type(obj).__name__})")
    return obj


# -- entry point --------------------------------------------------------------------------------


def _register_all() -> None:
    for module_name in (
        "dagforge.cli.run",
        "dagforge.cli.profiling",
        "dagforge.cli.spec",
        "dagforge.cli.server",
        "dagforge.cli.deploy",
        "dagforge.cli.runs",
        "dagforge.cli.report",
        "dagforge.cli.platform",
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that part is not part of this build
            raise
        module.register(app)
    _guard_all(app)


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``dagforge`` and ``python -m dagforge``); exits the process."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="dagforge", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except _click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed
            raise SystemExit(0) from None
        ctx = getattr(exc, "ctx", None)  # only UsageError (and subclasses) carry a context
        where = ctx.command_path if ctx else "dagforge"
        typer.echo(f"error: {exc.format_message()}", err=True)
        if isinstance(exc, _click.UsageError):
            typer.echo(f"  see `{where} --help`", err=True)
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)
