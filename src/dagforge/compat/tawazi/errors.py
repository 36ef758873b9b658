"""tawazi's exceptions and error strategies (``tawazi.errors``).

``ErrorStrategy`` is tawazi 0.1.2's ``behaviour=``: ``strict`` (the default) re-raises
the failing node's own exception; ``all_children`` skips the failed node's descendants
and runs the rest; ``permissive`` ignores the error (the node's result is ``None``)
and runs everything.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ErrorStrategy",
    "InvalidExecNodeCallError",
    "TawaziArgumentError",
    "TawaziError",
    "TawaziTypeError",
    "TawaziUsageError",
]


class ErrorStrategy(Enum):
    strict = "strict"
    all_children = "all-children"
    permissive = "permissive"


class TawaziError(Exception):
    """Base of tawazi's own errors."""


class TawaziArgumentError(TawaziError, TypeError):
    """A DAG or ExecNode was called without an argument it needs."""

    def __init__(self, func_name: str, arg_name: str) -> None:
        super().__init__(
            f"Argument {arg_name} wasn't passed for the DAG/ExecNode created from function "
            f"{func_name}"
        )


class TawaziTypeError(TawaziError, TypeError):
    """A value of the wrong type was given to tawazi."""


class TawaziUsageError(TawaziError, ValueError):
    """tawazi was used in a way it does not support."""


class InvalidExecNodeCallError(TawaziError):
    """An ExecNode was called where it cannot be."""
