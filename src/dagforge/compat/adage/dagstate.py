"""adage's node-state queries (``adage.dagstate``) for predicates."""

from __future__ import annotations

from typing import Any

from dagforge.compat.adage import nodestate

__all__ = [
    "node_defined_or_running",
    "node_ran_and_failed",
    "node_status",
    "upstream_failure",
    "upstream_ok",
    "upstream_ready",
]


def node_ran_and_failed(nodeobj: Any) -> bool:
    return nodeobj.state is nodestate.FAILED


def node_status(nodeobj: Any) -> bool:
    return bool(nodeobj.submit_time and nodeobj.ready() and nodeobj.successful())


def node_defined_or_running(nodeobj: Any) -> bool:
    return nodeobj.state in (nodestate.RUNNING, nodestate.DEFINED)


def upstream_ok(dag: Any, nodeobj: Any) -> bool:
    return all(node_status(dag.getNode(x)) for x in dag.predecessors(nodeobj.identifier))


def upstream_ready(dag: Any, nodeobj: Any) -> bool:
    return all(dag.getNode(x).ready() for x in dag.predecessors(nodeobj.identifier))


def upstream_failure(dag: Any, nodeobj: Any) -> bool:
    ups = [dag.getNode(x) for x in dag.predecessors(nodeobj.identifier)]
    return any(node_ran_and_failed(u) or upstream_failure(dag, u) for u in ups)
