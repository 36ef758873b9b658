"""Decisions: what the core asks its driver to do, as named records in ``run.outbox``.

The core (``core.py``, ``admission.py``, ``timers.py``) never calls a backend or the
result cache; it appends one of these records and the driver (``drivers.py``, and the
inline loop in ``fastpath.py``) applies them in order (``Drivers._apply_decisions``):

- :class:`Start` — submit this job to the backend (a synchronous backend runs it in
  place and the driver hands the event back through ``Core._ran``);
- :class:`Lookup` — the node's result may be in the result cache: the driver computes
  its key and asks the cache, then tells the core (``Core._restored`` on a hit,
  ``Core._not_cached`` on a miss, which decides the ``Start``);
- :class:`Store` — put node ``idx``'s value into the result cache under ``key``;
- :class:`Abandon` — give up on that attempt (a timeout, an interrupt).

The other decisions are state the driver reads: a timer armed is a
:class:`~dagforge.execution.timers.Timer` on ``run.timers`` (the driver waits until the
first one, ``Timers._wait_timeout``), and "the run is finished" is ``Core.finished()``.
"""

from __future__ import annotations

from typing import NamedTuple

from dagforge.execution.jobs import Job


class Start(NamedTuple):
    """Start this job (one attempt of one node) on the backend."""

    job: Job


class Lookup(NamedTuple):
    """Look this job's node up in the result cache before starting it."""

    job: Job


class Store(NamedTuple):
    """Keep node ``idx``'s value in the result cache under ``key``."""

    idx: int
    key: str


class Abandon(NamedTuple):
    """Abandon attempt ``attempt`` of node ``idx`` on the backend (its outcome is decided)."""

    idx: int
    attempt: int
