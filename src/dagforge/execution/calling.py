"""The calling convention of plain callables: defined in :mod:`dagforge.calling`.

It lives below the engine (DESIGN.md §2) because building a DAG checks signatures with
it; this module re-exports it for engine-side code.
"""

from __future__ import annotations

from dagforge.calling import K_NOARGS, K_POS, K_TASK, Arity, arity, describe, kind_for, refuse

__all__ = ["K_NOARGS", "K_POS", "K_TASK", "Arity", "arity", "describe", "kind_for", "refuse"]
