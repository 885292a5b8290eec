"""snippets (canned responses) and the reports' indexes

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snippets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_snippets_queue_id_queues")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_snippets_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snippets")),
    )
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.create_index("ix_snippets_owner_queue", ["owner_id", "queue_id"], unique=False)
        batch_op.create_index("ix_snippets_queue", ["queue_id"], unique=False)
    # Reports read chats by queue and start time, from this index alone (see reports/models.py).
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chats_report",
            [
                "queue_id",
                "created_at",
                "status",
                "agent_id",
                "rating_score",
                "waiting_since",
                "accepted_at",
                "closed_at",
            ],
            unique=False,
        )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_requests_created_chat", ["created_at", "chat_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_service_requests_created_chat")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index("ix_chats_report")
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.drop_index("ix_snippets_queue")
        batch_op.drop_index("ix_snippets_owner_queue")
    op.drop_table("snippets")
