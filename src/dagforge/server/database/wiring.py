"""How the platform picks its journal, queues and scheduler from its settings.

- no ``database_url`` (the default): the embedded SQLite file ``<data-dir>/dagforge.sqlite3``,
  migrated on start as the server always created its own file, and the in-memory
  priority queues of ``dispatch.RunQueues`` — one server per file, exactly as before;
- ``sqlite:///...`` given explicitly: that file, which must have been migrated with
  ``dagforge db upgrade`` (the server refuses to start otherwise), same queues;
- ``postgresql://...``: the shared journal, and :class:`~.queue.LeasedQueues`, so any
  number of gateways on that database share registries, queues and runs.
"""

from __future__ import annotations

from typing import Any

from dagforge.server.database import default_url, open_database
from dagforge.server.database.journal import SqlDatabase


def open_platform_database(settings: Any) -> SqlDatabase:
    url = getattr(settings, "database_url", None)
    if url:
        return open_database(url, pool_size=max(4, int(settings.workers) + 4))
    return open_database(default_url(settings.data_dir), create=True)


def platform_queues(db: SqlDatabase, settings: Any) -> Any:
    """In-memory queues for SQLite (one server), leased queues for a shared database."""
    if db.dialect == "sqlite":
        from dagforge.server.dispatch import RunQueues

        return RunQueues(settings.weights or None, settings.max_queued)
    from dagforge.server.database.queue import LeasedQueues

    return LeasedQueues(db, settings.weights or None, settings.max_queued)


def start_platform(platform: Any) -> None:
    """Hook the leased queues to the platform's waiters and cancels; start the schedules."""
    queues = platform.queues
    if hasattr(queues, "attach"):
        queues.attach(
            waiting=lambda: list(platform._waiters),
            finished=platform._wake,
            running=lambda: dict(platform._cancel),
        )
    platform.schedules.start()
