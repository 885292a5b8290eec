"""What the bus carries: one frozen dataclass per kind of news.

In one process (the memory bus) the objects themselves travel; over Redis `to_dict` gives the
JSON object (its `kind` names the class) and `decode` makes the object again. The dict form is
the wire format between processes of different versions during a rolling restart, so fields
are only ever added, with defaults. The hub turns each kind into WebSocket frames
(`Hub.on_message`, one handler per class).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, TypeVar

log = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BusMessage:
    kind: ClassVar[str] = ""
    _names: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> Json:
        out: Json = {"kind": self.kind}
        for name in self._names:
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, data: Json) -> Self:
        return cls(**{name: data[name] for name in cls._names if name in data})


KINDS: dict[str, type[BusMessage]] = {}
_M = TypeVar("_M", bound=type[BusMessage])


def _kind(cls: _M) -> _M:
    KINDS[cls.kind] = cls
    cls._names = tuple(f.name for f in fields(cls))
    return cls


def decode(data: Json) -> BusMessage | None:
    """The message a dict from the wire stands for; None (logged) for an unknown kind or a
    malformed one, so one bad message never stops the listener."""
    cls = KINDS.get(str(data.get("kind")))
    if cls is None:
        log.warning("bus: dropped a message of unknown kind", extra={"kind": data.get("kind")})
        return None
    try:
        return cls.from_dict(data)
    except TypeError:
        log.warning("bus: dropped a malformed message", extra={"kind": cls.kind})
        return None


# --- chat:{id} --------------------------------------------------------------------------------


@_kind
@dataclass(frozen=True, slots=True)
class EventPosted(BusMessage):
    """An event of the chat's log committed; `internal` ones never reach customers."""

    kind: ClassVar[str] = "event"
    event: Json
    internal: bool = False


@_kind
@dataclass(frozen=True, slots=True)
class Typing(BusMessage):
    """Someone is (or stopped) typing in the chat; `user` is {id, name, role}."""

    kind: ClassVar[str] = "typing"
    chat_id: str
    active: bool
    user: Json


@_kind
@dataclass(frozen=True, slots=True)
class ReadMoved(BusMessage):
    """A participant read the chat up to `seq`; `role` is their side ("customer" or "agent").
    On the chat's topic the other side hears it; on the reader's user topic their own other
    connections do (the console's unread counts follow)."""

    kind: ClassVar[str] = "read"
    chat_id: str
    role: str
    seq: int
    user_id: str


# --- queue:{id}, supervisors, user:{id} -------------------------------------------------------


@_kind
@dataclass(frozen=True, slots=True)
class ChatOffered(BusMessage):
    """On a queue: a chat waits there (broadcast mode: offered to the eligible, listed for the
    rest). On a user: offered to that agent alone (assign mode)."""

    kind: ClassVar[str] = "offered"
    chat: Json


@_kind
@dataclass(frozen=True, slots=True)
class ChatQueued(BusMessage):
    """A chat waits in an assign-mode queue (its offer goes to one agent by user topic)."""

    kind: ClassVar[str] = "queued"
    chat: Json


@_kind
@dataclass(frozen=True, slots=True)
class ChatTaken(BusMessage):
    """An agent accepted the chat; `agent` is {id, name}."""

    kind: ClassVar[str] = "taken"
    chat: Json
    agent: Json | None = None


@_kind
@dataclass(frozen=True, slots=True)
class ChatUpdated(BusMessage):
    """The chat's status, queue or agent changed: lists show it anew."""

    kind: ClassVar[str] = "updated"
    chat: Json


@_kind
@dataclass(frozen=True, slots=True)
class ChatAssigned(BusMessage):
    """On a user: a chat in progress was handed to this agent (transfer or assign); their
    connections get it with its whole history."""

    kind: ClassVar[str] = "assigned"
    chat: Json


@_kind
@dataclass(frozen=True, slots=True)
class ChatWithdrawn(BusMessage):
    """The chat is no longer on offer (to the queue, or to the one agent of the user topic)."""

    kind: ClassVar[str] = "withdrawn"
    chat_id: str


@_kind
@dataclass(frozen=True, slots=True)
class SlaWarning(BusMessage):
    """80 % of the chat's first-response time is used. Sent on its queue (members),
    `supervisors`, and the user topic of its agent when that agent is not a member; each
    connection takes it from one topic only (Hub._on_sla_warning)."""

    kind: ClassVar[str] = "sla.warning"
    chat_id: str
    queue_id: str
    due_at: str | None = None


@_kind
@dataclass(frozen=True, slots=True)
class RequestSlaWarning(BusMessage):
    """80 % of a request's response or resolution time is used. Sent like `SlaWarning`: on its
    team's queue (members), `supervisors`, and the user topic of its assignee when not a
    member; each connection takes it from one topic only (Hub._on_request_sla_warning)."""

    kind: ClassVar[str] = "request.sla.warning"
    request_id: str
    reference: str
    team_id: str
    assignee_id: str | None
    target: str  # "response" | "resolution"
    due_at: str | None = None


# --- user:{id}, session:{id}, agents ----------------------------------------------------------


@_kind
@dataclass(frozen=True, slots=True)
class StatusChanged(BusMessage):
    """The user's own availability changed (their other tabs follow)."""

    kind: ClassVar[str] = "status"
    status: str


@_kind
@dataclass(frozen=True, slots=True)
class AgentStatus(BusMessage):
    """An agent's availability changed (topic `agents`: supervisors watch it)."""

    kind: ClassVar[str] = "agent.status"
    user_id: str
    status: str


@_kind
@dataclass(frozen=True, slots=True)
class CloseConnections(BusMessage):
    """Sign-out, deactivation or a new password: the topic's connections close (4401)."""

    kind: ClassVar[str] = "close"
    reason: str


@_kind
@dataclass(frozen=True, slots=True)
class AccessChanged(BusMessage):
    """The user's role or queues changed: connections drop at once what `role` and
    `queues_removed` take away, then settle from the database. `reason` is what their
    `unsubscribed` frames say (docs/protocol.md)."""

    kind: ClassVar[str] = "access"
    reason: str
    role: str | None = None
    queues_removed: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Json) -> Self:
        removed = tuple(data.get("queues_removed") or ())  # JSON has lists
        return cls(reason=data["reason"], role=data.get("role"), queues_removed=removed)
