"""``ExecutionCallbacks``: optional hooks fired by the engine.

All hooks run on the engine's thread (the one that called ``execute``), never on a
worker, so a callback may touch shared state without locks but must be quick: the
engine dispatches nothing while a callback runs. An exception raised by a callback is
not swallowed: it ends the run like an interrupt.
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
