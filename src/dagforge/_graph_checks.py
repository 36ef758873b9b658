"""The checks a node's name and options get as they are added, by ``DAG`` and
``DAGBuilder`` alike, and the error for a name that is not a node.

Invariants:
- A node name is a non-empty ``str``; anything else is a :class:`~dagforge.errors.GraphError`
  naming the value.
- A node's options are its Task's declared ones, overridden by the ones given; with
  neither, the one shared :data:`~dagforge.options.DEFAULT_OPTIONS` record (so a node
  without options costs no allocation).
- An unknown name's error suggests the closest node name, except for DAGs of more than
  10,000 nodes (where the search would cost more than the error is worth).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from dagforge.errors import GraphError, UnknownNodeError
from dagforge.options import DEFAULT_OPTIONS, NodeOptions
from dagforge.tasks import Task


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise GraphError(f"node names must be non-empty strings, got {name!r}")


def _node_options(name: str, task: Any, options: Mapping[str, Any]) -> NodeOptions:
    """A node's options: its Task's declared ones, overridden by ``options``."""
    declared = task.declared_options() if isinstance(task, Task) else {}
    if declared or options:
        return NodeOptions.from_mapping({**declared, **options}, node=name)
    return DEFAULT_OPTIONS


def _unknown(name: Any, what: str, names: Collection[str]) -> UnknownNodeError:
    hint = _closest(name, names)
    return UnknownNodeError(
        f"{what} {name!r} is not a node of this DAG" + (f"; did you mean {hint!r}?" if hint else "")
    )


def _closest(name: Any, names: Collection[str]) -> str | None:
    if not isinstance(name, str) or len(names) > 10_000:
        return None
    import difflib

    found = difflib.get_close_matches(name, names, n=1)
    return found[0] if found else None
