"""Service-level targets of a queue and the due times they give: pure, no IO.

Chats: `{first_response_s}`; requests: `{urgent|high|normal|low: {response_s, resolve_s}}`
(the contract's names; requests carry part 1's priorities, `critical` and `medium` being
`urgent` and `normal`). Times count only while the queue is open (`hours`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from helpline.accounts.schemas import Strict
from helpline.queues.hours import add_business_seconds

# At most 30 days of opening time; 0 or less is a 422.
SlaSeconds = Annotated[int, Field(gt=0, le=30 * 24 * 3600)]
WARN_SHARE = 0.8  # staff are warned when 80 % of the time is used

# Part 1's request priority -> the key of `request_sla`.
PRIORITY_KEY = {"critical": "urgent", "high": "high", "medium": "normal", "low": "low"}


class ChatSla(Strict):
    first_response_s: SlaSeconds


class PrioritySla(Strict):
    response_s: SlaSeconds | None = None
    resolve_s: SlaSeconds | None = None


class RequestSla(Strict):
    urgent: PrioritySla | None = None
    high: PrioritySla | None = None
    normal: PrioritySla | None = None
    low: PrioritySla | None = None


@dataclass(frozen=True)
class Due:
    warn_at: datetime | None
    due_at: datetime | None


def _due(hours: dict[str, Any] | None, start: datetime, seconds: int | None) -> Due:
    if not seconds:
        return Due(None, None)
    return Due(
        add_business_seconds(hours, start, seconds * WARN_SHARE),
        add_business_seconds(hours, start, seconds),
    )


def chat_due(sla: dict[str, Any] | None, hours: dict[str, Any] | None, start: datetime) -> Due:
    """When a chat started (or requeued) at `start` must have its first agent message."""
    return _due(hours, start, (sla or {}).get("first_response_s"))


def request_targets(request_sla: dict[str, Any] | None, priority: str) -> dict[str, Any]:
    return ((request_sla or {}).get(PRIORITY_KEY.get(priority, priority))) or {}


def request_due(
    request_sla: dict[str, Any] | None,
    hours: dict[str, Any] | None,
    priority: str,
    start: datetime,
) -> tuple[Due, Due]:
    """(response, resolution) warning and due times of a request of `priority` created at
    `start`."""
    targets = request_targets(request_sla, priority)
    return (
        _due(hours, start, targets.get("response_s")),
        _due(hours, start, targets.get("resolve_s")),
    )
