"""What wraps one platform run so that a cancel, a refused function or a lost lease
stops it cleanly.

- ``cancellable``: a fresh ``threads``/``processes`` backend whose ``wait`` raises
  :class:`RunCancelled` within ``CANCEL_POLL`` seconds of the run's cancel event, so the
  engine abandons the running nodes (its Ctrl-C path);
- ``Guarded``: a run's function, which refuses to start once the run is cancelled and
  checks its outputs are JSON (no NaN);
- ``Refused``: stands for a registered function this server may not import;
- ``fenced``: the engine callbacks of a leased run, journaling first and telling the
  monitor only while the run is still this replica's.

Invariant: nothing here touches the journal itself; the dispatcher (``platform.py``)
decides what is written.
"""

from __future__ import annotations

import threading
from typing import Any

from dagforge.errors import CancelledError, UnknownFunctionError
from dagforge.server.guards import check_outputs

__all__ = [
    "CANCELLED_REASON",
    "CANCEL_POLL",
    "Guarded",
    "Refused",
    "RunCancelled",
    "cancellable",
    "fenced",
    "unused",
]

CANCEL_POLL = 0.05  # seconds: how soon a run on the threads backend notices a cancel
CANCELLED_REASON = "the run was cancelled"


class RunCancelled(KeyboardInterrupt):
    """Raised in the engine's wait once the platform cancels a run: the engine's
    interrupt path (the one Ctrl-C takes) abandons the running nodes, starts nothing
    more and returns the run's result with those nodes ``cancelled``."""


def cancellable(name: str, cancel: threading.Event) -> Any:
    """A fresh backend (``threads`` or ``processes``) for one run whose ``wait`` raises
    :class:`RunCancelled` within ``CANCEL_POLL`` seconds of ``cancel`` being set (waits
    are sliced; an early empty answer is a spurious wake-up the engine already expects)."""
    from dagforge.execution.backends import make_backend

    backend = make_backend(name)
    inner = backend.wait

    def wait(timeout: float | None) -> list[Any]:  # the backend's events, as they are
        if cancel.is_set():
            raise RunCancelled(CANCELLED_REASON)
        events = inner(CANCEL_POLL if timeout is None else min(timeout, CANCEL_POLL))
        if cancel.is_set():
            raise RunCancelled(CANCELLED_REASON)
        return events

    backend.wait = wait  # type: ignore[method-assign]
    return backend


class Guarded:
    """A run's function: refuses to start once the run is cancelled, and fails its node
    with a ``SerializationError`` naming the key when an output is not JSON (NaN)."""

    __slots__ = ("name", "fn", "cancel")

    def __init__(self, name: str, fn: Any, cancel: threading.Event | None):
        self.name = name
        self.fn = fn
        self.cancel = cancel

    def __call__(self, **kwargs: Any) -> Any:
        cancel = self.cancel
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"node {self.name!r} was not started: the run was cancelled")
        outputs = self.fn(**kwargs)
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"node {self.name!r}: the run was cancelled while it ran")
        check_outputs(self.name, outputs)
        return outputs

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent to another process (``processes``, Dask) without the cancel event, which
        cannot travel: there the engine's wait and the journal see cancels instead."""
        return (Guarded, (self.name, self.fn, None))


def unused(_name: str, _value: Any) -> None:
    """The monitor's journal hook when ``fenced`` journals first itself."""


def fenced(callbacks: Any, journal: Any, still_mine: Any) -> Any:
    """A leased run's engine callbacks: a completed node is journaled first (the fenced
    ``node_done``), and the monitor's view and node logs hear of a node's end only while
    the run is still this replica's (``still_mine()``), so a replica that lost the run
    leaves the new owner's node logs alone."""
    complete, error = callbacks.on_node_complete, callbacks.on_node_error

    def on_complete(name: str, value: Any) -> None:
        journal(name, value)
        if complete is not None and still_mine():
            complete(name, value)

    def on_error(name: str, exc: BaseException) -> None:
        if error is not None and still_mine():
            error(name, exc)

    callbacks.on_node_complete = on_complete
    callbacks.on_node_error = on_error
    return callbacks


class Refused:
    """Stands for a registered function this server may not import; fails when called."""

    def __init__(self, reason: str):
        self.reason = reason

    def __call__(self, **_: Any) -> Any:
        raise UnknownFunctionError(self.reason)
