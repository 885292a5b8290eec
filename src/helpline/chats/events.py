"""The event envelope of the contract, and what each audience may see of it."""

from __future__ import annotations

from typing import Any

from helpline.bus.messages import EventPosted
from helpline.chats.models import ChatEvent
from helpline.kit.actors import actor_ref
from helpline.kit.clock import iso

# Types whose data holds fields only agents may read.
_AGENT_ONLY_FIELDS: dict[str, tuple[str, ...]] = {
    "chat.moved": ("note",),
    "chat.transferred": ("note",),
}


def envelope(ev: ChatEvent) -> dict[str, Any]:
    return {
        "chat_id": ev.chat_id,
        "seq": ev.seq,
        "type": ev.type,
        "at": iso(ev.at),
        "actor": actor_ref(ev),
        "data": ev.data,
    }


def customer_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data without the fields only agents may read."""
    hidden = _AGENT_ONLY_FIELDS.get(type_)
    return {k: v for k, v in data.items() if k not in hidden} if hidden else data


def for_customer(env: dict[str, Any], internal: bool) -> dict[str, Any] | None:
    """The event as a customer may see it, or None when it is internal."""
    if internal:
        return None
    if env["type"] in _AGENT_ONLY_FIELDS:
        env = {**env, "data": customer_data(env["type"], env["data"])}
    return env


def bus_message(ev: ChatEvent) -> EventPosted:
    return EventPosted(envelope(ev), ev.internal)
