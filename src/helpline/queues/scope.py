"""Who sees what through queue membership: the one rule chats and service requests share."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from helpline.accounts.models import User
from helpline.kit.enums import Role
from helpline.queues.models import QueueMember


def member_queues(user_id: str) -> Select[str]:
    """The ids of the queues the user is a member of (a subquery for `in_`)."""
    return select(QueueMember.queue_id).where(QueueMember.user_id == user_id)


def case_visible(
    user: User,
    *,
    customer: InstrumentedAttribute[str],
    queue: InstrumentedAttribute[str],
    handler: InstrumentedAttribute[str | None],
) -> ColumnElement[bool]:
    """A customer's case (a chat or a request): customers see their own; agents those of their
    queues and those they handle; supervisors and admins all."""
    role = user.role_enum
    if role.sees_all:
        return true()
    if role is Role.customer:
        return customer == user.id
    if role is Role.agent:
        return or_(queue.in_(member_queues(user.id)), handler == user.id)
    return false()
