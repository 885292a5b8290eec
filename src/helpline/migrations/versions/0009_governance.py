"""data governance: queue retention, report facts kept after removal, exports, retention runs

Revision ID: 0009_governance
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_governance"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))

    # Erased customers have no e-mail (''): the registered e-mails' unique index leaves them out.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_users_email_registered",
            sqlite_where=sa.text("is_guest = 0"),
            postgresql_where=sa.text("is_guest = false"),
        )
        batch_op.create_index(
            "uq_users_email_registered",
            ["email"],
            unique=True,
            sqlite_where=sa.text("is_guest = 0 AND email <> ''"),
            postgresql_where=sa.text("is_guest = false AND email <> ''"),
        )

    op.create_table(
        "report_chats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("rating_score", sa.Integer(), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_chats")),
    )
    op.create_index(
        "ix_report_chats_queue_created", "report_chats", ["queue_id", "created_at"], unique=False
    )
    op.create_table(
        "report_raised",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_raised")),
    )
    op.create_index("ix_report_raised_created", "report_raised", ["created_at"], unique=False)

    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["users.id"], name=op.f("fk_exports_customer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_exports_requested_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index(op.f("ix_exports_customer_id"), "exports", ["customer_id"], unique=False)
    op.create_index(op.f("ix_exports_expires_at"), "exports", ["expires_at"], unique=False)

    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_index(
        op.f("ix_retention_runs_started_at"), "retention_runs", ["started_at"], unique=False
    )

    leases = op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )
    # The row exists from the start, so claiming it is one conditional UPDATE.
    op.bulk_insert(leases, [{"name": "retention"}])


def downgrade() -> None:
    op.drop_table("job_leases")
    op.drop_index(op.f("ix_retention_runs_started_at"), table_name="retention_runs")
    op.drop_table("retention_runs")
    op.drop_index(op.f("ix_exports_expires_at"), table_name="exports")
    op.drop_index(op.f("ix_exports_customer_id"), table_name="exports")
    op.drop_table("exports")
    op.drop_index("ix_report_raised_created", table_name="report_raised")
    op.drop_table("report_raised")
    op.drop_index("ix_report_chats_queue_created", table_name="report_chats")
    op.drop_table("report_chats")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_users_email_registered",
            sqlite_where=sa.text("is_guest = 0 AND email <> ''"),
            postgresql_where=sa.text("is_guest = false AND email <> ''"),
        )
        batch_op.create_index(
            "uq_users_email_registered",
            ["email"],
            unique=True,
            sqlite_where=sa.text("is_guest = 0"),
            postgresql_where=sa.text("is_guest = false"),
        )
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
