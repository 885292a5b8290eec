"""Snippets (canned responses): one function per use case.

Order of checks: role (customers never use snippets: 403), visibility (404: absent, another
person's personal snippet, a queue's snippet outside the agent's queues), role for the change
(shared snippets are managed by supervisors and admins: 403), then values (422).
"""

from __future__ import annotations

from typing import Any

from helpline.accounts.models import User
from helpline.accounts.service import require_staff
from helpline.chats import access as chats
from helpline.db import UnitOfWork
from helpline.errors import Forbidden, Invalid, NotFound
from helpline.kit import placeholders
from helpline.kit.clock import now
from helpline.queues import service as queues
from helpline.snippets import repository as repo
from helpline.snippets.models import Snippet
from helpline.snippets.repository import SnippetRow
from helpline.snippets.schemas import MAX_CONTENT, SnippetCreate, SnippetUpdate


def can_edit(user: User, snippet: Snippet) -> bool:
    """Personal: the owner. Shared: supervisors and admins (agents only use them)."""
    if snippet.queue_id is None:
        return snippet.owner_id == user.id
    return user.role_enum.sees_all


def check_content(content: str) -> None:
    """The rule for every save: at most MAX_CONTENT characters, only known placeholders."""
    if len(content) > MAX_CONTENT:
        raise Invalid(f"A snippet holds at most {MAX_CONTENT} characters.", code="too_long")
    bad = placeholders.unknown(content)
    if bad:
        known = ", ".join(placeholders.PLACEHOLDERS)
        raise Invalid(
            f"Unknown placeholders: {', '.join(bad)}. Use {known}.",
            code="unknown_placeholder",
            placeholders=bad,
        )


async def _target_queue(uow: UnitOfWork, user: User, queue_id: str | None) -> str | None:
    if queue_id is None:
        return None
    if not user.role_enum.sees_all:
        raise Forbidden("Only supervisors and admins manage shared snippets.")
    return (await queues.get_active(uow, queue_id)).id


async def _reload(uow: UnitOfWork, snippet_id: str) -> SnippetRow:
    row = await repo.get_row(uow.session, snippet_id)
    assert row is not None
    return row


async def list_snippets(
    uow: UnitOfWork, user: User, *, q: str | None, offset: int, limit: int
) -> list[SnippetRow]:
    require_staff(user)
    return await repo.list_visible(uow.session, user, q=q, offset=offset, limit=limit)


async def get(uow: UnitOfWork, user: User, snippet_id: str) -> SnippetRow:
    require_staff(user)
    row = await repo.get_visible(uow.session, user, snippet_id)
    if row is None:
        raise NotFound("No such snippet.")
    return row


async def create(uow: UnitOfWork, user: User, data: SnippetCreate) -> SnippetRow:
    require_staff(user)
    queue_id = await _target_queue(uow, user, data.queue_id)
    check_content(data.content)
    at = now()
    snippet = Snippet(
        title=data.title,
        content=data.content,
        queue_id=queue_id,
        owner_id=user.id,
        created_at=at,
        updated_at=at,
    )
    uow.session.add(snippet)
    await uow.session.flush()
    return await _reload(uow, snippet.id)


async def update(uow: UnitOfWork, user: User, snippet_id: str, data: SnippetUpdate) -> SnippetRow:
    snippet = (await get(uow, user, snippet_id)).snippet
    if not can_edit(user, snippet):
        raise Forbidden("Only supervisors and admins change shared snippets.")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "queue_id" in changes and changes["queue_id"] != snippet.queue_id:
        snippet.queue_id = await _target_queue(uow, user, changes["queue_id"])
        if snippet.queue_id is None:
            # A shared snippet taken back becomes the personal snippet of whoever took it.
            snippet.owner_id = user.id
    if changes.get("title") is not None:
        snippet.title = changes["title"]
    if changes.get("content") is not None:
        check_content(changes["content"])
        snippet.content = changes["content"]
    snippet.updated_at = now()
    await uow.session.flush()
    return await _reload(uow, snippet.id)


async def delete(uow: UnitOfWork, user: User, snippet_id: str) -> None:
    snippet = (await get(uow, user, snippet_id)).snippet
    if not can_edit(user, snippet):
        raise Forbidden("Only supervisors and admins delete shared snippets.")
    await uow.session.delete(snippet)
    await uow.session.flush()


async def render(uow: UnitOfWork, user: User, chat_id: str, snippet_id: str) -> str:
    """The snippet filled for one chat, for the composer (the agent may still edit it).

    `{agent.name}` is the caller: the person inserting the snippet is the one who sends it."""
    row = await chats.get_row(uow, user, chat_id)
    snippet = (await get(uow, user, snippet_id)).snippet
    values = {
        "{customer.name}": row.customer.name,
        "{agent.name}": user.name,
        "{chat.reference}": row.chat.reference,
        "{queue.name}": row.queue.name,
    }
    return placeholders.fill(snippet.content, values)
