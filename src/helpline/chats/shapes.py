"""How a chat is shown: the shapes shared by HTTP answers and bus messages."""

from __future__ import annotations

from typing import Any

from helpline.accounts.models import User
from helpline.chats.repository import ChatRow, ChatView, Ref
from helpline.kit.clock import iso


def user_ref(user: User | Ref | None) -> dict[str, str] | None:
    return {"id": user.id, "name": user.name} if user is not None else None


def chat_dict(
    row: ChatRow | ChatView, *, position: int | None = None, estimate: int | None = None
) -> dict[str, Any]:
    c = row.chat
    rating = (
        {"score": c.rating_score, "comment": c.rating_comment}
        if c.rating_score is not None
        else None
    )
    out: dict[str, Any] = {
        "id": c.id,
        "reference": c.reference,
        "status": c.status,
        "queue_id": c.queue_id,
        "queue": {"id": row.queue.id, "name": row.queue.name},
        "customer": user_ref(row.customer),
        "agent": user_ref(row.agent),
        "subject": c.subject,
        "created_at": iso(c.created_at),
        "waiting_since": iso(c.waiting_since),
        "accepted_at": iso(c.accepted_at),
        "closed_at": iso(c.closed_at),
        "updated_at": iso(c.updated_at),
        "last_seq": c.last_seq,
        "rating": rating,
        "position": position,
        "estimated_wait_s": estimate,
        "context": context_dict(c.context),
        "sla": sla_dict(c),
    }
    if row.tags is not None:  # absent: not loaded, so a list keeps the chips it shows
        out["tags"] = row.tags
    return out


def sla_dict(c: Any) -> dict[str, Any] | None:
    """The first-response service level; None when the chat's queue has no target."""
    if c.sla_due_at is None and not c.sla_breached:
        return None
    return {
        "first_response_due_at": iso(c.sla_due_at),
        "first_response_at": iso(c.sla_first_response_at),
        "breached": bool(c.sla_breached),
        "warn_at": iso(c.sla_warn_at),
    }


def context_dict(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The chat's context as the contract shows it: every key present, `null` when unknown."""
    stored = stored or {}
    return {
        "fields": stored.get("fields") or {},
        "page_url": stored.get("page_url"),
        "referrer": stored.get("referrer"),
        "locale": stored.get("locale"),
        "user_agent": stored.get("user_agent"),
        "device": stored.get("device"),
    }
