"""The actor a stored event or timeline entry names: chats and requests keep the same three
columns (id, role, name) so that an entry still says who did it after the user is gone."""

from __future__ import annotations

from typing import Protocol


class Acted(Protocol):
    @property
    def actor_id(self) -> str | None: ...
    @property
    def actor_role(self) -> str | None: ...
    @property
    def actor_name(self) -> str | None: ...


class Person(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def name(self) -> str: ...


def actor_columns(user: Person | None) -> dict[str, str | None]:
    """The three actor columns of a new row for `user` (None: the system acted)."""
    if user is None:
        return {"actor_id": None, "actor_role": None, "actor_name": None}
    return {"actor_id": user.id, "actor_role": user.role, "actor_name": user.name}


def actor_ref(row: Acted) -> dict[str, str | None] | None:
    """The contract's `actor` ({id, role, name}), or None for the system."""
    if row.actor_id is None:
        return None
    return {"id": row.actor_id, "role": row.actor_role, "name": row.actor_name}
