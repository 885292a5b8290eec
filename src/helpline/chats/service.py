"""The chat session's lifecycle use cases: one function per use case.

Every change goes through `repository.advance` (one conditional UPDATE that also reserves the
events' `seq`s), appends its events in the same transaction, and announces them; the boundary
commits, then publishes. Target statuses, event types and who may act come from the
transition table (`lifecycle`), with the caller's relations to the chat from `access`.
Order of checks: visibility (404), role (403), state (409), relation (403).
Offers and routing live in `offers`, transcripts in `transcripts`, shapes in `shapes`;
use cases that span domains in `helpline.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from helpline.accounts.devices import Device
from helpline.accounts.models import User
from helpline.bus.messages import ChatAssigned, ChatTaken, ChatUpdated, ChatWithdrawn, SlaWarning
from helpline.chats import access, offers, webhooks
from helpline.chats import events as ev_mod
from helpline.chats import repository as repo
from helpline.chats.access import fresh_row, get_row
from helpline.chats.lifecycle import TABLE, Action, Relation, allowed_from, can, may, target
from helpline.chats.models import Attachment, Chat, ChatEvent
from helpline.chats.repository import ChatRow
from helpline.chats.schemas import ChatCreate
from helpline.chats.shapes import chat_dict, user_ref
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid
from helpline.kit import i18n, placeholders
from helpline.kit.actors import actor_columns
from helpline.kit.clock import iso, now
from helpline.kit.enums import Availability, ChatStatus, Role, RoutingMode
from helpline.kit.ids import reference
from helpline.kit.models import next_number
from helpline.queues import fields as queue_fields
from helpline.queues import hours as hours_mod
from helpline.queues import service as queues
from helpline.queues import sla as sla_mod
from helpline.queues.models import Queue
from helpline.tags import service as tags

CS = ChatStatus


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any]
    actor: User | None
    internal: bool = False
    client_id: str | None = None


STAFF_ONLY = "Only agents may do this."


def _require_role(user: User, action: Action, message: str = STAFF_ONLY) -> None:
    """403 before the state is looked at: nobody of this role may ever do `action`."""
    if not access.role_may(action, user.role_enum):
        raise Forbidden(message)


async def _require(
    uow: UnitOfWork, user: User, chat: Chat, action: Action, message: str
) -> frozenset[Relation]:
    """403 after the state check: the caller's relations to the chat may not do `action` now."""
    rels = await access.relations(uow, user, chat)
    if not may(action, rels, chat.status):
        raise Forbidden(message)
    return rels


async def _authorized(
    uow: UnitOfWork,
    user: User,
    chat_id: str,
    action: Action,
    message: str,
    *,
    role_message: str = STAFF_ONLY,
) -> ChatRow:
    """The chat, once the caller may do `action` to it now, checked in the documented order:
    visibility (404), role (403, `role_message`), state (409), relation (403, `message`)."""
    row = await get_row(uow, user, chat_id)
    _require_role(user, action, role_message)
    _check_state(row.chat, action)
    await _require(uow, user, row.chat, action, message)
    return row


def _state_error(chat: Chat, action: Action) -> Conflict:
    status = chat.status.replace("_", " ")
    return Conflict(
        f"This chat is {status}; it cannot be {action.replace('_', ' ')}d now."
        if action in (Action.accept, Action.move, Action.solve, Action.cancel)
        else f"Not possible while the chat is {status}.",
        code="invalid_transition",
    )


def _check_state(chat: Chat, action: Action) -> None:
    if not can(action, CS(chat.status)):
        raise _state_error(chat, action)


def _to(action: Action, chat: Chat) -> ChatStatus:
    """The status `action` leads to from the chat's status as read; 409 when not allowed."""
    _check_state(chat, action)
    return target(action, CS(chat.status))


def _event(action: Action) -> str:
    event = TABLE[action].event
    assert event is not None, action
    return event


async def _commit_events(
    uow: UnitOfWork,
    chat: Chat,
    action: Action,
    new_events: list[NewEvent],
    *,
    extra_where: Any = None,
    **values: Any,
) -> list[ChatEvent]:
    """Apply the change with its events, or raise the right 409 when the state moved on."""
    at = now()
    values.setdefault("updated_at", at)
    first = await repo.advance(
        uow.session,
        chat,
        from_statuses=allowed_from(action),
        events=len(new_events),
        extra_where=extra_where,
        **values,
    )
    if first is None:
        await repo.reload(uow.session, chat)
        if action in (Action.accept, Action.assign) and chat.status == CS.in_progress:
            raise Conflict("A colleague accepted this chat first.", code="already_accepted")
        if action in _HANDOVERS and chat.status == CS.in_progress:
            raise _handed_over()
        raise _state_error(chat, action)
    return await _append_events(uow, chat, first, at, new_events)


async def _append_events(
    uow: UnitOfWork, chat: Chat, first: int, at: datetime, new_events: list[NewEvent]
) -> list[ChatEvent]:
    """Write the events from seq `first` on (already reserved) and announce each of them."""
    rows = [
        ChatEvent(
            chat_id=chat.id,
            seq=first + i,
            type=e.type,
            at=at,
            **actor_columns(e.actor),
            data=e.data,
            client_id=e.client_id,
            internal=e.internal,
        )
        for i, e in enumerate(new_events)
    ]
    await repo.add_events(uow.session, rows)
    for row in rows:
        uow.announce(f"chat:{chat.id}", ev_mod.bus_message(row))
    await webhooks.forward(uow, chat, rows)
    return rows


async def start(
    uow: UnitOfWork,
    user: User,
    data: ChatCreate,
    *,
    user_agent: str | None = None,
    device: Device | None = None,
) -> ChatRow:
    _require_role(user, Action.start, "Only customers start chats.")
    queue = await queues.get_active(uow, data.queue_id)
    answers = queue_fields.validate_answers(queue.fields or [], data.fields)
    if not hours_mod.is_open(queue.hours, now()):
        raise Conflict(f"{queue.name} is closed now; leave a message instead.", code="queue_closed")
    existing = await repo.open_chat_of(uow.session, user.id)
    if existing is not None:
        raise Conflict(
            "You already have an open chat.", code="chat_already_open", chat_id=existing.id
        )
    text = data.message.strip()
    if not text:
        raise Invalid("The message is empty.", code="empty_message")
    number = await next_number(uow.session, "chat")
    at = now()
    chat = Chat(
        number=number,
        reference=reference("CS", number),
        customer_id=user.id,
        queue_id=queue.id,
        subject=(data.subject or text.splitlines()[0])[:200].strip(),
        status=TABLE[Action.start].to,
        last_seq=2,
        created_at=at,
        waiting_since=at,
        last_customer_at=at,
        updated_at=at,
        context=_context(data, answers, user_agent, device),
        **_sla_clock(queue, at, breached=False),
    )
    uow.session.add(chat)
    await uow.session.flush()
    started = {"queue_id": queue.id, "subject": chat.subject, "reference": chat.reference}
    first_message = {"text": text, "client_id": data.client_id}
    await _append_events(
        uow,
        chat,
        1,
        at,
        [
            NewEvent(_event(Action.start), started, user),
            NewEvent(
                _event(Action.customer_message), first_message, user, client_id=data.client_id
            ),
        ],
    )
    return await offers.route(uow, chat, queue)


def _context(
    data: ChatCreate, answers: dict[str, Any], user_agent: str | None, device: Device | None
) -> dict[str, Any]:
    """Stored once at the start: the customer cannot change it afterwards. The user agent's
    parts are stored with it, parsed once by the server's rules, not by each page."""
    page = data.context.model_dump(exclude_none=True) if data.context else {}
    page = {k: v.strip() for k, v in page.items() if v.strip()}
    agent = (user_agent or "").strip()[:2000] or None
    out: dict[str, Any] = {"fields": answers, **page}
    if agent:
        out["user_agent"] = agent
        if device is not None:
            out["device"] = device._asdict()
    return out


def _sla_clock(queue: Queue, at: datetime, *, breached: bool) -> dict[str, Any]:
    """The first-response clock from `at` (start, requeue or move) with `queue`'s target, in
    its opening hours. A chat that already missed its target keeps that outcome and is not
    warned or breached again."""
    due = sla_mod.chat_due(queue.sla, queue.hours, at)
    warn = due.warn_at if due.warn_at and (due.due_at is None or due.warn_at < due.due_at) else None
    return {
        "sla_due_at": due.due_at,
        "sla_warn_at": warn,
        "sla_next_at": None if breached else (warn or due.due_at),
        "sla_first_response_at": None,
    }


def _offer_cleared() -> dict[str, Any]:
    return {"offered_to_id": None, "offer_expires_at": None, "offered_ids": []}


async def accept(uow: UnitOfWork, user: User, chat_id: str, *, greeting: str) -> ChatRow:
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.accept)
    chat = row.chat
    if not can(Action.accept, CS(chat.status)):
        if chat.status == CS.in_progress:
            raise Conflict("A colleague accepted this chat first.", code="already_accepted")
        raise _state_error(chat, Action.accept)
    await _require(
        uow, user, chat, Action.accept, "Only the queue's agents or a supervisor can accept it."
    )
    # What the table cannot know: offers in `assign` queues, availability and capacity.
    if user.role_enum is Role.agent:
        if row.queue.routing_mode == RoutingMode.assign and chat.offered_to_id != user.id:
            raise Conflict("This chat is offered to a colleague.", code="invalid_transition")
        await _check_agent_can_take(uow, user)
    return await _take(uow, row, user, user, Action.accept, greeting=greeting)


async def assign(
    uow: UnitOfWork,
    user: User,
    chat_id: str,
    agent_id: str,
    *,
    greeting: str,
    seen_owner: str | None = None,
) -> ChatRow:
    """A waiting chat: accepted for `agent_id`. One in progress: handed over to them, like a
    transfer without a note (`seen_owner` as for `transfer`)."""
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.assign, "Only supervisors assign chats.")
    if row.chat.status == CS.in_progress:
        if seen_owner is None:  # it was waiting when asked: someone accepted it meanwhile
            raise Conflict("A colleague accepted this chat first.", code="already_accepted")
        return await _hand_over(
            uow, user, row, agent_id, None, Action.reassign, seen_owner=seen_owner
        )
    agent = await repo.lock_user(uow.session, agent_id)
    if agent is None or not agent.role_enum.is_staff or not agent.active:
        raise Invalid("Unknown agent.", code="unknown_user")
    _check_state(row.chat, Action.assign)
    await _require(uow, user, row.chat, Action.assign, "Only supervisors assign chats.")
    return await _take(uow, row, agent, user, Action.assign, greeting=greeting)


# Hand-overs of a chat in progress: the owner's or a supervisor's transfer, a supervisor's assign.
_HANDOVERS = frozenset({Action.transfer, Action.reassign})


def _handed_over() -> Conflict:
    return Conflict("Someone else handed this chat over just now.", code="conflict")


async def owner_seen(uow: UnitOfWork, user: User, chat_id: str) -> str | None:
    """The chat's owner as a hand-over request finds it when it arrives (404 when invisible),
    read before its write unit opens: see `transfer`."""
    return (await get_row(uow, user, chat_id)).chat.agent_id


async def transfer(
    uow: UnitOfWork,
    user: User,
    chat_id: str,
    agent_id: str,
    note: str | None,
    *,
    seen_owner: str | None,
) -> ChatRow:
    """Hand an in-progress chat to another agent of its queue.

    `seen_owner` is the owner when the request arrived (`owner_seen`). Of two hand-overs that
    arrive together, the one that writes second finds another owner and loses with `409
    conflict`: on PostgreSQL the conditional UPDATE decides, on SQLite (whose write units run
    one after another) this comparison does."""
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.transfer, "Only agents transfer chats.")
    return await _hand_over(uow, user, row, agent_id, note, Action.transfer, seen_owner=seen_owner)


async def _hand_over(
    uow: UnitOfWork,
    user: User,
    row: ChatRow,
    agent_id: str,
    note: str | None,
    action: Action,
    *,
    seen_owner: str | None,
) -> ChatRow:
    chat = row.chat
    _check_state(chat, action)
    if chat.agent_id != seen_owner:
        raise _handed_over()
    await _require(
        uow, user, chat, action, "Only the chat's agent or a supervisor can hand it over."
    )
    previous = row.agent
    target = await _handover_target(uow, row, agent_id)
    note = (note or "").strip() or None
    data = {"from_agent": user_ref(previous), "to_agent": user_ref(target), "note": note}
    await _commit_events(
        uow,
        chat,
        action,
        [NewEvent(_event(action), data, user)],
        extra_where=Chat.agent_id == seen_owner,
        status=_to(action, chat),
        agent_id=target.id,
    )
    # The new owner is the owner now, no longer a helper (lifecycle.reduce says the same).
    await repo.remove_helpers(uow.session, chat.id, now(), user_id=target.id)
    fresh = await fresh_row(uow, chat.id)
    uow.announce(f"user:{target.id}", ChatAssigned(chat_dict(fresh)))
    return await offers.announce_chat(uow, chat.id, ChatUpdated, row=fresh)


async def _handover_target(uow: UnitOfWork, row: ChatRow, agent_id: str) -> User:
    """The agent a chat may be handed to: active staff who see its queue (422 unknown_user),
    not its owner (422 same_agent), available (409 not_available), with a free slot (409
    at_capacity). Their row stays locked, so their load holds until commit."""
    agent = await repo.lock_user(uow.session, agent_id)
    if (
        agent is None
        or not agent.active
        or not agent.role_enum.is_staff
        or not (
            agent.role_enum.sees_all or await repo.is_member(uow.session, row.queue.id, agent.id)
        )
    ):
        raise Invalid("No such agent in this chat's queue.", code="unknown_user")
    if agent.id == row.chat.agent_id:
        raise Invalid("The chat is already with this agent.", code="same_agent")
    if agent.status != Availability.available:
        raise Conflict(f"{agent.name} is not available.", code="not_available")
    if await repo.in_progress_count(uow.session, agent.id) >= agent.max_chats:
        raise Conflict(
            f"{agent.name} already has {agent.max_chats} chats in progress.", code="at_capacity"
        )
    return agent


async def colleagues(uow: UnitOfWork, user: User, chat_id: str) -> list[dict[str, Any]]:
    """The chat queue's agents for the transfer picker: status and load, and why one cannot
    take it now (`reason`: owner, not_available, at_capacity; None when they can)."""
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.transfer, "Only agents transfer chats.")
    out = []
    for agent, load in await repo.members_with_load(uow.session, row.queue.id):
        reason = None
        if agent.id == row.chat.agent_id:
            reason = "owner"
        elif agent.status != Availability.available:
            reason = "not_available"
        elif load >= agent.max_chats:
            reason = "at_capacity"
        out.append(
            {
                "id": agent.id,
                "name": agent.name,
                "status": agent.status,
                "chats": load,
                "max_chats": agent.max_chats,
                "reason": reason,
            }
        )
    return out


async def requeue_chats_of(uow: UnitOfWork, agent: User) -> int:
    """The agent went offline: each of their chats in progress goes back to its queue, waiting
    again and offered as a new chat (`chat.requeued`). Returns how many."""
    count = 0
    for chat_id in await repo.in_progress_ids(uow.session, Chat.agent_id == agent.id):
        row = await repo.get_row(uow.session, chat_id)
        assert row is not None
        chat = row.chat
        data = {"reason": "agent_offline", "from_agent": user_ref(agent)}
        try:
            await _commit_events(
                uow,
                chat,
                Action.requeue,
                [NewEvent(_event(Action.requeue), data, None)],
                extra_where=Chat.agent_id == agent.id,
                status=_to(Action.requeue, chat),
                agent_id=None,
                waiting_since=now(),
                accepted_at=None,
                warned_at=None,
                **_offer_cleared(),
                **_sla_clock(row.queue, now(), breached=chat.sla_breached),
            )
        except Conflict:  # solved or handed over meanwhile: nothing to hand back
            continue
        await repo.remove_helpers(uow.session, chat.id, now())
        await offers.route(uow, chat, row.queue)
        count += 1
    return count


async def _check_agent_can_take(uow: UnitOfWork, agent: User) -> None:
    locked = await repo.lock_user(uow.session, agent.id)
    assert locked is not None
    if locked.status != Availability.available:
        raise Conflict("Set yourself available to accept chats.", code="not_available")
    if await repo.in_progress_count(uow.session, agent.id) >= locked.max_chats:
        raise Conflict(
            f"You already have {locked.max_chats} chats in progress.", code="at_capacity"
        )


async def _take(
    uow: UnitOfWork, row: ChatRow, agent: User, actor: User, action: Action, *, greeting: str
) -> ChatRow:
    chat = row.chat
    at = now()
    offered_to = chat.offered_to_id
    events = [NewEvent(_event(action), {"agent": user_ref(agent)}, actor)]
    if greeting == placeholders.DEFAULT_GREETING:  # ours, not the operator's: in their language
        greeting = i18n.gettext(row.customer.locale or i18n.SOURCE, greeting)
    text = _fill(greeting, row, agent)
    if text:
        events.append(
            NewEvent(_event(Action.agent_message), {"text": text, "client_id": None}, agent)
        )
    await _commit_events(
        uow,
        chat,
        action,
        events,
        status=_to(action, chat),
        agent_id=agent.id,
        accepted_at=at,
        last_customer_at=at,
        warned_at=None,
        **_offer_cleared(),
    )
    agent.last_accept_at = at
    if offered_to and offered_to != agent.id:
        uow.announce(f"user:{offered_to}", ChatWithdrawn(chat.id))
    return await offers.announce_chat(uow, chat.id, partial(ChatTaken, agent=user_ref(agent)))


def _fill(template: str, row: ChatRow, agent: User | None) -> str:
    return placeholders.fill(
        template,
        {
            "{customer.name}": row.customer.name,
            "{agent.name}": agent.name if agent else "",
            "{chat.reference}": row.chat.reference,
            "{queue.name}": row.queue.name,
        },
    )


async def move(
    uow: UnitOfWork, user: User, chat_id: str, queue_id: str, note: str | None
) -> ChatRow:
    row = await _authorized(
        uow, user, chat_id, Action.move, "Only the chat's agent or a supervisor can move it."
    )
    chat = row.chat
    target = await queues.get_active(uow, queue_id)
    if target.id == chat.queue_id:
        raise Invalid("The chat is already in that queue.", code="same_queue")
    from_queue = chat.queue_id
    was_waiting = chat.status == CS.waiting
    note = (note or "").strip() or None
    await _commit_events(
        uow,
        chat,
        Action.move,
        [
            NewEvent(
                _event(Action.move),
                {"from_queue_id": from_queue, "to_queue_id": target.id, "note": note},
                user,
            )
        ],
        status=_to(Action.move, chat),
        queue_id=target.id,
        agent_id=None,
        waiting_since=now(),
        accepted_at=None,
        warned_at=None,
        **_offer_cleared(),
        **_sla_clock(target, now(), breached=chat.sla_breached),
    )
    await repo.remove_helpers(uow.session, chat.id, now())
    # The old queue's agents see it leave (withdrawn only if it was on offer there); the new
    # queue's agents are offered it, as the new queue's routing mode says.
    left = chat_dict(await fresh_row(uow, chat.id))
    if was_waiting:
        uow.announce(f"queue:{from_queue}", ChatWithdrawn(chat.id))
    uow.announce(f"queue:{from_queue}", ChatUpdated(left))
    return await offers.route(uow, chat, target)


async def solve(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    row = await _authorized(
        uow, user, chat_id, Action.solve, "Only the chat's agent or a supervisor can solve it."
    )
    return await _close(uow, row, user, Action.solve, {})


async def cancel(uow: UnitOfWork, user: User, chat_id: str, reason: str | None) -> ChatRow:
    row = await _authorized(
        uow, user, chat_id, Action.cancel, "Only the chat's agent or a supervisor can cancel it."
    )
    data = {"reason": (reason or "").strip() or None, "by": "agent"}
    return await _close(uow, row, user, Action.cancel, data)


async def leave(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    message = "Only the customer leaves a chat; agents cancel it."
    row = await _authorized(uow, user, chat_id, Action.leave, message, role_message=message)
    data = {"reason": "The customer left the chat.", "by": "customer"}
    return await _close(uow, row, user, Action.leave, data)


async def expire(uow: UnitOfWork, chat_id: str, reason: str, still_due: Any) -> bool:
    """System expiry (`no_agent` or `inactive`). `still_due` is re-checked in the same
    conditional UPDATE, so a chat that moved on meanwhile (accepted, a new customer message,
    another process's sweep) is left alone: False."""
    row = await repo.get_row(uow.session, chat_id)
    if row is None:
        return False
    try:
        await _close(
            uow,
            row,
            None,
            Action.expire,
            {"reason": reason},
            extra_where=still_due,
        )
    except Conflict:
        return False
    return True


async def _timer_event(
    uow: UnitOfWork, chat_id: str, action: Action, event: NewEvent, still_due: Any, **values: Any
) -> bool:
    """A timer's event on a chat that stays in its status, if `still_due` holds in the same
    conditional UPDATE (else another process fired it, or the chat moved on): True when sent."""
    row = await repo.get_row(uow.session, chat_id)
    if row is None:
        return False
    try:
        await _commit_events(uow, row.chat, action, [event], extra_where=still_due, **values)
    except Conflict:
        return False
    return True


async def warn_inactive(uow: UnitOfWork, chat_id: str, expires_in_s: int, still_due: Any) -> bool:
    """Tell a silent customer the chat will expire; once per silence (warned_at)."""
    event = NewEvent(_event(Action.warn), {"expires_in_s": expires_in_s}, None)
    return await _timer_event(uow, chat_id, Action.warn, event, still_due, warned_at=now())


# The client_id of the automatic reply: with the (chat_id, client_id) key, once per chat.
AUTO_REPLY_ID = "auto-reply"


async def auto_reply(uow: UnitOfWork, chat_id: str, text: str, still_due: Any) -> bool:
    """Post the queue's automatic reply to a chat still waiting: a `message.posted` with no
    actor (the system), once per chat (auto_replied_at), whatever happens to it later."""
    data = {"text": text, "client_id": AUTO_REPLY_ID, "automatic": True}
    event = NewEvent(_event(Action.auto_reply), data, None, client_id=AUTO_REPLY_ID)
    return await _timer_event(
        uow, chat_id, Action.auto_reply, event, still_due, auto_replied_at=now()
    )


async def warn_sla(uow: UnitOfWork, chat_id: str, next_at: datetime) -> bool:
    """80 % of the first-response time is used: staff who may see the chat get the internal
    `sla.warning` frame. Once per clock: claimed by moving `sla_next_at` on to the due time."""
    chat = await repo.claim_sla_warning(uow.session, chat_id, next_at)
    if chat is None:
        return False
    news = SlaWarning(chat.id, chat.queue_id, due_at=iso(chat.sla_due_at))
    uow.announce(f"queue:{chat.queue_id}", news)
    uow.announce("supervisors", news)
    if chat.agent_id is not None:
        uow.announce(f"user:{chat.agent_id}", news)
    return True


async def breach_sla(uow: UnitOfWork, chat_id: str, next_at: datetime) -> bool:
    """The first-response target passed without an agent message: the internal event
    `chat.sla_breached`, once per chat (the conditional UPDATE re-checks the clock read)."""
    row = await repo.get_row(uow.session, chat_id)
    if row is None or row.chat.sla_due_at is None:
        return False
    chat = row.chat
    data = {
        "due_at": iso(chat.sla_due_at),
        "first_response_s": (row.queue.sla or {}).get("first_response_s"),
        "queue_id": chat.queue_id,
    }
    try:
        await _commit_events(
            uow,
            chat,
            Action.sla_breach,
            [NewEvent(_event(Action.sla_breach), data, None, internal=True)],
            extra_where=(Chat.sla_next_at == next_at)
            & (Chat.sla_due_at == next_at)
            & repo.sla_pending(next_at),
            sla_breached=True,
            sla_next_at=None,
        )
    except Conflict:
        return False
    await offers.announce_chat(uow, chat.id, ChatUpdated)
    return True


async def _close(
    uow: UnitOfWork,
    row: ChatRow,
    actor: User | None,
    action: Action,
    data: dict[str, Any],
    extra_where: Any = None,
) -> ChatRow:
    chat = row.chat
    was_waiting = chat.status == CS.waiting
    offered_to = chat.offered_to_id
    await _commit_events(
        uow,
        chat,
        action,
        [NewEvent(_event(action), data, actor)],
        extra_where=extra_where,
        status=_to(action, chat),
        closed_at=now(),
        sla_next_at=None,
        **_offer_cleared(),
    )
    await repo.remove_helpers(uow.session, chat.id, now())
    if was_waiting:
        uow.announce(f"queue:{chat.queue_id}", ChatWithdrawn(chat.id))
    if offered_to:
        uow.announce(f"user:{offered_to}", ChatWithdrawn(chat.id))
    return await offers.announce_chat(uow, chat.id, ChatUpdated)


async def post_message(
    uow: UnitOfWork, user: User, chat_id: str, text: str, client_id: str
) -> tuple[ChatEvent, bool]:
    """Returns (event, created). Resending a `client_id` returns the first event."""
    row = await get_row(uow, user, chat_id)
    chat = row.chat
    existing = await repo.event_by_client_id(uow.session, chat.id, client_id)
    if existing is not None:
        if existing.actor_id != user.id:
            raise Conflict("This client_id was used by someone else.", code="client_id_taken")
        return existing, False
    if not text.strip():
        raise Invalid("The message is empty.", code="empty_message")
    action, values = await _message_rule(uow, user, chat)
    (event,) = await _commit_events(
        uow,
        chat,
        action,
        [
            NewEvent(
                _event(action), {"text": text, "client_id": client_id}, user, client_id=client_id
            )
        ],
        **values,
    )
    await _first_response_news(uow, chat, values)
    return event, True


async def _first_response_news(uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> None:
    """The first agent answer stopped the service-level clock: lists show it at once."""
    if "sla_first_response_at" in values:
        await offers.announce_chat(uow, chat.id, ChatUpdated)


async def _message_rule(uow: UnitOfWork, user: User, chat: Chat) -> tuple[Action, dict[str, Any]]:
    """Who may write now: the customer while the chat is open; its agent, or an agent who
    joined to help, while it is in progress."""
    if user.role_enum is Role.customer:
        _check_state(chat, Action.customer_message)
        await _require(uow, user, chat, Action.customer_message, "Only the customer writes here.")
        return Action.customer_message, {"last_customer_at": now(), "warned_at": None}
    _check_state(chat, Action.agent_message)
    await _require(
        uow,
        user,
        chat,
        Action.agent_message,
        "Only the chat's agent writes in this chat; join it to help.",
    )
    if chat.sla_first_response_at is None:
        # The first agent message (or file) stops the clock; the greeting sent on accept
        # is automatic and does not count.
        return Action.agent_message, {"sla_first_response_at": now(), "sla_next_at": None}
    return Action.agent_message, {}


async def check_can_share(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    """Checked before an upload is read, and again when it is recorded."""
    row = await get_row(uow, user, chat_id)
    await _message_rule(uow, user, row.chat)
    return row


async def share_file(
    uow: UnitOfWork, user: User, chat_id: str, attachment: Attachment
) -> ChatEvent:
    row = await check_can_share(uow, user, chat_id)
    action, values = await _message_rule(uow, user, row.chat)
    attachment.chat_id = row.chat.id
    attachment.uploader_id = user.id
    await repo.add_attachment(uow.session, attachment)
    data = {
        "attachment": {
            "id": attachment.id,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "url": f"/api/v1/files/{attachment.id}",
        }
    }
    if attachment.thumb_key:  # a checked image (chats.images)
        data["attachment"] |= {
            "thumbnail_url": f"/api/v1/files/{attachment.id}/thumbnail",
            "width": attachment.width,
            "height": attachment.height,
        }
    (event,) = await _commit_events(
        uow, row.chat, action, [NewEvent("file.shared", data, user)], **values
    )
    await _first_response_news(uow, row.chat, values)
    return event


async def add_note(uow: UnitOfWork, user: User, chat_id: str, text: str) -> ChatEvent:
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.note)
    await _require(uow, user, row.chat, Action.note, STAFF_ONLY)
    if not text.strip():
        raise Invalid("The note is empty.", code="empty_message")
    (event,) = await _commit_events(
        uow,
        row.chat,
        Action.note,
        [NewEvent(_event(Action.note), {"text": text}, user, internal=True)],
    )
    return event


async def rate(
    uow: UnitOfWork, user: User, chat_id: str, score: int, comment: str | None
) -> ChatRow:
    message = "Only the customer rates a chat."
    row = await _authorized(uow, user, chat_id, Action.rate, message, role_message=message)
    chat = row.chat
    if chat.rating_score is not None:
        raise Conflict("You have rated this chat already.", code="invalid_transition")
    comment = (comment or "").strip() or None
    await _commit_events(
        uow,
        chat,
        Action.rate,
        [NewEvent(_event(Action.rate), {"score": score, "comment": comment}, user)],
        extra_where=Chat.rating_score.is_(None),
        rating_score=score,
        rating_comment=comment,
    )
    return await fresh_row(uow, chat.id)


async def check_raise_request(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    """Whether the caller may raise a request from this chat now (see `flows`)."""
    message = "Only the chat's agent or a supervisor can raise a request from it."
    return await _authorized(uow, user, chat_id, Action.raise_request, message)


async def request_raised(uow: UnitOfWork, user: User, chat: Chat, request: dict[str, Any]) -> None:
    """The chat's record of a request raised from it: `request` has its id, reference,
    summary and status."""
    data = {"request": request}
    await _commit_events(
        uow, chat, Action.raise_request, [NewEvent(_event(Action.raise_request), data, user)]
    )


async def events(
    uow: UnitOfWork, user: User, chat_id: str, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Events after `after` as the caller may see them, and the cursor for the next page."""
    await get_row(uow, user, chat_id)
    rows = await repo.events_after(uow.session, chat_id, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    customer = user.role_enum is Role.customer
    out: list[dict[str, Any]] = []
    for r in rows:
        env = ev_mod.envelope(r)
        shown = ev_mod.for_customer(env, r.internal) if customer else env
        if shown is not None:
            out.append(shown)
    return out, (rows[-1].seq if more and rows else None)


async def customer_chats(
    uow: UnitOfWork, user: User, customer_id: str, *, limit: int = 100
) -> tuple[list[Chat], float | None]:
    """The customer's chats the caller may see (newest first) and their average rating."""
    return await repo.customer_chats(uow.session, user, customer_id, limit)


async def list_chats(uow: UnitOfWork, user: User, **filters: Any) -> list[ChatRow]:
    if filters.get("tag_id") and not user.role_enum.is_staff:
        return []  # tags are the team's words: a customer's filter tells them nothing
    return await repo.list_visible(uow.session, user, **filters)


async def join(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    """A second agent joins an in-progress chat to help; the owner stays the owner."""
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.join_agent)
    chat = row.chat
    _check_state(chat, Action.join_agent)
    rels = await access.relations(uow, user, chat)
    if rels & {Relation.owner, Relation.helper}:
        raise Conflict("You are already in this chat.", code="invalid_transition")
    if not may(Action.join_agent, rels, chat.status):
        raise Forbidden("Only the queue's agents or a supervisor can join it.")
    await _commit_events(
        uow,
        chat,
        Action.join_agent,
        [NewEvent(_event(Action.join_agent), {"agent": user_ref(user)}, user)],
    )
    await repo.add_helper(uow.session, chat.id, user.id, now())
    return await offers.announce_chat(uow, chat.id, ChatUpdated)


async def part(uow: UnitOfWork, user: User, chat_id: str) -> ChatRow:
    row = await get_row(uow, user, chat_id)
    _require_role(user, Action.part_agent)
    chat = row.chat
    _check_state(chat, Action.part_agent)
    # Only helpers part: for anyone else that is a state of theirs, not a right (409).
    if not may(Action.part_agent, await access.relations(uow, user, chat), chat.status):
        raise Conflict("You have not joined this chat.", code="invalid_transition")
    await _commit_events(
        uow,
        chat,
        Action.part_agent,
        [NewEvent(_event(Action.part_agent), {"agent": user_ref(user)}, user)],
    )
    await repo.remove_helpers(uow.session, chat.id, now(), user_id=user.id)
    return await offers.announce_chat(uow, chat.id, ChatUpdated)


async def set_tags(uow: UnitOfWork, user: User, chat_id: str, tag_ids: list[str]) -> ChatRow:
    """Replace the chat's tags, in any status; internal event `chat.tagged` {tag_ids} (only
    when they change). The owner, helpers, supervisors and admins may; other members not."""
    row = await _authorized(
        uow,
        user,
        chat_id,
        Action.tag,
        "Only the chat's agents or a supervisor can tag it.",
    )
    wanted = await tags.check_ids(uow, tag_ids)
    if set(wanted) != set(await tags.tag_ids_of(uow, row.chat.id)):
        await tags.set_chat_tags(uow, row.chat.id, wanted)
        await _commit_events(
            uow,
            row.chat,
            Action.tag,
            [NewEvent(_event(Action.tag), {"tag_ids": sorted(wanted)}, user, internal=True)],
        )
        return await offers.announce_chat(uow, row.chat.id, ChatUpdated)
    return await fresh_row(uow, row.chat.id)


async def helpers(uow: UnitOfWork, chat_id: str) -> list[dict[str, str] | None]:
    return [user_ref(u) for u in await repo.helpers(uow.session, chat_id)]
