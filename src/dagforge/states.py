"""Node and run lifecycles as explicit state machines.

Pure data below the engine (DESIGN.md §2), so rules (:mod:`dagforge.dynamic`) can read
node states without importing the engine; ``dagforge.execution.states`` re-exports it.

Node states are small ints so a run keeps them in one ``bytearray``. ``ALLOWED[a][b]``
says whether ``a -> b`` is legal; :func:`illegal` builds the error for the rest.

    PENDING -> READY -> RUNNING -> SUCCEEDED | FAILED | TIMED_OUT
                          RUNNING -> RETRY_WAIT -> READY        (retries)
    PENDING | READY | RETRY_WAIT -> SKIPPED | CANCELLED
    RETRY_WAIT -> FAILED                                        (run stopped before the retry)
    RUNNING -> CANCELLED                                        (abandoned on interrupt)
"""

from __future__ import annotations

from dagforge.errors import NodeStateError

PENDING, READY, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELLED, TIMED_OUT, RETRY_WAIT = range(9)

NAMES = (
    "pending",
    "ready",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "timed_out",
    "retry_wait",
)

TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED, TIMED_OUT})

_EDGES = {
    PENDING: {READY, SKIPPED, CANCELLED},
    READY: {RUNNING, SKIPPED, CANCELLED},
    RUNNING: {SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, RETRY_WAIT},
    RETRY_WAIT: {READY, SKIPPED, CANCELLED, FAILED},
}

ALLOWED: tuple[tuple[bool, ...], ...] = tuple(
    tuple(b in _EDGES.get(a, ()) for b in range(len(NAMES))) for a in range(len(NAMES))
)


def illegal(node: str, old: int, new: int) -> NodeStateError:
    """The error for an illegal node transition, naming node and broken precondition."""
    allowed = sorted(NAMES[b] for b in _EDGES.get(old, ()))
    return NodeStateError(
        f"node {node!r} cannot go from {NAMES[old]!r} to {NAMES[new]!r}; from {NAMES[old]!r} "
        f"it may only go to {allowed or 'nothing (terminal state)'}"
    )


# Run lifecycle.
RUN_CREATED, RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED = (
    "created",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)

_RUN_EDGES = {
    RUN_CREATED: {RUN_RUNNING},
    RUN_RUNNING: {RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED},
}


def check_run_transition(old: str, new: str) -> None:
    """Raise ``NodeStateError`` unless the run may go from ``old`` to ``new``."""
    if new not in _RUN_EDGES.get(old, ()):
        raise NodeStateError(
            f"a run cannot go from {old!r} to {new!r}; from {old!r} it may only go to "
            f"{sorted(_RUN_EDGES.get(old, ())) or 'nothing (finished)'} — create a new "
            f"execute() call for another run"
        )
