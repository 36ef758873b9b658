"""adage's ``Node`` (``adage.node``): one task of the workflow graph and its state."""

from __future__ import annotations

import time
import uuid
from typing import Any

from dagforge.compat.adage import nodestate

__all__ = ["Node"]


class Node:
    def __init__(
        self,
        name: str,
        task: Any,
        identifier: str | None = None,
        define_time: float | None = None,
        result: Any = None,
    ):
        self.identifier = identifier or str(uuid.uuid4())
        self.name = name
        self.task = task
        self.define_time = define_time or time.time()
        self.submit_time: float | None = None
        self.ready_by_time: float | None = None
        self.backend: Any = None
        self.resultproxy: Any = None
        self._result = result
        self._state = nodestate.DEFINED
        self.error: BaseException | None = None
        #: for a node loaded from a saved state: the keys its result had (a dict result)
        self.result_keys: list[str] | None = None
        self.result_type: str | None = None

    def __repr__(self) -> str:
        return f"<Node name: {self.name} id: {self.identifier} state: {self.state}>"

    def update_state(self, backend: Any = None) -> None:
        """Kept for adage's API; states follow the engine's events instead."""

    @property
    def result(self) -> Any:
        return self._result

    @property
    def state(self) -> nodestate.NodeState:
        return self._state

    def ready(self) -> bool:
        return self.state in (nodestate.SUCCESS, nodestate.FAILED)

    def successful(self) -> bool:
        return self.state is nodestate.SUCCESS
