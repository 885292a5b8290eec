"""Service levels: queue targets, due times on chats and requests, kept report facts

Revision ID: 0020_sla
Revises: 0019_images
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_sla"
down_revision: str | None = "0019_images"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch copy of `chats`: views of the search index depend on it).
    op.add_column("queues", sa.Column("sla", sa.JSON(), nullable=True))
    op.add_column("queues", sa.Column("request_sla", sa.JSON(), nullable=True))
    for name in ("sla_due_at", "sla_warn_at", "sla_next_at", "sla_first_response_at"):
        op.add_column("chats", sa.Column(name, _WHEN, nullable=True))
    op.add_column("chats", _flag("sla_breached"))
    op.create_index("ix_chats_sla_next_at", "chats", ["sla_next_at"], unique=False)
    for name in ("response_due_at", "resolve_due_at", "first_response_at", "sla_next_at"):
        op.add_column("service_requests", sa.Column(name, _WHEN, nullable=True))
    op.add_column("service_requests", _flag("response_breached"))
    op.add_column("service_requests", _flag("resolve_breached"))
    op.create_index(
        op.f("ix_service_requests_sla_next_at"), "service_requests", ["sla_next_at"], unique=False
    )
    op.add_column("report_chats", sa.Column("sla_due_at", _WHEN, nullable=True))
    op.add_column("report_chats", sa.Column("sla_first_response_at", _WHEN, nullable=True))
    op.add_column("report_chats", _flag("sla_breached"))


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def downgrade() -> None:
    for name in ("sla_breached", "sla_first_response_at", "sla_due_at"):
        op.drop_column("report_chats", name)
    op.drop_index(op.f("ix_service_requests_sla_next_at"), table_name="service_requests")
    for name in (
        "resolve_breached",
        "response_breached",
        "sla_next_at",
        "first_response_at",
        "resolve_due_at",
        "response_due_at",
    ):
        op.drop_column("service_requests", name)
    op.drop_index("ix_chats_sla_next_at", table_name="chats")
    for name in ("sla_breached", "sla_first_response_at", "sla_next_at", "sla_warn_at"):
        op.drop_column("chats", name)
    op.drop_column("chats", "sla_due_at")
    op.drop_column("queues", "request_sla")
    op.drop_column("queues", "sla")
