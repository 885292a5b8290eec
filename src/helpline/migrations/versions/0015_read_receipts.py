"""Read receipts (each participant's last read seq) and replies while away (mail + links)

Revision ID: 0015_read_receipts
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_read_receipts"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_reads",
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("is_customer", sa.Boolean(), nullable=False),
        sa.Column("last_read_seq", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_reads_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chat_reads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_chat_reads")),
    )
    op.create_table(
        "away_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_away_links_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_away_links_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_away_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_away_links_token_hash")),
    )
    op.create_index(op.f("ix_away_links_user_id"), "away_links", ["user_id"], unique=False)
    op.create_index(op.f("ix_away_links_chat_id"), "away_links", ["chat_id"], unique=False)
    with op.batch_alter_table("chats") as batch_op:
        batch_op.add_column(sa.Column("away_mailed_at", sa.DateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("away_mailed_seq", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch_op:
        batch_op.drop_column("away_mailed_seq")
        batch_op.drop_column("away_mailed_at")
    op.drop_index(op.f("ix_away_links_chat_id"), table_name="away_links")
    op.drop_index(op.f("ix_away_links_user_id"), table_name="away_links")
    op.drop_table("away_links")
    op.drop_table("chat_reads")
