"""``ExecutionCallbacks``: optional hooks fired by the engine.

Hooks run while the caller holds the engine: on the thread that called ``execute`` or,
with the ``threads`` backend, possibly on the worker that just finished a node (it
applies its own completion under the engine lock). Either way hooks never run
concurrently with each other or with scheduling, so a callback may touch shared state
without locks — but it must be quick: nothing is dispatched while it runs. An exception
raised by a callback is not swallowed: it ends the run and propagates from
``execute``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class ExecutionCallbacks:
    """Lifecycle hooks; each is optional.

    - ``on_run_start(dag)`` / ``on_run_complete(result)``
    - ``on_node_start(name)``; ``on_node_complete(name, value)``;
      ``on_node_error(name, exception)``; ``on_node_skipped(name, reason)``
    - ``on_resource_acquired(name, requirements)`` / ``on_resource_released(name, requirements)``
    - ``on_node_retry(name, attempt, exception)``
    """

    on_node_start: Callable[[str], Any] | None = None
    on_node_complete: Callable[[str, Any], Any] | None = None
    on_node_error: Callable[[str, BaseException], Any] | None = None
    on_node_skipped: Callable[[str, str], Any] | None = None
    on_run_start: Callable[[Any], Any] | None = None
    on_run_complete: Callable[[Any], Any] | None = None
    on_resource_acquired: Callable[[str, Any], Any] | None = None
    on_resource_released: Callable[[str, Any], Any] | None = None
    on_node_retry: Callable[[str, int, BaseException], Any] | None = None
