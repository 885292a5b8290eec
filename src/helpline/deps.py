"""The HTTP side of the request boundary: the app's context and the request's unit of work.

Routes take `Uow`: safe methods get a read unit, the others a write unit that commits once when
the route returns, then publishes (`helpline.boundary`). Who is asking lives with accounts
(`helpline.accounts.deps`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from helpline.context import AppContext
from helpline.db import UnitOfWork

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_ctx(conn: HTTPConnection) -> AppContext:
    # `async`, though it never waits: FastAPI runs a plain `def` dependency on a worker
    # thread, a round trip through the thread pool for each request (docs/performance.md).
    ctx: AppContext = conn.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_uow(request: Request, ctx: Ctx) -> AsyncIterator[UnitOfWork]:
    """Declared with scope="function", so the commit and the publish happen before the response
    is sent, and a failed commit answers 503 instead of a response that already said 200."""
    if request.method in SAFE_METHODS:
        async with ctx.boundary.read() as uow:
            uow.ip = request.client.host if request.client else None
            yield uow
        return
    async with ctx.boundary.write() as uow:
        uow.ip = request.client.host if request.client else None
        yield uow


Uow = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
