"""Reading a chat for someone: the one object-level permission check."""

from __future__ import annotations

from helpline.accounts.models import User
from helpline.chats import repository as repo
from helpline.chats.repository import ChatRow
from helpline.db import UnitOfWork
from helpline.errors import NotFound


async def get_row(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    """The one object-level permission check: invisible and absent both answer 404."""
    row = await repo.get_visible(uow.session, user, chat_id)
    if row is None:
        raise NotFound("No such chat.")
    return row


async def fresh_row(uow: UnitOfWork, chat_id: str) -> ChatRow:
    """The chat as it is now, after this unit's changes (it exists: we just changed it)."""
    row = await repo.get_row(uow.session, chat_id)
    assert row is not None
    return row
