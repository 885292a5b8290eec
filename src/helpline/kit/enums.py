from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    customer = "customer"
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.customer

    @property
    def sees_all(self) -> bool:
        return self in (Role.supervisor, Role.admin)


class Availability(StrEnum):
    available = "available"
    away = "away"
    offline = "offline"


class ChatStatus(StrEnum):
    waiting = "waiting"
    in_progress = "in_progress"
    solved = "solved"
    cancelled = "cancelled"
    expired = "expired"

    @property
    def is_open(self) -> bool:
        return self in (ChatStatus.waiting, ChatStatus.in_progress)


class RoutingMode(StrEnum):
    broadcast = "broadcast"
    assign = "assign"


class Priority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class RequestStatus(StrEnum):
    new = "new"
    open = "open"
    in_progress = "in_progress"
    on_hold = "on_hold"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"
