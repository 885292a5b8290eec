from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from helpline.accounts.deps import CurrentUser
from helpline.deps import Uow
from helpline.kit.params import BoundedInt, Day
from helpline.search import service
from helpline.search.query import CURSOR_PATTERN, Filters
from helpline.search.schemas import SearchItem, SearchList, SearchStatus

router = APIRouter(tags=["search"])

Id = Annotated[str | None, Query(max_length=64)]
From = Annotated[Day | None, Query(alias="from", description="First UTC day, YYYY-MM-DD.")]
To = Annotated[Day | None, Query(description="Last UTC day, included.")]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@router.get(
    "/search",
    response_model=SearchList,
    summary="Words in messages, notes, subjects, customers and requests the caller may see",
)
async def search(
    user: CurrentUser,
    uow: Uow,
    q: Annotated[
        str,
        Query(
            max_length=500,
            description="Words that must all match, case-insensitive; a trailing * matches a "
            "prefix. Operators and punctuation are not syntax.",
        ),
    ],
    queue_id: Id = None,
    agent_id: Id = None,
    status: Annotated[SearchStatus | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=64, description="Chats with this tag.")] = None,
    start: From = None,
    to: To = None,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=100)] = 20,
) -> SearchList:
    filters = Filters(
        queue_id=queue_id,
        agent_id=agent_id,
        status=None if status is None else str(status.value),
        tag_id=tag,
        start=None if start is None else _day_start(start),
        end=None if to is None else _day_start(to + timedelta(days=1)),
    )
    page = await service.search(uow, user, q=q, filters=filters, cursor=cursor, limit=limit)
    return SearchList(
        items=[SearchItem.model_validate(i, from_attributes=True) for i in page.items],
        next=page.next,
    )
