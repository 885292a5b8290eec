from __future__ import annotations

from fastapi import APIRouter

from helpline.accounts.deps import CurrentUser
from helpline.deps import Ctx, Uow
from helpline.widget import service
from helpline.widget.schemas import WidgetIdentityInfo, WidgetSettings, WidgetSitesUpdate

router = APIRouter(tags=["widget"])


async def _settings(ctx: Ctx, uow: Uow, origins: list[str]) -> WidgetSettings:
    s = ctx.settings
    return WidgetSettings(
        origins=origins,
        env_origins=service.env_origins(s),
        identity=WidgetIdentityInfo(
            enabled=bool(s.widget_secret),
            secret=s.widget_secret,
            snippets=service.snippets(s),
        ),
    )


@router.get("/widget/settings", response_model=WidgetSettings)
async def get_widget_settings(user: CurrentUser, ctx: Ctx, uow: Uow) -> WidgetSettings:
    """Admins only: the allowed sites and the identity secret with its back-end snippets."""
    return await _settings(ctx, uow, await service.admin_origins(uow, user))


@router.put("/widget/settings", response_model=WidgetSettings)
async def put_widget_settings(
    body: WidgetSitesUpdate, user: CurrentUser, ctx: Ctx, uow: Uow
) -> WidgetSettings:
    """Replace the sites administrators allowed (the environment's stay as they are)."""
    return await _settings(ctx, uow, await service.set_origins(uow, user, body.origins))
