"""Page routes: the self-service portal, the Agent Console and the admin pages.

Pages are rendered on the server with the signed-in user (if any) embedded as JSON in
`<script type="application/json" id="boot">`, so a page never has to ask `GET /me`, and a
signed-out page makes no request that is expected to fail. Everything after that is done by
the ES modules in `static/js/` against the public HTTP API and WebSocket protocol.

Who sees what:
- `/`: signed out → sign in or continue as a guest; customer → the portal; staff → redirected
  to `/console`.
- `/console`: signed out → staff sign-in; customer → a page pointing to the portal; staff →
  the Agent Console.
- `/console/admin`: signed out → staff sign-in; admin → the admin pages; anyone else → a
  page saying admins only.
- `/reset-password`: "Forgot password?" (ask for a link by e-mail) and, with `?token=`, the
  link's page that sets a new password.
- `/widget.js`: the "Chat with us" button other web sites embed. On a site listed in
  `HELPLINE_WIDGET_ORIGINS` it opens `/widget/chat` in an iframe panel (guest sign-in; API and
  WebSocket by bearer token; the token never leaves the frame: its own sessionStorage, or a
  partitioned cookie on `/widget` that only the panel can turn back into the token after a
  reload of the host page, decision 008; files are uploaded and downloaded with that token, a
  download saved from a blob); elsewhere it opens the portal in a small window and tells the
  site owner in the browser console.
- `/widget/chat`: that panel; framable only by the allowed origins (`frame-ancestors`).
- `/widget/allowed?origin=`: `{"allowed": bool}` for widget.js (CORS: any origin may ask).
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from helpline.accounts import scopes, twofactor
from helpline.accounts import service as accounts_service
from helpline.accounts.deps import (
    client_address,
    get_optional_user,
    set_session_cookie,
    token_from,
)
from helpline.accounts.models import User
from helpline.accounts.schemas import UserOut
from helpline.chats import away, lifecycle
from helpline.chats import transcripts as chat_transcripts
from helpline.config import Settings
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.errors import NotAuthenticated, NotFound
from helpline.kit import i18n
from helpline.kit.enums import Role
from helpline.kit.i18n import N_
from helpline.kit.linkify import linkify
from helpline.kit.origins import is_own_origin
from helpline.widget import service as widget_service

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
STAFF_ROLES = frozenset({"agent", "supervisor", "admin"})
CSRF_COOKIE = "helpline_csrf"

templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.filters["linkify"] = linkify
router = APIRouter(include_in_schema=False)

OptionalUser = Annotated[User | None, Depends(get_optional_user)]


@cache
def asset_version() -> str:
    """A short hash of the static files, appended to asset URLs so a deploy busts caches."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(STATIC_DIR)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={asset_version()}"


@cache
def import_map() -> str:
    """An import map sending every module URL to its versioned URL, so modules imported by
    other modules are cache-busted too (ES `import` specifiers cannot carry the version)."""
    modules = sorted(p.name for p in (STATIC_DIR / "js").glob("*.js"))
    imports = {f"/static/js/{name}": static_url(f"js/{name}") for name in modules}
    return json.dumps({"imports": imports}, separators=(",", ":"))


@cache
def content_security_policy(frame_ancestors: str = "'none'") -> str:
    """Pages run only our own scripts (plus the import map, by hash) and talk only to us.
    Only the widget panel may be framed, and only by the allowed origins."""
    digest = base64.b64encode(hashlib.sha256(import_map().encode()).digest()).decode()
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'sha256-{digest}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


templates.env.globals["static_url"] = static_url
templates.env.globals["import_map"] = import_map
templates.env.globals["Markup"] = Markup  # markup put into a translated sentence


# Templates translate in the locale of the page being rendered: its context's `locale`, or,
# inside macros imported without context, the one _render set while rendering (Starlette
# renders in TemplateResponse's constructor, so the variable covers the whole render).
_rendering: ContextVar[str] = ContextVar("rendering_locale", default=i18n.SOURCE)


def _context_locale(context: Context) -> str:
    return str(context.get("locale") or _rendering.get())


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.translations(_context_locale(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(_context_locale(context)).ngettext(singular, plural, n)


templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    _gettext, _ngettext, newstyle=True
)
templates.env.policies["ext.i18n.trimmed"] = True


def page_locale(request: Request, user: User | None) -> str:
    """The locale of this page, in the contract's order (helpline.kit.i18n.negotiate)."""
    settings = _settings(request)
    return i18n.negotiate(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(i18n.COOKIE),
        user=getattr(user, "locale", None),
        accept_language=request.headers.get("accept-language"),
        default=settings.default_locale,
        offered=i18n.available(settings.pseudo_locale),
    )


def _role(user: User) -> str:
    return str(getattr(user.role, "value", user.role))


def _user_json(user: User, settings: Settings) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": _role(user),
        "status": str(getattr(user.status, "value", user.status)),
        "max_chats": user.max_chats,
        "is_guest": bool(user.is_guest),
        "totp_enabled": user.totp_enabled,
        # The console opens the two-factor setup at once, as nothing else works until then.
        "totp_setup_required": twofactor.setup_due(user, settings),
    }


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.ctx.settings
    return settings


def _signin_options(request: Request) -> dict[str, Any]:
    """What the sign-in forms offer: the provider's button, and the password form to staff
    (console, admin) and to customers (portal) as HELPLINE_PASSWORD_LOGIN allows."""
    settings = _settings(request)
    return {
        "sso": settings.oidc_name if settings.oidc_enabled else None,
        "staff_password": settings.password_login_for("agent"),
        "customer_password": settings.password_login_for("customer"),
    }


def _template_response(
    request: Request, template: str, status_code: int, context: dict[str, Any]
) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _render(
    request: Request,
    template: str,
    *,
    page: str,
    user: User | None,
    status_code: int = 200,
    frame_ancestors: str = "'none'",
    **context: Any,
) -> Response:
    locale = page_locale(request, user)
    pseudo_on = _settings(request).pseudo_locale
    boot = {
        "page": page,
        "user": _user_json(user, _settings(request)) if user is not None else None,
        "csrf": request.cookies.get(CSRF_COOKIE),
        "api": "/api/v1",
        "ws": "/api/v1/ws",
        # Whether e-mail is configured: the portal offers "E-mail me the transcript" only then
        # (so it never makes a request that is bound to fail with 409 mail_not_configured).
        "mail": bool(_settings(request).smtp_url),
        # Whether going offline hands an agent's chats back (the console asks first).
        "requeue_on_offline": _settings(request).requeue_enabled,
        # The chat's transition table: chat-state.js derives states and buttons from it.
        "lifecycle": lifecycle.as_json(),
        "locale": locale,
        "languages": i18n.language_options(locale, pseudo_on),
    }
    token = _rendering.set(locale)
    try:
        response = _template_response(
            request,
            template,
            status_code,
            {
                "page": page,
                "user": user,
                "boot": boot,
                "signin": _signin_options(request),
                "locale": locale,
                "dir": i18n.direction(locale),
                "languages": boot["languages"],
                # The scripts' catalog (static/js/i18n.js reads it).
                "script_catalog": i18n.script_catalog(locale),
                **context,
            },
        )
    finally:
        _rendering.reset(token)
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language, Cookie"
    # Pages carry who is signed in: never cache them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _message(
    request: Request,
    user: User | None,
    *,
    kind: str,
    title: str,
    heading: str,
    text: str,
    sub: str = N_("Agent Console"),
    home: str = "/console",
    links: list[tuple[str, str, bool]] | None = None,
) -> Response:
    # Always 200: an error status on a page would put an error in the browser console.
    return _render(
        request,
        "message.html",
        page=kind,
        user=user,
        kind=kind,
        title=title,
        heading=heading,
        text=text,
        sub=sub,
        home=home,
        links=links or [],
    )


def render_message(
    request: Request,
    *,
    kind: str,
    title: str,
    heading: str,
    text: str,
    links: list[tuple[str, str, bool]],
    status_code: int,
    code: str | None = None,
) -> Response:
    """A signed-out message page in the sign-in pages' frame (e.g. a refused single sign-on),
    `data-testid="<kind>-page"` and `data-code` for tests."""
    return _render(
        request,
        "message.html",
        page=kind,
        user=None,
        status_code=status_code,
        kind=kind,
        code=code,
        title=title,
        heading=heading,
        text=text,
        sub=N_("Sign-in"),
        home="/",
        links=links,
    )


@router.get("/")
async def portal(request: Request, user: OptionalUser) -> Response:
    if user is not None and _role(user) in STAFF_ROLES:
        return RedirectResponse("/console", status_code=303)
    return _render(request, "portal.html", page="portal", user=user)


@router.get("/console")
async def console(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return _message(
            request,
            None,
            kind="signin",
            title=N_("Agent Console"),
            heading=N_("Agent Console"),
            text=N_("Sign in to answer chats and work on requests."),
        )
    if _role(user) not in STAFF_ROLES:
        return _message(
            request,
            user,
            kind="customer",
            title=N_("Agent Console"),
            heading=N_("This page is for the support team"),
            text=N_(
                "You're signed in as a customer. To chat with us or follow your requests, "
                "use the support portal."
            ),
            links=[("/", N_("Go to the support portal"), True)],
        )
    return _render(
        request,
        "console.html",
        page="console",
        user=user,
        token_scopes=scopes.grantable(Role(user.role)),
    )


@router.get("/console/admin")
async def admin(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return _message(
            request,
            None,
            kind="signin",
            title=N_("Administration"),
            heading=N_("Administration"),
            text=N_("Sign in with an administrator account."),
        )
    if _role(user) != "admin":
        return _message(
            request,
            user,
            kind="forbidden",
            title=N_("Administration"),
            heading=N_("Administrators only"),
            text=N_("Ask an administrator if you need users, queues or memberships changed."),
            links=[("/console", N_("Back to the console"), True)]
            if _role(user) in STAFF_ROLES
            else [("/", N_("Go to the support portal"), True)],
        )
    if twofactor.setup_due(user, _settings(request)):
        return RedirectResponse("/console", status_code=303)  # the setup dialog is there
    return _render(request, "admin.html", page="admin", user=user)


@router.get("/reset-password")
async def reset_password(request: Request, user: OptionalUser) -> Response:
    """Without a token: ask for a reset link by e-mail. With one (the link in the mail):
    choose a new password. The token is read by the page's script, never rendered."""
    return _render(request, "reset_password.html", page="reset-password", user=user)


@router.get("/widget.js")
async def widget() -> FileResponse:
    """The embeddable "Chat with us" button for other web sites (see docs/ui.md)."""
    return FileResponse(
        STATIC_DIR / "js" / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def widget_origins(request: Request) -> list[str]:
    """The web sites allowed to embed the chat panel: `HELPLINE_WIDGET_ORIGINS` and those
    admins added (only well-formed origins either way: the list goes into a CSP header)."""
    ctx = request.app.state.ctx
    async with ctx.db.read() as session:
        return await widget_service.origins(UnitOfWork(session), ctx.settings)


@router.get("/widget/allowed")
async def widget_allowed(request: Request, origin: str = "") -> JSONResponse:
    """Whether a site may embed the chat panel; widget.js asks before it builds the iframe.
    Also the launcher's words in the visitor's language (`?lang=`: the site's `data-lang` or
    its `<html lang>`, then `Accept-Language`): `label`, and `popup_label` for a site that
    opens the chat in a window."""
    allowed = origin.rstrip("/").lower() in await widget_origins(request)
    locale = page_locale(request, None)
    return JSONResponse(
        {
            "allowed": allowed,
            "label": i18n.gettext(locale, "Chat with us"),
            "popup_label": i18n.gettext(locale, "Chat with us (opens a chat window)"),
            "lang": locale,
        },
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
    )


WIDGET_COOKIE = "helpline_widget"
WIDGET_COOKIE_PATH = "/widget"


def _own_origin(request: Request) -> bool:
    """Whether the request comes from our own pages (the widget panel), not the host page or
    another site: browsers send `Origin` on every POST and DELETE and scripts cannot change it."""
    return is_own_origin(
        request.headers.get("origin"),
        public_url=_settings(request).resolved_public_url,
        scheme=request.url.scheme,
        host=request.headers.get("host"),
    )


def _widget_cookie(response: Response, token: str, *, clear: bool = False) -> None:
    # Partitioned (CHIPS): kept per host site, sent even where third-party cookies are
    # blocked, unreadable by scripts; only /widget/* gets it. Written by hand: the standard
    # library knows the attribute from Python 3.14 on.
    expiry = "; Max-Age=0" if clear else ""
    response.headers.append(
        "set-cookie",
        f"{WIDGET_COOKIE}={token}; Path={WIDGET_COOKIE_PATH}; HttpOnly; Secure; "
        f"SameSite=None; Partitioned{expiry}",
    )


async def _user_for_token(ctx: AppContext, token: str) -> User | None:
    async with ctx.db.read() as session:
        try:
            _, user = await accounts_service.authenticate(UnitOfWork(session), token, ctx.settings)
        except NotAuthenticated:
            return None
        return user


def _refused() -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "bad_origin", "message": "Only the chat panel may do this."}},
        status_code=403,
    )


@router.post("/widget/session")
async def widget_session(request: Request, user: OptionalUser) -> Response:
    """The panel, just signed in as a guest, keeps its token where only it can get it back
    after a reload of the host page (decision 008)."""
    token = token_from(request)
    if not _own_origin(request):
        return _refused()
    if user is None or token is None or request.headers.get("authorization") is None:
        raise NotAuthenticated("Sign in first.")
    response = Response(status_code=204)
    _widget_cookie(response, token)
    return response


@router.delete("/widget/session")
async def widget_forget(request: Request) -> Response:
    if not _own_origin(request):
        return _refused()
    response = Response(status_code=204)
    _widget_cookie(response, "", clear=True)
    return response


@router.post("/widget/resume")
async def widget_resume(request: Request) -> Response:
    """The panel's session kept by `POST /widget/session`, for the panel only: `{"token",
    "user"}`, or `{"token": null}` when there is none (any more). The answer carries no CORS
    header, so no other page can read it."""
    if not _own_origin(request):
        return _refused()
    token = request.cookies.get(WIDGET_COOKIE)
    user = await _user_for_token(request.app.state.ctx, token) if token else None
    response = JSONResponse(
        {"token": token, "user": UserOut.model_validate(user).model_dump(mode="json")}
        if user is not None
        else {"token": None},
        headers={"Cache-Control": "no-store"},
    )
    if token and user is None:
        _widget_cookie(response, "", clear=True)
    return response


@router.get("/widget/chat")
async def widget_chat(request: Request) -> Response:
    """The chat panel in the widget's iframe. It never uses the session cookie (none is sent
    cross-site): it signs in as a guest and keeps the bearer token in its own sessionStorage
    (decision 008: the token never leaves the frame)."""
    origins = await widget_origins(request)
    return _render(
        request,
        "widget_chat.html",
        page="widget",
        user=None,
        frame_ancestors=" ".join(origins) if origins else "'none'",
    )


@router.get("/transcript/{chat_id}")
async def transcript_page(request: Request, chat_id: str, user: OptionalUser) -> Response:
    """A readable, printable transcript (internal notes never included); same rights as the
    chat: anything the caller may not see is a plain 404 page."""
    if user is None:
        return RedirectResponse("/", status_code=303)
    ctx = request.app.state.ctx
    async with ctx.db.read() as session:
        uow = UnitOfWork(session)
        try:
            locale = page_locale(request, user)
            lines, row = await chat_transcripts.transcript_lines(uow, user, chat_id, locale)
        except NotFound:
            return _render(
                request,
                "message.html",
                page="message",
                user=user,
                status_code=404,
                kind="not-found",
                title=N_("Not found"),
                heading=N_("Transcript not found"),
                text=N_("There is no such chat, or it is not yours to read."),
                sub="",
                home="/",
                links=[("/", N_("Back"), True)],
            )
    return _render(
        request,
        "transcript.html",
        page="transcript",
        user=user,
        chat=row,
        lines=lines,
        status=chat_transcripts.status_label(str(row["status"]), locale),
    )


def _away_refused(request: Request) -> Response:
    return render_message(
        request,
        kind="away-link",
        title=N_("Link expired"),
        heading=N_("This link no longer works"),
        text=N_("It was already used, or it is more than 24 hours old. Sign in to see your chat."),
        links=[("/", N_("Go to the support portal"), True)],
        status_code=410,
        code="away_link_invalid",
    )


@router.get("/away")
async def away_link(request: Request, token: str = "") -> Response:
    """The link of an away mail: a button that spends it (POST), so a mail scanner that
    fetches links does not use it up. Used or expired: a plain page, no sign-in."""
    ctx: AppContext = request.app.state.ctx
    async with ctx.db.read() as session:
        usable = bool(token) and await away.link_usable(UnitOfWork(session), token)
    if not usable:
        return _away_refused(request)
    return _render(
        request,
        "message.html",
        page="away-link",
        user=None,
        kind="away-link",
        title=N_("Back to your chat"),
        heading=N_("Your reply is waiting"),
        text=N_("Continue to sign in and read the answer in your chat."),
        sub=N_("Support"),
        home="/",
        links=[],
        form={"action": "/away", "fields": {"token": token}, "label": N_("Continue to the chat")},
    )


@router.post("/away")
async def away_sign_in(request: Request) -> Response:
    form = await request.form()
    token = form.get("token")
    ctx: AppContext = request.app.state.ctx
    if not isinstance(token, str) or not token:
        return _away_refused(request)
    try:
        signed = await away.sign_in_by_link(
            ctx.boundary,
            token,
            ip=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )
    except away.AwayLinkRefused:
        return _away_refused(request)
    response = RedirectResponse(f"/?chat={signed.chat_id}", status_code=303)
    set_session_cookie(response, _settings(request), signed.session_token)
    return response


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
