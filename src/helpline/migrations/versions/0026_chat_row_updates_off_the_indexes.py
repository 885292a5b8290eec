"""chats: a message's update of its chat row changes no indexed column (decision 037)

Every message updates its chat's row (`last_seq`, `updated_at`; a customer's also
`last_customer_at` and `warned_at`). `ix_chats_status_customer_at` made the customer's update
an index change: on SQLite one index entry deleted and inserted per message; on PostgreSQL a
new row version that every one of the table's ten indexes had to point at (no HOT update).
The inactivity timers it served read `in_progress` chats, a set bounded by the agents' seats,
through `ix_chats_status_created` instead.

PostgreSQL also keeps a tenth of each page of `chats` free (fillfactor 90), so the new row
version of a busy chat fits beside the old one and stays a heap-only update.

Revision ID: 0026_chat_row_updates
Revises: 0025_search_file
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026_chat_row_updates"
down_revision: str | None = "0025_search_file"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_chats_status_customer_at", table_name="chats")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chats SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chats RESET (fillfactor)")
    op.create_index(
        "ix_chats_status_customer_at", "chats", ["status", "last_customer_at"], unique=False
    )
