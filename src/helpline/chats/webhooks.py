"""Chat events for webhook endpoints: the contract's list of chat.* types, one document each.

    {"id": "<event id>", "type": "chat.accepted", "at": "…Z", "actor": {id, role, name} | null,
     "chat": {"id", "reference", "status", "queue_id", "customer_id", "agent_id", "subject"},
     "seq": 3, "data": {…the event's data…}}

`chat` is a snapshot right after the event; `data` is the event's data without the fields
only agents may read (a transfer's note): internal notes never leave in a payload. Only the
admin-managed endpoints get chat events (HELPLINE_WEBHOOK_URL keeps part 1's request events).
"""

from __future__ import annotations

from typing import Any

from helpline.chats.events import customer_data
from helpline.chats.models import Chat, ChatEvent
from helpline.db import UnitOfWork
from helpline.kit.actors import actor_ref
from helpline.kit.clock import iso
from helpline.kit.ids import new_id
from helpline.notify import service as notify


def _chat(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "reference": chat.reference,
        "status": chat.status,
        "queue_id": chat.queue_id,
        "customer_id": chat.customer_id,
        "agent_id": chat.agent_id,
        "subject": chat.subject,
    }


async def forward(uow: UnitOfWork, chat: Chat, events: list[ChatEvent]) -> None:
    """Queue each event of a forwarded type for the endpoints that want it."""
    for ev in events:
        if ev.type not in notify.CHAT_EVENTS:
            continue
        document = {
            "id": new_id(),
            "type": ev.type,
            "at": iso(ev.at),
            "actor": actor_ref(ev),
            "chat": _chat(chat),
            "seq": ev.seq,
            "data": customer_data(ev.type, ev.data),
        }
        await notify.emit_webhook(
            uow,
            event_type=ev.type,
            document=document,
            key=chat.id,
            reference=chat.reference,
            env=False,
        )
