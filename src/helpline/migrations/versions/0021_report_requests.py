"""Reports: requests' service-level outcomes kept when retention removes the request

Revision ID: 0021_report_requests
Revises: 0020_sla
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_report_requests"
down_revision: str | None = "0020_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("response_due_at", _WHEN, nullable=True),
        sa.Column("first_response_at", _WHEN, nullable=True),
        sa.Column("response_breached", sa.Boolean(), nullable=False),
        sa.Column("resolve_due_at", _WHEN, nullable=True),
        sa.Column("resolved_at", _WHEN, nullable=True),
        sa.Column("resolve_breached", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_requests")),
    )
    op.create_index(
        "ix_report_requests_team_created",
        "report_requests",
        ["team_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_report_requests_team_created", table_name="report_requests")
    op.drop_table("report_requests")
