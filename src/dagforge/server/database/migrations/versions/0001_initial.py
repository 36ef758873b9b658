"""Initial schema: registries, run journal with leases, schedules.

Also adopts a journal written by the pre-SQLAlchemy server (same tables, no lease
columns): existing tables are kept and the missing columns and indexes are added.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _registry(name: str) -> None:
    op.create_table(
        name,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )


RUN_EXTRA = [
    ("lease_owner", lambda: sa.Column("lease_owner", sa.String(200))),
    ("lease_expires", lambda: sa.Column("lease_expires", sa.Float)),
    ("claims", lambda: sa.Column("claims", sa.Integer, nullable=False, server_default="0")),
    ("schedule", lambda: sa.Column("schedule", sa.String(200))),
    ("snapshot", lambda: sa.Column("snapshot", sa.Text)),
]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name in ("functions", "dags", "triggers"):
        if name not in existing:
            _registry(name)
    if "runs" not in existing:
        op.create_table(
            "runs",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("trigger", sa.String(200), nullable=False),
            sa.Column("dag", sa.String(200)),
            sa.Column("priority", sa.String(16), nullable=False),
            sa.Column("arguments", sa.Text, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("accepted", sa.Float, nullable=False),
            sa.Column("started", sa.Float),
            sa.Column("finished", sa.Float),
            sa.Column("outputs", sa.Text),
            sa.Column("error", sa.Text),
            sa.Column("nodes", sa.Text),
            *(make() for _, make in RUN_EXTRA),
        )
    else:
        have = {c["name"] for c in inspector.get_columns("runs")}
        with op.batch_alter_table("runs") as batch:
            for name, make in RUN_EXTRA:
                if name not in have:
                    batch.add_column(make())
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("runs")}
    if "ix_runs_claim" not in indexes:
        op.create_index("ix_runs_claim", "runs", ["status", "priority", "accepted"])
    if "ix_runs_accepted" not in indexes:
        op.create_index("ix_runs_accepted", "runs", ["accepted"])
    if "node_results" not in existing:
        op.create_table(
            "node_results",
            sa.Column("run_id", sa.String(64), nullable=False),
            sa.Column("instance", sa.String(400), nullable=False),
            sa.Column("outputs", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run_id", "instance"),
        )
    if "node_logs" not in existing:
        op.create_table(
            "node_logs",
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("instance", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("attempts", sa.Integer),
            sa.Column("error", sa.Text),
            sa.Column("traceback", sa.Text),
            sa.Column("logs", sa.Text),
            sa.PrimaryKeyConstraint("run_id", "instance"),
        )
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("cursor", sa.Float, nullable=False),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("due", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("fired", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("schedule", "due"),
    )


def downgrade() -> None:
    for name in (
        "schedule_fires",
        "schedules",
        "node_results",
        "runs",
        "triggers",
        "dags",
        "functions",
    ):
        op.drop_table(name)
