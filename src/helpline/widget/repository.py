from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.widget.models import WidgetSite


async def origins(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(WidgetSite.origin).order_by(WidgetSite.origin))
    return list(rows.scalars())


async def replace(session: AsyncSession, origins: list[str]) -> None:
    await session.execute(delete(WidgetSite))
    session.add_all(WidgetSite(origin=o) for o in origins)
    await session.flush()
