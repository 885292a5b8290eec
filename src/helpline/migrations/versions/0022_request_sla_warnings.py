"""Requests' service-level warnings: when 80 % of each target is used, and whether staff were
warned

Revision ID: 0022_request_warn
Revises: 0021_report_requests
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_request_warn"
down_revision: str | None = "0021_report_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, as in 0020. Requests already running get no warning (their clocks
    # started without one); new clocks do.
    for name in ("response_warn_at", "resolve_warn_at"):
        op.add_column("service_requests", sa.Column(name, sa.DateTime(timezone=True)))
    for name in ("response_warned", "resolve_warned"):
        op.add_column(
            "service_requests",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )


def downgrade() -> None:
    for name in ("resolve_warned", "response_warned", "resolve_warn_at", "response_warn_at"):
        op.drop_column("service_requests", name)
