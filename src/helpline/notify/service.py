"""Outgoing deliveries as admins see them."""

from __future__ import annotations

from helpline.accounts.models import User
from helpline.db import UnitOfWork
from helpline.errors import Forbidden
from helpline.kit.enums import Role
from helpline.notify import repository as repo
from helpline.notify.models import DeliveryKind, DeliveryStatus, OutboxMessage


async def list_deliveries(
    uow: UnitOfWork,
    user: User,
    *,
    status: DeliveryStatus | None,
    kind: DeliveryKind | None,
    before_id: int | None,
    limit: int,
) -> list[OutboxMessage]:
    """Newest first. Admins only: payloads hold customers' words and addresses."""
    if user.role_enum is not Role.admin:
        raise Forbidden("Deliveries are for admins.")
    return await repo.list_messages(
        uow.session, status=status, kind=kind, before_id=before_id, limit=limit
    )
