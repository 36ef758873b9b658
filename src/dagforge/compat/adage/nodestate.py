"""adage's node states (``adage.nodestate``): DEFINED, RUNNING, FAILED, SUCCESS."""

from __future__ import annotations

__all__ = ["DEFINED", "FAILED", "RUNNING", "SUCCESS", "NodeState"]


class NodeState:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<NodeState: {self.name}>"

    def __str__(self) -> str:
        return self.name


DEFINED = NodeState("DEFINED")
RUNNING = NodeState("RUNNING")
FAILED = NodeState("FAILED")
SUCCESS = NodeState("SUCCESS")

#: dagforge's node status -> adage's state (skipped/cancelled nodes never ran: DEFINED).
FROM_STATUS = {
    "pending": DEFINED,
    "ready": DEFINED,
    "running": RUNNING,
    "succeeded": SUCCESS,
    "restored": SUCCESS,
    "failed": FAILED,
    "timed_out": FAILED,
    "skipped": DEFINED,
    "cancelled": DEFINED,
}
