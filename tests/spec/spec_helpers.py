"""Builders of DAGit spec entries shared by the spec tests (conftest puts this on sys.path)."""

from __future__ import annotations

from typing import Any


def node(node_id: str, primitive: str = "serial", **props: Any) -> dict[str, Any]:
    """One ``dag`` entry with DAGit's empty defaults, overridden by ``props``."""
    base = {
        "label": node_id,
        "primitive": primitive,
        "condition": {},
        "next": "",
        "branch_1": "",
        "branch_2": "",
        "arguments": {},
        "outputs_from": [],
    }
    base.update(props)
    return {"node_id": node_id, "properties": base}
