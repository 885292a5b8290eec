"""The reports' API shapes. Durations are seconds (one decimal), null when there is no data."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ExportTable(StrEnum):
    daily = "daily"
    queues = "queues"
    agents = "agents"
    ratings = "ratings"
    request_sla = "request_sla"


class Totals(BaseModel):
    chats: int = Field(description="Chats started in the range.")
    solved: int
    cancelled: int
    expired: int
    open: int = Field(description="Still waiting or in progress.")
    requests_raised: int = Field(description="Service requests raised from chats in the range.")


class Spread(BaseModel):
    count: int
    median_s: float | None
    p90_s: float | None


class RatingBucket(BaseModel):
    score: int
    count: int


class Ratings(BaseModel):
    count: int
    average: float | None
    distribution: list[RatingBucket] = Field(description="Scores 1 to 5, always five entries.")


class SlaShare(BaseModel):
    met: int = Field(description="Chats answered by their first-response due time.")
    missed: int = Field(description="Chats breached or answered after the due time.")
    share: float | None = Field(description="met / (met + missed), 0 to 1; null if none.")


class _SlaColumns(BaseModel):
    sla_met: int = 0
    sla_missed: int = 0
    sla_met_share: float | None = Field(
        default=None, description="First-response target met / decided, 0 to 1."
    )


class _RequestSlaColumns(BaseModel):
    request_response_met: int = 0
    request_response_missed: int = 0
    request_response_met_share: float | None = Field(
        default=None, description="Requests' response target met / decided, 0 to 1."
    )
    request_resolution_met: int = 0
    request_resolution_missed: int = 0
    request_resolution_met_share: float | None = Field(
        default=None, description="Requests' resolution target met / decided, 0 to 1."
    )


class RequestSlaShares(BaseModel):
    response: SlaShare = Field(
        description="Met: first public staff answer (or resolved) by the response due time."
    )
    resolution: SlaShare = Field(description="Met: resolved by the resolution due time.")


class PrioritySlaShares(RequestSlaShares):
    priority: str = Field(description="The `request_sla` key: urgent, high, normal or low.")


class RequestSla(RequestSlaShares):
    priorities: list[PrioritySlaShares] = Field(
        description="urgent, high, normal, low: always four entries."
    )


class _Row(Totals):
    wait_median_s: float | None
    wait_p90_s: float | None
    handle_median_s: float | None
    handle_p90_s: float | None
    ratings: int
    rating_avg: float | None


class DayRow(_Row):
    date: str = Field(description="UTC day, YYYY-MM-DD.")
    by_queue: dict[str, int] = Field(description="Chats started that day, per queue id.")


class QueueRow(_Row, _SlaColumns, _RequestSlaColumns):
    id: str
    name: str


class AgentRow(_SlaColumns, _RequestSlaColumns):
    id: str
    name: str
    chats: int = Field(description="Chats this agent holds or last held.")
    solved: int
    handle_median_s: float | None
    handle_p90_s: float | None
    ratings: int
    rating_avg: float | None


class ReportSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="First UTC day, YYYY-MM-DD.")
    to: str = Field(description="Last UTC day, included.")
    days: int
    queue_id: str | None
    tag_id: str | None = None
    totals: Totals
    sla: SlaShare | None = Field(
        default=None, description="First-response service level of the range's chats."
    )
    request_sla: RequestSla | None = Field(
        default=None,
        description="Service levels of the requests created in the range (their team's queue).",
    )
    waiting_time: Spread = Field(description="From entering the queue to being accepted.")
    handling_time: Spread = Field(description="From accepted to closed.")
    ratings: Ratings
    daily: list[DayRow] = Field(description="Every day of the range, oldest first.")
    queues: list[QueueRow]
    agents: list[AgentRow] = Field(description="Most chats first.")
