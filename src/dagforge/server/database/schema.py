"""The tables, as SQLAlchemy Core metadata (the migrations create exactly these).

Registries hold one JSON body per name. ``runs`` is the journal, with the lease columns
that let several gateways share one queue: a replica owns a run while
``lease_expires`` is in the future and renews it while running; an expired lease makes
a ``running`` run claimable again (its completed nodes are in ``node_results``).
``schedules`` keeps each schedule's cursor (the last due time decided);
``schedule_fires`` has one row per due time that fired, so a due time fires once.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _registry(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("name", String(200), primary_key=True),
        Column("body", Text, nullable=False),
    )


functions = _registry("functions")
dags = _registry("dags")
triggers = _registry("triggers")

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("trigger", String(200), nullable=False),
    Column("dag", String(200)),
    Column("priority", String(16), nullable=False),
    Column("arguments", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("accepted", Float, nullable=False),
    Column("started", Float),
    Column("finished", Float),
    Column("outputs", Text),
    Column("error", Text),
    Column("nodes", Text),
    Column("lease_owner", String(200)),
    Column("lease_expires", Float),
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("schedule", String(200)),
    Column("snapshot", Text),
    Index("ix_runs_claim", "status", "priority", "accepted"),
    Index("ix_runs_accepted", "accepted"),
)

node_results = Table(
    "node_results",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("instance", String(400), nullable=False),
    Column("outputs", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "instance"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("body", Text, nullable=False),
    Column("cursor", Float, nullable=False),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("schedule", String(200), nullable=False),
    Column("due", Float, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("fired", Float, nullable=False),
    PrimaryKeyConstraint("schedule", "due"),
)

node_logs = Table(  # written by the run monitor (observability.py)
    "node_logs",
    metadata,
    Column("run_id", Text, nullable=False),
    Column("instance", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer),
    Column("error", Text),
    Column("traceback", Text),
    Column("logs", Text),
    PrimaryKeyConstraint("run_id", "instance"),
)

PRIMARY_KEYS = {
    t.name: tuple(c.name for c in t.primary_key.columns) for t in metadata.tables.values()
}

REGISTRIES = {"functions": functions, "dags": dags, "triggers": triggers}
