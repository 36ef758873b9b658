"""The ``dagforge`` command line.

One module per command group adds its commands through ``register(app)``:
:mod:`~dagforge.cli.run` (``run``, ``show``), :mod:`~dagforge.cli.profiling`
(``profile``, ``compare``, ``simulate``, ``trace``), :mod:`~dagforge.cli.spec`
(``spec ...``), :mod:`~dagforge.cli.server` (``serve``, ``register ...``, ``trigger``),
:mod:`~dagforge.cli.deploy` (``deploy k8s``, ``deploy k8s-platform``),
:mod:`~dagforge.cli.runs` (``runs ...`` and the registry listings),
:mod:`~dagforge.cli.report` (``report``) and :mod:`~dagforge.cli.platform` (``db``,
``schedules``; the body of ``deploy k8s-platform``).
:mod:`~dagforge.cli._app` holds the root app, ``--version``/``--debug`` and the error
reporting every command goes through. typer and rich are imported by this package
only, never by ``import dagforge``; both are base dependencies, and if they are
missing anyway ``dagforge`` says which extra to install instead of failing to import.
"""

from __future__ import annotations

try:
    from dagforge.cli._app import _register_all, app, load_object, main
except ModuleNotFoundError as _exc:
    if (_exc.name or "").split(".")[0] not in ("typer", "click", "rich"):
        raise
    _MISSING = _exc.name

    def main(argv: list[str] | None = None) -> None:
        """Say which extra brings the command line's own dependencies."""
        import sys

        sys.stderr.write(
            f"error: the dagforge command line needs {_MISSING}: pip install 'dagforge[cli]'\n"
        )
        raise SystemExit(1)

else:
    _register_all()

__all__ = ["app", "load_object", "main"]
