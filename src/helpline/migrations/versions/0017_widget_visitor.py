"""The widget knows the visitor: allowed sites kept by admins, automatic messages per queue

Revision ID: 0017_widget_visitor
Revises: 0016_user_locale
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_widget_visitor"
down_revision: str | None = "0016_user_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "widget_sites",
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_widget_sites")),
    )
    # Plain ADD COLUMN, no batch copy: the chats table carries the search index's triggers.
    op.add_column("queues", sa.Column("auto_reply", sa.JSON(), nullable=True))
    op.add_column("queues", sa.Column("away_text", sa.Text(), nullable=True))
    op.add_column("chats", sa.Column("auto_replied_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("chats", "auto_replied_at")
    op.drop_column("queues", "away_text")
    op.drop_column("queues", "auto_reply")
    op.drop_table("widget_sites")
