from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from helpline.accounts.deps import CurrentUser
from helpline.deps import Uow
from helpline.kit.params import Day
from helpline.reports import export, service
from helpline.reports.schemas import ExportTable, ReportSummary

router = APIRouter(tags=["reports"])

From = Annotated[
    Day | None,
    Query(alias="from", description="First UTC day, YYYY-MM-DD (default: 29 days before `to`)."),
]
To = Annotated[
    Day | None,
    Query(description="Last UTC day, included (default: today)."),
]
QueueFilter = Annotated[str | None, Query(max_length=64, description="Only this queue.")]
TagFilter = Annotated[
    str | None, Query(max_length=64, description="Only the chats with this tag (its id).")
]


async def _summary(
    uow: Uow,
    user: CurrentUser,
    start: date | None,
    end: date | None,
    queue_id: str | None,
    tag: str | None,
) -> dict[str, Any]:
    return await service.summary(uow, user, start=start, end=end, queue_id=queue_id, tag_id=tag)


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
    tag: TagFilter = None,
) -> ReportSummary:
    return ReportSummary.model_validate(await _summary(uow, user, start, to, queue_id, tag))


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
    tag: TagFilter = None,
) -> Response:
    report = await _summary(uow, user, start, to, queue_id, tag)
    return Response(
        export.to_csv(report, table),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(report, table)}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
