"""tags and chat_tags; queues.fields (pre-chat fields); chats.context (answers, page context)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "chat_tags",
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("tag_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_chat_tags_chat_id_chats")),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_chat_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", "tag_id", name=op.f("pk_chat_tags")),
    )
    with op.batch_alter_table("chat_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_tags_tag_id"), ["tag_id"], unique=False)
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("context")
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("fields")
    with op.batch_alter_table("chat_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_tags_tag_id"))
    op.drop_table("chat_tags")
    op.drop_table("tags")
