"""Tags: an admin-kept list; which chats carry which is set through `chats.service.set_tags`
(the chat's rights and its event live there)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError

from helpline.accounts import service as accounts
from helpline.accounts.models import User
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotFound
from helpline.kit.enums import Role
from helpline.kit.models import add_unique
from helpline.tags import repository as repo
from helpline.tags.models import Tag
from helpline.tags.schemas import TagCreate, TagUpdate


def _name_taken() -> Conflict:
    return Conflict("A tag with this name exists.", code="name_taken")


def ref(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "color": tag.color}


async def list_tags(uow: UnitOfWork, actor: User) -> list[Tag]:
    """Staff read the list (to tag chats and filter by tag); customers never see tags."""
    if not actor.role_enum.is_staff:
        raise Forbidden("Only staff see tags.")
    return await repo.list_all(uow.session)


async def create(uow: UnitOfWork, actor: User, data: TagCreate) -> Tag:
    accounts.require_role(actor, Role.admin)
    if await repo.get_by_name(uow.session, data.name):
        raise _name_taken()
    tag = Tag(name=data.name, color=data.color.lower() if data.color else None)
    await add_unique(uow.session, tag, _name_taken())
    return tag


async def _get(uow: UnitOfWork, actor: User, tag_id: str) -> Tag:
    accounts.require_role(actor, Role.admin)
    tag = await repo.get(uow.session, tag_id)
    if tag is None:
        raise NotFound("No such tag.")
    return tag


async def update(uow: UnitOfWork, actor: User, tag_id: str, data: TagUpdate) -> Tag:
    tag = await _get(uow, actor, tag_id)
    changes = data.model_dump(exclude_unset=True)
    name = changes.get("name")
    if name and name != tag.name:
        other = await repo.get_by_name(uow.session, name)
        if other is not None and other.id != tag.id:
            raise _name_taken()
        tag.name = name
    if "color" in changes:
        tag.color = changes["color"].lower() if changes["color"] else None
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # a racing rename to the same name
        raise _name_taken() from exc
    return tag


async def delete(uow: UnitOfWork, actor: User, tag_id: str) -> None:
    """Removes the tag from every chat too (no chat event: nobody changed those chats)."""
    await repo.delete_tag(uow.session, await _get(uow, actor, tag_id))


async def check_ids(uow: UnitOfWork, tag_ids: Sequence[str]) -> list[str]:
    """The tag ids of a request body, de-duplicated in order; an unknown one is a 422."""
    wanted = list(dict.fromkeys(tag_ids))
    found = {t.id for t in await repo.get_many(uow.session, wanted)}
    missing = [t for t in wanted if t not in found]
    if missing:
        raise Invalid(f"Unknown tags: {', '.join(missing[:5])}", code="unknown_tag")
    return wanted


async def tag_ids_of(uow: UnitOfWork, chat_id: str) -> list[str]:
    return await repo.tag_ids_of(uow.session, chat_id)


async def set_chat_tags(uow: UnitOfWork, chat_id: str, tag_ids: Sequence[str]) -> None:
    await repo.set_chat_tags(uow.session, chat_id, tag_ids)


async def tags_of_chats(
    uow: UnitOfWork, chat_ids: Sequence[str] | Select[str]
) -> dict[str, list[dict[str, Any]]]:
    found = await repo.tags_of_chats(uow.session, chat_ids)
    return {chat_id: [ref(t) for t in tags] for chat_id, tags in found.items()}
