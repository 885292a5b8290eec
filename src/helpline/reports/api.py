from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BeforeValidator

from helpline.accounts.deps import CurrentUser
from helpline.deps import Uow
from helpline.reports import export, service
from helpline.reports.schemas import ExportTable, ReportSummary

router = APIRouter(tags=["reports"])

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_only(value: object) -> object:
    # Pydantic would also take "2026-03-10T00:00:00Z" as a date; the contract says YYYY-MM-DD.
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("expected a UTC day as YYYY-MM-DD")
    return value


# Room at both ends of the calendar for the default `from` (29 days back) and the range's end
# (the day after `to`); nothing Helpline records is older than the Unix epoch.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 30)
Day = Annotated[date, Ge(FIRST_DAY), Le(LAST_DAY)]

From = Annotated[
    Day | None,
    BeforeValidator(_day_only),
    Query(alias="from", description="First UTC day, YYYY-MM-DD (default: 29 days before `to`)."),
]
To = Annotated[
    Day | None,
    BeforeValidator(_day_only),
    Query(description="Last UTC day, included (default: today)."),
]
QueueFilter = Annotated[str | None, Query(max_length=64, description="Only this queue.")]


async def _summary(
    uow: Uow, user: CurrentUser, start: date | None, end: date | None, queue_id: str | None
) -> dict[str, Any]:
    return await service.summary(uow, user, start=start, end=end, queue_id=queue_id)


@router.get(
    "/reports/summary",
    response_model=ReportSummary,
    response_model_by_alias=True,
    summary="Report over a range of at most 366 UTC days (supervisors and admins)",
)
async def summary(
    user: CurrentUser,
    uow: Uow,
    start: From = None,
    to: To = None,
    queue_id: QueueFilter = None,
) -> ReportSummary:
    return ReportSummary.model_validate(await _summary(uow, user, start, to, queue_id))


@router.get(
    "/reports/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row."}},
    summary="The table behind one report chart, as a CSV download",
)
async def export_csv(
    user: CurrentUser,
    uow: Uow,
    table: Annotated[ExportTable, Query()] = ExportTable.daily,
    start: From = None,
    to: To = None,
    queue_id: QueueFilter = None,
) -> Response:
    report = await _summary(uow, user, start, to, queue_id)
    return Response(
        export.to_csv(report, table),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(report, table)}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
