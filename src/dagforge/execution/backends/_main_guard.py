"""Detect a local Dask cluster started from a script's top level, outside the main guard.

Dask's ``LocalCluster`` starts its workers as new processes that import the user's
script again (the ``spawn`` start method). Code at the top level of that script runs
again in every worker and tries to start another cluster, and all the parent sees is
``Nanny failed to start``. We look at the ``__main__`` frame that asked for the cluster:
if its current line is not inside an ``if __name__ == "__main__":`` block, we say so
before any process starts.
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from types import FrameType

__all__ = ["unguarded_main_line", "GUARD_MESSAGE"]

GUARD_MESSAGE = (
    "{file}, line {line}: a local Dask cluster starts worker processes that import this "
    'script again, so the code that runs it must sit under `if __name__ == "__main__":` '
    "(see docs/distributed.md); or pass address= to use a running scheduler"
)


def _is_main_test(node: ast.expr) -> bool:
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return False
    if not isinstance(node.ops[0], ast.Eq):
        return False
    sides = [node.left, node.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


@lru_cache(maxsize=8)
def _guarded_ranges(filename: str, mtime_ns: int) -> tuple[tuple[int, int], ...]:
    with open(filename, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename)
    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.body:
            ranges.append((node.body[0].lineno, node.body[-1].end_lineno or node.lineno))
    return tuple(ranges)


def unguarded_main_line() -> tuple[str, int] | None:
    """``(file, line)`` of top-level ``__main__`` code outside the guard, else ``None``.

    ``None`` too when there is no script (an interactive session, ``python -c``, a
    notebook, ``python -m``'s runner frames) or the source cannot be read.
    """
    import os

    main = sys.modules.get("__main__")
    filename = getattr(main, "__file__", None)
    if not filename or not filename.endswith(".py"):
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if (
            frame.f_code.co_name == "<module>"
            and frame.f_globals.get("__name__") == "__main__"
            and os.path.abspath(frame.f_code.co_filename) == os.path.abspath(filename)
        ):
            break
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        ranges = _guarded_ranges(os.path.abspath(filename), os.stat(filename).st_mtime_ns)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    if any(start <= line <= end for start, end in ranges):
        return None
    return filename, line
