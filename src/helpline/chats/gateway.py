"""The WebSocket endpoint: authenticate, register with the hub, relay commands. No rules here.

Commands go to the same service functions as HTTP, each in its own short unit of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from helpline.accounts import presence, scopes, tokens, twofactor
from helpline.accounts import service as accounts
from helpline.accounts.deps import WS_PROTOCOL, token_from, ws_bearer
from helpline.accounts.models import User
from helpline.accounts.schemas import Strict
from helpline.accounts.scopes import Scope as TokenScope
from helpline.boundary import guard
from helpline.bus.messages import Typing as TypingNews
from helpline.chats import access, reads, service
from helpline.chats import offers as routing
from helpline.chats.hub import CLOSE_TOO_MANY, Connection
from helpline.chats.schemas import ClientId, MessageText
from helpline.chats.writer import Author, Written
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.errors import Forbidden, HelplineError, Invalid, NotAuthenticated, Unavailable
from helpline.kit.frames import decode as decode_frame
from helpline.kit.frames import encode
from helpline.kit.origins import is_own_origin
from helpline.kit.params import BoundedInt
from helpline.queues import service as queues
from helpline.turns import busy_while, take_turn
from helpline.wsproto import SEND_MANY, Inbox

log = logging.getLogger("helpline.gateway")
MAX_FRAME = 64 * 1024
# Departures that wait for turns at most (decision 053): past this many steps waiting, a leaving
# goes on at once, so 19,700 closing together are not all kept alive waiting (scenario 3).
DEPARTURES_WAITING = 64
_NO_QUEUES: frozenset[str] = frozenset()


class _Frame(Strict):
    """Client frames refuse unknown fields and NUL characters, like request bodies."""


class Subscribe(_Frame):
    type: Literal["subscribe"]
    chat_id: str = Field(max_length=64)
    after: BoundedInt = 0


class Unsubscribe(_Frame):
    type: Literal["unsubscribe"]
    chat_id: str = Field(max_length=64)


class Message(_Frame):
    type: Literal["message"]
    chat_id: str = Field(max_length=64)
    text: MessageText
    client_id: ClientId


class Typing(_Frame):
    type: Literal["typing"]
    chat_id: str = Field(max_length=64)
    active: bool = True


class Read(_Frame):
    type: Literal["read"]
    chat_id: str = Field(max_length=64)
    seq: BoundedInt


class Ping(_Frame):
    type: Literal["ping"]


_Frames = Subscribe | Unsubscribe | Message | Typing | Read | Ping
Frame = Annotated[_Frames, Field(discriminator="type")]
frames: TypeAdapter[_Frames] = TypeAdapter(Frame)


class Post:
    """A `message` frame that passed the fast check (`parse`): the same fields as `Message`."""

    __slots__ = ("chat_id", "text", "client_id")

    def __init__(self, chat_id: str, text: str, client_id: str) -> None:
        self.chat_id, self.text, self.client_id = chat_id, text, client_id


_PING = Ping(type="ping")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}").fullmatch
_TEXT_MAX = 10_000  # MessageText's max_length


def parse(text: str) -> _Frames | Post:
    """The client's frame. Nearly every frame under load is a plain `message` (or a `ping`):
    those are decoded with orjson and checked here against the same rules as the models
    (`Message`: exactly these fields, strings, the lengths and the client_id pattern of
    `MessageText` and `ClientId`, no NUL); anything else, and anything this check does not
    accept, goes through the Pydantic models, which give the contract's error frame."""
    try:
        data = decode_frame(text)
    except ValueError:
        data = None
    if type(data) is dict:
        kind = data.get("type")
        if kind == "message" and len(data) == 4:
            chat_id, body, client_id = data.get("chat_id"), data.get("text"), data.get("client_id")
            if (
                type(chat_id) is str
                and type(body) is str
                and type(client_id) is str
                and len(chat_id) <= 64
                and 0 < len(body) <= _TEXT_MAX
                and _CLIENT_ID(client_id)
                and "\x00" not in chat_id
                and "\x00" not in body
            ):
                return Post(chat_id, body, client_id)
        elif kind == "ping" and len(data) == 1:
            return _PING
    return frames.validate_json(text)


def _origin_ok(ws: WebSocket, ctx: AppContext) -> bool:
    """Cookie-authenticated handshakes must come from our own pages (no cross-site hijack)."""
    return is_own_origin(
        ws.headers.get("origin"),
        public_url=ctx.settings.resolved_public_url,
        scheme=ws.url.scheme,
        host=ws.headers.get("host"),
    )


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", **extra, "error": {"code": code, "message": message}}


async def _refuse(ws: WebSocket, exc: NotAuthenticated | Forbidden) -> None:
    """Answer the handshake as HTTP would (`401`, or `403 totp_setup_required`) in the error
    format, where the server can send an HTTP response to a handshake (uvicorn can); elsewhere
    close with 1008."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(exc.to_dict(), status_code=exc.status))
    else:
        await ws.close(code=1008, reason="not authenticated" if exc.status == 401 else exc.code)


async def websocket_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app of `/api/v1/ws`, called by the app directly (`HelplineApp`): an idle
    connection keeps only what it needs, a frame for this and one for `_reader`. It keeps the
    raw `send` for `helpline.send_many`, and reads with the raw `receive`."""
    ws = WebSocket(scope, receive=receive, send=send)
    extension = scope.get("extensions", {}).get(SEND_MANY)
    send_many = send if extension is not None else None
    send_now = extension.get("send_now") if extension is not None else None
    ctx: AppContext = ws.app.state.ctx
    by_cookie = "authorization" not in ws.headers and ws_bearer(ws) is None
    if by_cookie and token_from(ws) and not _origin_ok(ws, ctx):
        await ws.close(code=1008, reason="origin not allowed")
        return
    await take_turn()  # a handshake is an arrival: one a turn of the loop (helpline.turns)
    try:
        if ctx.opening is None:
            conn, offers, seen = await _open(ctx, token_from(ws))
        else:
            async with ctx.opening:
                conn, offers, seen = await _open(ctx, token_from(ws))
    except (NotAuthenticated, Forbidden) as exc:
        await _refuse(ws, exc)
        return
    except Unavailable:
        await ws.close(code=1013, reason="database unavailable")
        return
    # A client that authenticated by subprotocol must get one back, or browsers drop it.
    await ws.accept(subprotocol=WS_PROTOCOL if ws_bearer(ws) else None)
    # Counted after the accept (so the close code and reason reach the client) and with no
    # await before `register`, so concurrent handshakes cannot all slip under the cap.
    if ctx.hub.connections_of(conn.user_id) >= ctx.settings.ws_max_per_user:
        await ws.close(code=CLOSE_TOO_MANY, reason="too many connections")
        return
    first_here = not ctx.hub.is_connected(conn.user_id)
    ctx.hub.register(conn)
    conn.start_writing(ws, send_many, send_now)
    # Customers too: the away mail waits while any process holds them. A stamp of the last
    # moments (a guest's sign-in) stands until the sweeper's next.
    if first_here and not seen:
        await _stamp(ctx, conn.user_id)
    left = False
    try:
        for chat in offers:
            conn.send({"type": "chat.offered", "chat": chat})
        del offers
        left = await _reader(receive, conn, ctx)
    except WebSocketDisconnect:
        left = True
    finally:
        ctx.hub.unregister(conn)
        if left:
            conn.left()
            # Everyone leaving at once (a proxy restarting) is the arrivals' mirror: the rest
            # of each one's leaving waits for a moment without message work, one a turn, as
            # long as few wait (decision 053).
            await take_turn(unless_waiting=DEPARTURES_WAITING)
        else:
            conn.close(1000, "bye")
        if not ctx.hub.is_connected(conn.user_id):
            # The offline grace period (staff) and the away mail's wait (customers) count
            # from the last connection closing.
            await _stamp(ctx, conn.user_id)
            if left:  # the stamps written together resume together: one a turn
                await take_turn(unless_waiting=DEPARTURES_WAITING)
        if conn.writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.writer, timeout=2)


class Socket(Connection):
    """A hub connection that writes its frames to its WebSocket, in order, and keeps nothing
    for it while idle (docs/performance.md). Where the server can write at once
    (`helpline.send_many`'s `send_now`), a socket with frames pending joins its loop's `_Flush`:
    one callback per loop iteration writes every such socket's frames, one TCP write each, with
    no task and no await. Otherwise (no such server, the peer's buffer full, a close to send) a
    writer task runs while frames are pending, one at a time."""

    __slots__ = ("ws", "send_many", "send_now", "writer", "writes", "due", "posting")

    def __init__(self, *, writes: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # False for an API token without chats:write: it may listen, not speak (typing too).
        self.writes = writes
        self.ws: WebSocket | None = None  # set once accepted
        self.send_many: Send | None = None
        self.send_now: Callable[[Sequence[str | bytes]], bool] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.due = False  # waiting in its loop's _Flush
        self.posting: Posting | None = None  # its last message frame, until answered

    def start_writing(
        self,
        ws: WebSocket,
        send_many: Send | None,
        send_now: Callable[[Sequence[str | bytes]], bool] | None = None,
    ) -> None:
        """The WebSocket is accepted: write what is queued, and whatever comes later."""
        self.ws, self.send_many, self.send_now = ws, send_many, send_now
        self._wake()

    def _wake(self) -> None:
        if self.writer is not None or self.ws is None:
            return  # a writer task will find the frame (or the close)
        if self.send_now is not None and self.close_code is None:
            if not self.due:
                self.due = True
                loop = asyncio.get_running_loop()
                _flush_of(loop).add(self, loop)
            return
        self.writer = asyncio.get_running_loop().create_task(self._write(self.ws))

    def left(self) -> None:
        """Its peer closed it: the server has answered that close already, so nothing more is
        written, and no writer starts only to find the socket gone (everyone leaving at once
        costs the loop less: docs/performance.md)."""
        self.ws = None
        self.close(1000, "bye", drop=True)

    def flush(self) -> None:
        """Write what is pending now, if the socket can take it; else hand it to a writer."""
        self.due = False
        send_now = self.send_now
        if self.writer is not None or self.ws is None or send_now is None:
            return
        try:
            while pending := self.next_frames():
                texts = [f if type(f) is bytes else encode(f) for f in pending]
                if not send_now(texts):  # full or closing: the writer task waits for room
                    self.put_back(texts)
                    break
        except Exception:
            self.ws = None  # the socket failed: write nothing more; the reader sees it end
            return
        if self.has_pending() or self.close_code is not None:
            self.writer = asyncio.get_running_loop().create_task(self._write(self.ws))

    async def _write(self, ws: WebSocket) -> None:
        send_many = self.send_many
        try:
            # No await between finding the queue empty and clearing `writer` below: a frame
            # queued after that starts a new writer.
            while pending := self.next_frames():
                # Events come encoded already (once for all their recipients); the rest here.
                texts = [f if type(f) is bytes else encode(f) for f in pending]
                if send_many is not None:
                    await send_many({"type": SEND_MANY, "texts": texts})
                else:
                    for text in texts:
                        await ws.send_text(text.decode())
            if self.close_code is not None and ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close(code=self.close_code, reason=self.close_reason)
        except Exception:
            self.ws = None  # the socket failed: write nothing more; the reader sees it end
        finally:
            self.writer = None


class _Flush:
    """The sockets of one event loop with frames pending, flushed by one callback. It keeps no
    reference to its loop: it is kept under that loop, weakly (`_flushes`)."""

    __slots__ = ("due",)

    def __init__(self) -> None:
        self.due: list[Socket] = []

    def add(self, sock: Socket, loop: asyncio.AbstractEventLoop) -> None:
        if not self.due:
            loop.call_soon(self.run)
        self.due.append(sock)

    def run(self) -> None:
        due, self.due = self.due, []
        for sock in due:
            try:
                sock.flush()
            except Exception:  # never skip the others
                log.exception("flushing a socket failed")
                sock.ws = None


_flushes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flush] = weakref.WeakKeyDictionary()


def _flush_of(loop: asyncio.AbstractEventLoop) -> _Flush:
    flush = _flushes.get(loop)
    if flush is None:
        flush = _flushes[loop] = _Flush()
        # Message work an arrival's turn waits out (decision 052): frames waiting for this
        # flush, or a frame read whose reader has not run yet. Registered with the loop's
        # first flush: before any message there is none to wait for.
        busy_while(loop, lambda: bool(flush.due) or Inbox.woken > 0)
    return flush


class Posting:
    """A message frame handed to the message writer, answered from the writer's own task
    (decision 041): the ack goes out and the event is announced in the turn of the loop that
    committed it, without waking the sender's reader for it. Anything but the plain case (the
    writer says None) takes the service path in a task of its own. The reader waits for the
    answer before it handles the connection's next frame, so each connection's frames are
    answered in the order they came, as before."""

    __slots__ = ("conn", "ctx", "chat_id", "text", "client_id", "finished", "_waiter", "_context")

    def __init__(
        self, conn: Socket, ctx: AppContext, chat_id: str, text: str, client_id: str
    ) -> None:
        self.conn, self.ctx = conn, ctx
        self.chat_id, self.text, self.client_id = chat_id, text, client_id
        self.finished = False
        self._waiter: asyncio.Future[None] | None = None  # made only if the reader waits
        self._context = contextvars.copy_context()  # the connection's (its request id, for logs)

    def __call__(self, written: Written | None) -> None:
        if written is None:
            task = asyncio.get_running_loop().create_task(self._slowly(), context=self._context)
            _slow_posts.add(task)  # a strong reference until done
            task.add_done_callback(_slow_posts.discard)
            return
        if written.created:
            self.ctx.boundary.publish_event(written.envelope, internal=False)
        self._ack(int(written.envelope["seq"]))
        self._finish()

    def _ack(self, seq: int) -> None:
        self.conn.send(
            {"type": "ack", "client_id": self.client_id, "chat_id": self.chat_id, "seq": seq}
        )

    async def _slowly(self) -> None:
        """The service path, which gives the precise error (a closed chat, a helper, …)."""
        conn, ctx = self.conn, self.ctx
        try:
            with _answering(conn, self):
                async with ctx.boundary.write() as uow:
                    user = await _user(uow, conn)
                    event, _ = await service.post_message(
                        uow, user, self.chat_id, self.text, self.client_id
                    )
                self._ack(event.seq)
        except Exception:  # a bug: as an exception in the reader would, end the connection
            log.exception("posting a message failed")
            conn.close(1011, "internal error")
        finally:
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        if self.conn.posting is self:
            self.conn.posting = None  # an idle connection keeps none
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        if not self.finished:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter


_slow_posts: set[asyncio.Task[None]] = set()


async def _open(ctx: AppContext, token: str | None) -> tuple[Socket, list[dict[str, Any]], bool]:
    """Who is connecting, their queues, (agents) the chats already waiting for them, and
    whether they were stamped as seen lately. No ORM object outlives this: a connection may
    stay open for days."""
    async with ctx.boundary.read() as uow:
        cred = await tokens.authenticate(uow, token, ctx.settings)
        granted = cred.scopes
        if granted is not None and TokenScope.chats_read not in granted:
            raise scopes.insufficient("The WebSocket needs an API token with chats:read.")
        user = cred.user
        if twofactor.setup_due(user, ctx.settings):
            raise Forbidden(
                "Turn on two-factor sign-in first (your role requires it).",
                code="totp_setup_required",
            )
        staff = user.role_enum.is_staff
        # A customer's is one shared empty set: an idle customer costs none.
        queue_ids: AbstractSet[str] = (
            set(await queues.member_queue_ids(uow, user.id)) if staff else _NO_QUEUES
        )
        offers = await routing.waiting_offers(uow, user, queue_ids) if staff else []
        conn = Socket(
            user_id=user.id,
            role=user.role,
            name=user.name,
            # Closed by its session's sign-out, or by revoking the token it came with.
            session_id=cred.connection_id,
            queue_ids=queue_ids,
            writes=granted is None or TokenScope.chats_write in granted,
            max_queue=ctx.settings.ws_send_queue,
        )
    return conn, offers, presence.seen_lately(user.last_seen_at, ctx.settings)


async def _stamp(ctx: AppContext, user_id: str) -> None:
    try:
        if ctx.stamps is not None:  # with everyone else connecting or leaving right now
            await ctx.stamps.add(user_id)
        else:
            await presence.stamp(ctx, {user_id})
    except Unavailable:
        log.warning("could not record presence; the next sweep will")


async def _reader(receive: Receive, conn: Socket, ctx: AppContext) -> bool:
    """Handles the connection's frames until it closes; True when its peer closed it."""
    # The ASGI receive, not `ws.receive`: after the accept that adds only checks, and a frame.
    while conn.close_code is None:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return True
        text = msg.get("text")
        if text is None:
            conn.send(_error("invalid_frame", "Frames are JSON text."))
            continue
        if len(text) > MAX_FRAME:
            conn.close(1009, "frame too large")
            return False
        if conn.posting is not None:  # the message before this frame is answered first
            await conn.posting.wait()
        try:
            frame = parse(text)
        except ValidationError as exc:
            conn.send(_error("invalid_frame", _describe(exc)))
            continue
        with _answering(conn, frame):
            await _handle(frame, conn, ctx)
    return False  # closed from this side (a sign-out, a revoked token, a slow consumer)


@contextlib.contextmanager
def _answering(conn: Connection, frame: Any) -> Iterator[None]:
    """A command's refusal as an error frame about `frame`; an outage also closes (1013)."""
    try:
        with guard():  # the hub reads outside the command's unit of work
            yield
    except HelplineError as exc:
        conn.send({"type": "error", **_about(frame), "error": exc.to_dict()["error"]})
        if isinstance(exc, Unavailable):
            # Try again shortly: the client reconnects, resumes by seq, resends.
            conn.close(1013, "database unavailable")


def _about(frame: Any) -> dict[str, Any]:
    """What an error frame says it answers: the message's client_id, the chat."""
    out: dict[str, Any] = {}
    if isinstance(frame, Message | Post | Posting):
        out["client_id"] = frame.client_id
    if hasattr(frame, "chat_id"):
        out["chat_id"] = frame.chat_id
    return out


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("subscribe", "message"))
    return f"{where}: {err['msg']}" if where else str(err["msg"])


async def _handle(frame: Any, conn: Socket, ctx: AppContext) -> None:
    match frame:
        case Ping():
            conn.send({"type": "pong"})
        case Subscribe(chat_id=chat_id, after=after):
            await ctx.limiter.check(ctx.settings.rate_limit_subscribe, "ws-sub", conn.user_id)
            async with ctx.boundary.read() as uow:
                user = await _user(uow, conn)
                row = await access.get_row(uow, user, chat_id)
            await ctx.hub.subscribe(conn, row, after)
        case Unsubscribe(chat_id=chat_id):
            await ctx.limiter.check(ctx.settings.rate_limit_subscribe, "ws-sub", conn.user_id)
            ctx.hub.unsubscribe(conn, chat_id)
        case (
            Post(chat_id=chat_id, text=text, client_id=client_id)
            | Message(chat_id=chat_id, text=text, client_id=client_id)
        ):
            _require_writes(conn)
            # Keyed like HTTP posts: one budget per user, however many sockets they open.
            await ctx.limiter.check(ctx.settings.rate_limit_messages, "msg", conn.user_id)
            if not text.strip():
                raise Invalid("The message is empty.", code="empty_message")
            author = Author(conn.user_id, str(conn.role), conn.name)
            posting = conn.posting = Posting(conn, ctx, chat_id, text, client_id)
            if not ctx.writer.submit(author, chat_id, text, client_id, posting):
                posting(None)  # no writer (in-memory SQLite): the service path
        case Typing(chat_id=chat_id, active=active):
            _require_writes(conn)
            if chat_id not in conn.subs:
                raise Invalid("Subscribe to the chat first.", code="not_subscribed")
            await ctx.limiter.check(ctx.settings.rate_limit_typing, "ws-typing", conn.user_id)
            who = {"id": conn.user_id, "name": conn.name, "role": str(conn.role)}
            await ctx.bus.publish(f"chat:{chat_id}", TypingNews(chat_id, active, who))
        case Read(chat_id=chat_id, seq=seq):
            _require_writes(conn)
            # Same budget as typing: a page sends one per event it shows, a few a second.
            await ctx.limiter.check(ctx.settings.rate_limit_typing, "ws-read", conn.user_id)
            async with ctx.boundary.write() as uow:
                await reads.mark(uow, await _user(uow, conn), chat_id, seq)


def _require_writes(conn: Connection) -> None:
    if isinstance(conn, Socket) and not conn.writes:
        raise scopes.insufficient("This token lacks the scope chats:write.", scope="chats:write")


async def _user(uow: UnitOfWork, conn: Connection) -> User:
    """The connection's user, fresh: roles and activity may have changed since it opened."""
    user = await accounts.get_user(uow, conn.user_id)
    if user is None or not user.active:
        conn.close(4401, "signed out")
        raise NotAuthenticated("Sign in again.")
    return user
