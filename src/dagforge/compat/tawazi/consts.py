"""tawazi's constants (``tawazi.consts``): ``Resource`` and the id separators."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ARG_NAME_SEP", "USE_SEP_END", "USE_SEP_START", "Resource", "XNOutsideDAGCall"]

ARG_NAME_SEP = ">!>"
USE_SEP_START = "<<"
USE_SEP_END = ">>"


class Resource(StrEnum):
    """Where tawazi runs a node. dagforge runs every node on the DAG's thread backend, so
    the value is recorded (``ExecNode.resource``) but does not move the node."""

    thread = "thread"
    main_thread = "main-thread"
    async_thread = "async-thread"


class XNOutsideDAGCall(StrEnum):
    """What calling an ``@xn`` function outside a ``@dag`` does (tawazi's default: error)."""

    warning = "warning"
    error = "error"
    ignore = "ignore"
