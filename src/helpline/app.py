"""create_app(): routers, middleware, error rendering and the lifespan."""

from __future__ import annotations

import functools
import hmac
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

from helpline import __version__, apidocs, deployment, fdtable, flows
from helpline.accounts import api as accounts_api
from helpline.accounts import devices, passwords, presence
from helpline.accounts.deps import CSRF_COOKIE, SESSION_COOKIE
from helpline.audit import api as audit_api
from helpline.boundary import UNREACHABLE, Boundary, unavailable
from helpline.bus.factory import make_bus
from helpline.chats import api as chats_api
from helpline.chats import gateway
from helpline.chats.hub import Hub
from helpline.chats.writer import MessageWriter
from helpline.config import Settings
from helpline.context import AppContext
from helpline.db import Database, WalCheckpointer
from helpline.errors import ERROR_RESPONSES, HelplineError, Invalid, NotFound, Unavailable
from helpline.gcpolicy import GcPolicy
from helpline.governance import api as governance_api
from helpline.kit.batching import Batcher
from helpline.kit.private import make_private_dir, use_private_umask
from helpline.kit.ratelimit import RateLimiter
from helpline.middleware import MIB, BodyLimitMiddleware, SecurityHeadersMiddleware, app_path
from helpline.migrate import check_current
from helpline.notify import api as notify_api
from helpline.notify.outbox import Outbox
from helpline.observability import (
    MetricsMiddleware,
    RequestIdMiddleware,
    metrics_response,
    process_exiting,
    request_id,
    request_id_of,
    set_chats_waiting,
    setup_logging,
)
from helpline.openapi import install_openapi
from helpline.queues import api as queues_api
from helpline.reports import api as reports_api
from helpline.search import api as search_api
from helpline.search import backlog
from helpline.servicedesk import api as servicedesk_api
from helpline.snippets import api as snippets_api
from helpline.storage import make_storage
from helpline.sweeper import Sweeper
from helpline.tags import api as tags_api
from helpline.turns import take_turn
from helpline.widget import api as widget_api

log = logging.getLogger("helpline")


class HelplineCSRF(CSRFMiddleware):  # type: ignore[misc]
    """Double-submit cookie check for cookie-authenticated unsafe requests, in our error format.
    A request that sends `Authorization` is authenticated by it (a page cannot forge that
    header cross-site), so it needs no token. WebSocket handshakes are left to the gateway's
    Origin check."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        # The library sets its cookie on every message of a response to a request without one,
        # minting a token each time (a key derivation, a signature, a compression attempt):
        # the body's is thrown away, since headers go with the start. Once a response.
        if message["type"] == "http.response.start":
            await super().send(message, send, scope)
        else:
            await send(message)

    def _get_error_response(self, request: Request) -> Response:
        return JSONResponse(
            {"error": {"code": "csrf_failed", "message": "Missing or wrong X-CSRF-Token header."}},
            status_code=403,
        )


WS_PATH = "/api/v1/ws"
OPENAPI_URL = "/api/v1/openapi.json"
UPLOAD_PATH = r"^/api/v1/chats/[^/]+/files$"


# The requests of a shift start's arrivals: each waits for a turn of the loop at a moment
# without message work before anything of it runs (decisions 051, 052).
_ARRIVALS = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/guest"),
        ("PUT", "/api/v1/me/status"),
    }
)


class HelplineApp(FastAPI):
    """FastAPI, except that the WebSocket endpoint is called directly, not through the
    middleware stack and router: each of their layers is a coroutine frame (some with closures)
    that an idle connection would keep for as long as it is open, ~6.7 KB in all
    (docs/performance.md). None of them acts on a WebSocket: CSRF and metrics pass it through,
    the request id is set here, and the gateway handles its own errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == scope.get("root_path", "") + WS_PATH:
            scope["app"] = self
            token = request_id.set(request_id_of(scope))
            try:
                await gateway.websocket_endpoint(scope, receive, send)
            finally:
                request_id.reset(token)
            return
        if scope["type"] == "http" and (scope["method"], app_path(scope)) in _ARRIVALS:
            # Before the middleware and routing: their share of the step waits too (052).
            await take_turn()
        await super().__call__(scope, receive, send)


def error_response(exc: HelplineError) -> JSONResponse:
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Invalid request."


async def no_nul_in_url(request: Request) -> None:  # async: no worker thread (see get_ctx)
    """A NUL character in a path or query parameter is bad input, never a database error."""
    if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"]:
        raise Invalid("The URL may not contain NUL characters.")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HelplineError)
    async def _domain(_: Request, exc: HelplineError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()[:20]
        ]
        body = {
            "error": {"code": "invalid", "message": _validation_message(exc), "details": details}
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # The framework's "error parsing the body" (JSON nested too deep, a broken form):
            # to the contract, that is a malformed body like any other.
            body = {
                "error": {"code": "invalid", "message": "The request body could not be parsed."}
            }
            return JSONResponse(body, status_code=422)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = "Not found."
        return JSONResponse(
            {"error": {"code": code, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity conflict: %s", exc.orig)
        body = {
            "error": {
                "code": "conflict",
                "message": "That clashed with a concurrent change; try again.",
            }
        }
        return JSONResponse(body, status_code=409)

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        # Routes' units of work raise Unavailable already (helpline.boundary); this catches
        # what reached the database outside one, judged by the same rule.
        mapped = unavailable(exc)
        if mapped is None:
            raise exc
        return error_response(mapped)

    for kind in UNREACHABLE:
        app.add_exception_handler(kind, _unreachable)


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route of the API, the ops endpoints and the pages, built once per process.

    Routes hold no settings (they reach them through `request.app.state.ctx`), so apps made
    in one process can share them. Including the routers costs ~0.3 s of CPU per app
    (FastAPI derives each route's dependencies and validators), which a test suite that makes
    an app per test paid over a thousand times (docs/decisions/024-test-suite-cost.md)."""
    from helpline.web import oidc, pages

    host = APIRouter()
    # Each domain's router straight into the host with the API's prefix, responses and checks,
    # not through an `/api/v1` router of its own: FastAPI matches an included router's routes
    # once to pick it and again to run it, so one level less is one scan less per request.
    for module in (
        accounts_api,
        queues_api,
        chats_api,
        servicedesk_api,
        snippets_api,
        search_api,
        reports_api,
        tags_api,
        audit_api,
        governance_api,
        widget_api,
        notify_api,
    ):
        host.include_router(
            module.router,
            prefix="/api/v1",
            responses=ERROR_RESPONSES,
            dependencies=[Depends(no_nul_in_url)],
        )
    host.include_router(ops_router())
    host.include_router(pages.router)
    host.include_router(oidc.router)
    return tuple(host.routes)


def create_app(settings: Settings | None = None, *, check_migrations: bool = True) -> FastAPI:
    settings = settings or Settings()
    setup_logging(settings.log_level, settings.log_json)
    use_private_umask()  # SQLite's files (database, -wal, -shm) are created by the driver
    make_private_dir(settings.data_dir)
    db = Database(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_s,
    )
    bus = make_bus(settings)
    hub = Hub(db)
    passwords.configure(
        workers=settings.password_hash_workers,
        queue=settings.password_hash_queue,
        priority=settings.password_hash_priority,
    )
    ctx = AppContext(
        settings=settings,
        db=db,
        bus=bus,
        boundary=Boundary(db, bus),
        storage=make_storage(settings),
        limiter=RateLimiter(settings.rate_limits_on, settings.redis_url),
        hub=hub,
        writer=MessageWriter(db, batch_wait_s=settings.message_batch_wait_ms / 1000),
    )
    # Presence of users connecting (not seen lately) or leaving their last connection: an
    # arrival's write, in a turn of its own (decision 052).
    ctx.stamps = Batcher(functools.partial(presence.stamp, ctx), before=take_turn)
    indexer: backlog.Indexer | None = None
    if db.sqlite_path:
        # Before any session connects: sessions attach the index file it creates (decision 034).
        indexer = backlog.Indexer(db, interval_s=settings.search_index_interval_s)
        db.services["search_backlog"] = indexer

    sweeper = Sweeper(ctx)
    outbox = Outbox(settings, ctx.boundary)  # e-mail and webhook deliveries

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each serving process, once: accepting connections never grows the table (057).
        fdtable.reserve()
        if check_migrations:
            await check_current(db)
            ctx.settings_drift = await deployment.differing(db, settings)
        await bus.start(hub)
        checkpointer = (
            WalCheckpointer(
                db.sqlite_path,
                limit_bytes=settings.sqlite_wal_restart_mb * 2**20,
                write_lock=lambda: db.write_lock(urgent=True),
            )
            if db.sqlite_path
            else None
        )
        if checkpointer is not None:
            checkpointer.start()
        ctx.writer.start()
        if indexer is not None:
            indexer.start()
        if settings.sweep_interval_s > 0:
            sweeper.start()
        outbox.start()
        try:
            await ctx.storage.check()
        except Unavailable:
            # Serving goes on: chats work, uploads answer 503 until the store is back.
            log.error("file storage %s is not reachable", settings.storage_url)
        # Before the first chat start needs them, and before the collector's policy freezes
        # what startup built (the compiled rules live as long as the process).
        await devices.warm()
        log.info("helpline %s ready at %s", __version__, settings.resolved_public_url)
        if settings.metrics_access == "closed":
            log.warning(
                "/metrics is off: HELPLINE_PUBLIC_URL is not a loopback address and "
                "HELPLINE_METRICS_TOKEN is unset; set the token for your scraper "
                "(or HELPLINE_METRICS_OPEN=true if only trusted networks reach this process)"
            )
        # What startup built lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk every module and mapper (~80 ms, measured); and
        # what survives a full collection later too (long-lived connections): helpline.gcpolicy.
        gc_policy = GcPolicy(
            freeze_survivors=settings.gc_freeze_survivors,
            thaw_s=settings.gc_thaw_s,
            full_every=settings.gc_full_every,
            switch_s=settings.gil_switch_ms / 1000,
            arrivals=lambda: hub.opened,
            arrival_rate=settings.gc_arrivals_per_s,
            young_limit=settings.gc_young_limit,
            departures=lambda: hub.opened - len(hub.connections),
        )
        gc_policy.install()
        app.state.gc_policy = gc_policy  # for tests and diagnostics
        try:
            yield
        finally:
            await gc_policy.close()
            await sweeper.stop()
            await ctx.background.close()
            await ctx.writer.stop()
            if indexer is not None:
                await indexer.close()
            if checkpointer is not None:
                await checkpointer.close()
            await outbox.close()
            await hub.close()
            await bus.close()
            await ctx.limiter.close()
            await ctx.storage.aclose()
            await db.dispose()
            process_exiting()

    app = HelplineApp(
        title="Helpline",
        version=__version__,
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # our own page: Swagger UI from the package, no CDN (apidocs.py)
        redoc_url=None,
    )
    install_openapi(app)
    app.state.ctx = ctx
    app.state.sweeper = sweeper
    app.state.outbox = outbox
    install_error_handlers(app)
    apidocs.install(app, OPENAPI_URL)

    # The same route objects in every app of this process (see _routes): appended, not
    # included, so what FastAPI derived from them is not derived again for each app.
    app.router.routes.extend(_routes())
    from helpline.web import oidc

    app.state.oidc = oidc.OidcClient(settings) if settings.oidc_enabled else None
    static = Path(__file__).parent / "web" / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    # JSON bodies are parsed whole, so they are capped before parsing; uploads stream to
    # storage under their own limit (HELPLINE_MAX_UPLOAD_MB).
    app.add_middleware(BodyLimitMiddleware, max_bytes=MIB, exempt=UPLOAD_PATH)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(
        HelplineCSRF,
        secret=settings.resolved_secret_key,
        sensitive_cookies={SESSION_COOKIE},
        cookie_name=CSRF_COOKIE,
        header_name="x-csrf-token",
        cookie_secure=settings.secure_cookies,
        # Sign-ins act on no session (the away link's form makes a new one): no token needed.
        exempt_urls=[
            re.compile(r"^/api/v1/auth/(login|guest|password-reset(/confirm)?)$"),
            re.compile(r"^/away$"),
        ],
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.served_over_https)
    return app


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def ops_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        ctx: AppContext = request.app.state.ctx
        access = ctx.settings.metrics_access
        if access == "closed":
            raise NotFound("Not found.")
        if access == "token" and not _bearer_matches(request, ctx.settings.metrics_token or ""):
            return JSONResponse(
                {"error": {"code": "not_authenticated", "message": "Metrics need the token."}},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        try:
            async with ctx.boundary.read() as uow:
                waiting = await flows.waiting_by_queue_name(uow)
            set_chats_waiting(waiting)
        except Unavailable:
            pass  # still serve the process's own metrics
        return metrics_response()

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        ctx: AppContext = request.app.state.ctx
        checks: dict[str, Any] = {}
        try:
            await ctx.db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["bus"] = "ok" if ctx.bus.healthy else "unavailable"
        ok = all(v == "ok" for v in checks.values())
        # Flagged, never failing readiness: during a rolling change both values serve.
        drift = ctx.settings_drift
        settings_state = "differs from the database: " + ", ".join(drift) if drift else "ok"
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks, "settings": settings_state},
            status_code=200 if ok else 503,
        )

    return router
