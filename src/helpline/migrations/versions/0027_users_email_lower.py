"""users: an index on `lower(email)`, which a sign-in looks its account up by

`get_registered_by_email` compares `lower(email)` (an address is one address whatever its
case), which the unique index on `email` cannot serve: every password sign-in, reset request
and single sign-on read every user row, guests included, and guests are kept by the thousand
(docs/performance.md, "Shift start: what an arrival costs the loop").

Revision ID: 0027_users_email_lower
Revises: 0026_chat_row_updates
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_users_email_lower"
down_revision: str | None = "0026_chat_row_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_email_lower", table_name="users")
