"""The chat's transition table: pure, no IO. Everything else derives from it.

Each action names the statuses it may start from, the status it leads to (None: unchanged),
the event it appends, and who may do it from which statuses. The services take their checks
and target statuses from here, the message writer's SQL is checked against it, the hub and
the pages (through `as_json`, in their boot data, read by `chat-state.js`) map events to
statuses with `EVENT_STATUS`, and `reduce` is the reference for what an event does to a chat's
state (the state-equals-replay tests hold the services to it).

The table says who may act by their relation to the chat; the services add what the table
cannot know (availability, capacity, assign-mode offers, "not rated yet").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from helpline.kit.enums import ChatStatus

W, P = ChatStatus.waiting, ChatStatus.in_progress
S, C, E = ChatStatus.solved, ChatStatus.cancelled, ChatStatus.expired
FINAL = frozenset({S, C, E})
OPEN = frozenset({W, P})
ANY = frozenset(ChatStatus)


class Action(StrEnum):
    start = "start"
    accept = "accept"
    move = "move"
    solve = "solve"
    cancel = "cancel"
    leave = "leave"
    expire = "expire"
    warn = "warn"
    raise_request = "raise_request"
    customer_message = "customer_message"
    agent_message = "agent_message"
    note = "note"
    rate = "rate"
    assign = "assign"
    transfer = "transfer"
    reassign = "reassign"  # a supervisor's assign of a chat already in progress
    requeue = "requeue"
    join_agent = "join"
    part_agent = "part"
    tag = "tag"
    auto_reply = "auto_reply"  # the queue's automatic message to a chat still waiting
    sla_breach = "sla_breach"  # the first-response target passed (an internal event)


class Relation(StrEnum):
    """How the one acting stands to the chat."""

    customer = "customer"  # the chat's customer
    owner = "owner"  # the agent the chat is with
    helper = "helper"  # an agent who joined to help
    member = "member"  # other staff of the chat's queue
    supervisor = "supervisor"  # supervisors and admins
    system = "system"  # timers


@dataclass(frozen=True)
class Transition:
    sources: frozenset[ChatStatus]
    to: ChatStatus | None
    event: str | None
    who: Mapping[Relation, frozenset[ChatStatus]]


def _t(
    sources: frozenset[ChatStatus],
    to: ChatStatus | None,
    event: str | None,
    *who: Relation,
    **narrower: frozenset[ChatStatus],
) -> Transition:
    """Each relation in `who` may act from every source status, unless `narrower` names a
    smaller set for it."""
    rights = dict.fromkeys(who, sources)
    for name, statuses in narrower.items():
        assert statuses <= sources, (name, statuses)
        rights[Relation(name)] = statuses
    return Transition(sources, to, event, rights)


R = Relation
STAFF = (R.owner, R.helper, R.member, R.supervisor)

TABLE: dict[Action, Transition] = {
    Action.start: _t(frozenset(), W, "chat.started", R.customer),
    Action.accept: _t(frozenset({W}), P, "chat.accepted", R.member, R.supervisor),
    Action.assign: _t(frozenset({W}), P, "chat.accepted", R.supervisor),
    Action.transfer: _t(frozenset({P}), P, "chat.transferred", R.owner, R.supervisor),
    Action.reassign: _t(frozenset({P}), P, "chat.transferred", R.supervisor),
    Action.requeue: _t(frozenset({P}), W, "chat.requeued", R.system),
    Action.move: _t(OPEN, W, "chat.moved", R.owner, R.supervisor),
    Action.solve: _t(frozenset({P}), S, "chat.solved", R.owner, R.supervisor),
    Action.cancel: _t(OPEN, C, "chat.cancelled", R.owner, R.supervisor, member=frozenset({W})),
    Action.leave: _t(OPEN, C, "chat.cancelled", R.customer),
    Action.expire: _t(OPEN, E, "chat.expired", R.system),
    Action.warn: _t(frozenset({P}), None, "chat.inactivity_warning", R.system),
    Action.auto_reply: _t(frozenset({W}), None, "message.posted", R.system),
    Action.raise_request: _t(frozenset({P, S, C}), None, "request.raised", R.owner, R.supervisor),
    Action.customer_message: _t(OPEN, None, "message.posted", R.customer),
    Action.agent_message: _t(frozenset({P}), None, "message.posted", R.owner, R.helper),
    Action.note: _t(ANY, None, "note.added", *STAFF),
    Action.rate: _t(FINAL, None, "chat.rated", R.customer),
    Action.join_agent: _t(frozenset({P}), None, "chat.joined", R.member, R.supervisor),
    Action.part_agent: _t(frozenset({P}), None, "chat.parted", R.helper),
    Action.tag: _t(ANY, None, "chat.tagged", R.owner, R.helper, R.supervisor),
    Action.sla_breach: _t(OPEN, None, "chat.sla_breached", R.system),
}


def _event_status() -> dict[str, ChatStatus]:
    out: dict[str, ChatStatus] = {}
    for action, t in TABLE.items():
        if t.to is None or t.event is None:
            continue
        assert out.get(t.event, t.to) is t.to, f"{t.event} leads to two statuses ({action})"
        out[t.event] = t.to
    return out


# Event type → the status a chat is in right after it. Events not listed leave it unchanged.
EVENT_STATUS: dict[str, ChatStatus] = _event_status()


def allowed_from(action: Action) -> frozenset[ChatStatus]:
    return TABLE[action].sources


def target(action: Action, current: ChatStatus) -> ChatStatus:
    """The status after `action`, or raise ValueError when it is not allowed from `current`."""
    t = TABLE[action]
    if current not in t.sources:
        raise ValueError(f"{action} is not allowed from {current}")
    return t.to if t.to is not None else current


def can(action: Action, current: ChatStatus) -> bool:
    return current in TABLE[action].sources


def may(action: Action, relations: frozenset[Relation] | set[Relation], current: str) -> bool:
    """Whether someone standing in any of `relations` to the chat may do `action` now."""
    who = TABLE[action].who
    return any(ChatStatus(current) in who.get(r, frozenset()) for r in relations)


def status_after(event_type: str, current: ChatStatus) -> ChatStatus:
    return EVENT_STATUS.get(event_type, current)


@dataclass(frozen=True)
class ChatState:
    """What the events of a chat say about it; compared with the row after every action."""

    status: ChatStatus
    queue_id: str
    agent_id: str | None = None
    helper_ids: frozenset[str] = field(default_factory=frozenset)
    rating_score: int | None = None
    last_seq: int = 0


def reduce(state: ChatState | None, event: Mapping[str, Any]) -> ChatState:
    """The state after one event envelope (the contract's shape). `state` is None before
    `chat.started`. The pages' `chat-state.js` implements the same function."""
    kind: str = event["type"]
    data: Mapping[str, Any] = event.get("data") or {}
    if state is None:
        if kind != "chat.started":
            raise ValueError(f"a chat starts with chat.started, not {kind}")
        return ChatState(status=W, queue_id=data["queue_id"], last_seq=event["seq"])
    status = status_after(kind, state.status)
    changes: dict[str, Any] = {"status": status, "last_seq": event["seq"]}
    if kind == "chat.accepted":
        changes["agent_id"] = data["agent"]["id"]
    elif kind == "chat.transferred":
        # A helper who takes the chat over is its owner from now on, no longer a helper.
        new_owner = data["to_agent"]["id"]
        changes.update(agent_id=new_owner, helper_ids=state.helper_ids - {new_owner})
    elif kind == "chat.moved":
        changes.update(queue_id=data["to_queue_id"], agent_id=None)
    elif kind == "chat.requeued":
        changes["agent_id"] = None
    elif kind == "chat.joined":
        changes["helper_ids"] = state.helper_ids | {data["agent"]["id"]}
    elif kind == "chat.parted":
        changes["helper_ids"] = state.helper_ids - {data["agent"]["id"]}
    elif kind == "chat.rated":
        changes["rating_score"] = data["score"]
    if status is not state.status and (status is W or status in FINAL):
        # Helpers leave when the chat goes back to the queue or ends.
        changes["helper_ids"] = frozenset()
    return replace(state, **changes)


def as_json() -> dict[str, Any]:
    """The table for the pages' boot data (`chat-state.js` derives states and buttons)."""
    return {
        "statuses": [s.value for s in ChatStatus],
        "open": sorted(OPEN),
        "final": sorted(FINAL),
        "actions": {
            a.value: {
                "from": sorted(t.sources),
                "to": t.to,
                "event": t.event,
                "who": {r.value: sorted(s) for r, s in t.who.items()},
            }
            for a, t in TABLE.items()
        },
        "events": dict(EVENT_STATUS),
    }
