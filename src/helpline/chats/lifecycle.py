"""The chat's transition table: pure, no IO.

Each action names the statuses it may start from and the status it leads to (None: the
status does not change). Who may act is decided by the service; this table only says when.
"""

from __future__ import annotations

from enum import StrEnum

from helpline.kit.enums import ChatStatus

W, P = ChatStatus.waiting, ChatStatus.in_progress
S, C, E = ChatStatus.solved, ChatStatus.cancelled, ChatStatus.expired
FINAL = frozenset({S, C, E})
OPEN = frozenset({W, P})


class Action(StrEnum):
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
    join_agent = "join"
    part_agent = "part"


TABLE: dict[Action, tuple[frozenset[ChatStatus], ChatStatus | None]] = {
    Action.accept: (frozenset({W}), P),
    Action.assign: (frozenset({W}), P),
    Action.move: (OPEN, W),
    Action.solve: (frozenset({P}), S),
    Action.cancel: (OPEN, C),
    Action.leave: (OPEN, C),
    Action.expire: (OPEN, E),
    Action.warn: (frozenset({P}), None),
    Action.raise_request: (frozenset({P, S, C}), None),
    Action.customer_message: (OPEN, None),
    Action.agent_message: (frozenset({P}), None),
    Action.note: (frozenset(ChatStatus), None),
    Action.rate: (FINAL, None),
    Action.join_agent: (frozenset({P}), None),
    Action.part_agent: (frozenset({P}), None),
}


def allowed_from(action: Action) -> frozenset[ChatStatus]:
    return TABLE[action][0]


def target(action: Action, current: ChatStatus) -> ChatStatus | None:
    """The status after `action`, or raise ValueError when it is not allowed from `current`."""
    sources, to = TABLE[action]
    if current not in sources:
        raise ValueError(f"{action} is not allowed from {current}")
    return to if to is not None else current


def can(action: Action, current: ChatStatus) -> bool:
    return current in TABLE[action][0]
