"""Reading a chat for someone: the one object-level permission check (404), and how the
caller stands to the chat (the relations the transition table's who-rules are written in)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select

from helpline.accounts.models import User
from helpline.chats import repository as repo
from helpline.chats.lifecycle import TABLE, Action, Relation
from helpline.chats.models import Attachment, Chat
from helpline.chats.repository import ChatRow, ChatView
from helpline.db import UnitOfWork
from helpline.errors import NotFound
from helpline.kit.enums import Role
from helpline.tags import service as tags

R = Relation
Shown = TypeVar("Shown", ChatRow, ChatView)
_AGENT = frozenset({R.owner, R.helper, R.member})


async def get_row(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    """The one object-level permission check: invisible and absent both answer 404."""
    row = await repo.get_visible(uow.session, user, chat_id)
    if row is None:
        raise NotFound("No such chat.")
    return row


async def fresh_row(uow: UnitOfWork, chat_id: str) -> ChatRow:
    """The chat as it is now, after this unit's changes (it exists: we just changed it), with
    its tags: what is announced from it replaces the chat in the agents' lists."""
    row = await repo.get_row(uow.session, chat_id)
    assert row is not None
    return (await with_tags(uow, [row]))[0]


async def with_tags(
    uow: UnitOfWork, rows: list[Shown], ids: Select[str] | None = None
) -> list[Shown]:
    """The rows with their tags loaded (one query), for staff's eyes. `ids`: the query that
    found the rows' ids, instead of a list of them (a waiting queue's thousand)."""
    if not rows:
        return rows
    found = await tags.tags_of_chats(uow, ids if ids is not None else [r.chat.id for r in rows])
    for r in rows:
        r.tags = found.get(r.chat.id, [])
    return rows


async def get_attachment(uow: UnitOfWork, user: User, file_id: str) -> Attachment:
    """A shared file, with the same rights as its chat. Another chat's file answers exactly
    as a missing one: the answer must not tell that the file exists."""
    attachment = await repo.get_attachment(uow.session, file_id)
    if attachment is None or await repo.get_visible(uow.session, user, attachment.chat_id) is None:
        raise NotFound("No such file.")
    return attachment


def possible(role: Role) -> frozenset[Relation]:
    """Every relation someone of this role can have to some chat."""
    if role is Role.customer:
        return frozenset({R.customer})
    return _AGENT | {R.supervisor} if role.sees_all else _AGENT


def role_may(action: Action, role: Role) -> bool:
    """Whether this role may ever do `action` (the 403 checked before the chat's state)."""
    return not possible(role).isdisjoint(TABLE[action].who)


async def relations(uow: UnitOfWork, user: User, chat: Chat) -> frozenset[Relation]:
    """How `user` stands to `chat` now; only chats they can see are asked about."""
    role = user.role_enum
    if not role.is_staff:
        return frozenset({R.customer}) if chat.customer_id == user.id else frozenset()
    helper, member = await repo.ties(uow.session, chat, user.id)
    found = {
        r
        for r, yes in (
            (R.owner, chat.agent_id == user.id),
            (R.helper, helper),
            (R.member, member),
            (R.supervisor, role.sees_all),
        )
        if yes
    }
    return frozenset(found)
