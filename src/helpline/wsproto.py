"""uvicorn's sans-I/O WebSocket protocol plus one ASGI extension: `helpline.send_many`.

A chat message costs its sender two frames (its own event and the ack) and, under load, a
connection often has several frames waiting. Through ASGI each frame is one `transport.write`,
that is one syscall and one TCP segment; on a 2-core machine those writes were most of the
server's CPU (scenario 1 profile: ~75 % of the event loop's samples). With this extension the
gateway hands over every frame waiting for a connection at once and they leave in one write.

Advertised in the scope as `extensions["helpline.send_many"]`; the message is
`{"type": "helpline.send_many", "texts": [str | bytes, ...]}` (bytes: UTF-8 text, already
encoded), valid while the WebSocket is open. Any
other ASGI server simply lacks the extension and the gateway sends frame by frame.

Once a handshake is accepted, the protocol also lets go of its request and response
(docs/performance.md, scenario 3: memory per idle connection).

The extension's value holds `send_now(texts) -> bool`: the same write, synchronously, when it
can happen at once (the WebSocket is open and the peer's buffer has room); False, having
written nothing, when it cannot (then `send` waits as usual). The gateway flushes every
connection's pending frames from one callback per loop iteration with it: no task, no awaits
per write on the hot path. While the connection is open and has no extension (Helpline turns
per-message deflate off), the frames are built here (`text_frames`), byte for byte what
`websockets` would write, without its per-frame `Frame` objects and checks.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request
from websockets.protocol import State

SEND_MANY = "helpline.send_many"


_LEN16 = struct.Struct("!BBH").pack
_LEN64 = struct.Struct("!BBQ").pack


def text_frames(texts: Sequence[str | bytes]) -> list[bytes]:
    """Unmasked, unfragmented WebSocket text frames without extensions (RFC 6455 5.2), header
    and payload for each text: what `websockets` serialises for a server, at a tenth of the
    CPU (its `send_text` builds a `Frame` and checks it; this was ~10 % of scenario 1's
    profile)."""
    out: list[bytes] = []
    for text in texts:
        data = text if isinstance(text, bytes) else text.encode()
        n = len(data)
        if n < 126:
            out.append(bytes((0x81, n)))
        elif n < 65536:
            out.append(_LEN16(0x81, 126, n))
        else:
            out.append(_LEN64(0x81, 127, n))
        out.append(data)
    return out


class Inbox:
    """What uvicorn's protocol asks of its per-connection `asyncio.Queue` (`put_nowait`,
    `get`, `empty`), for its one reader: a deque only while messages wait, a future only while
    the reader waits. An idle connection keeps two empty slots instead of a queue's three
    deques and an `asyncio.Event` (docs/performance.md, scenario 3)."""

    __slots__ = ("_items", "_waiter")

    # Readers woken by a frame that have not run yet, in this process (turns: message work).
    woken = 0

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
            Inbox.woken += 1

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        # The item stays queued until taken: a reader cancelled while waiting loses nothing.
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
                if waiter.done() and not waiter.cancelled():
                    Inbox.woken -= 1
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class Flag:
    """`asyncio.Event`'s `set`, `clear`, `is_set` and `wait`, its waiters made only while
    someone waits (the protocol's `writable`: set nearly always)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][SEND_MANY] = {"send_now": self.send_now}

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the scope referred back to this protocol: break the cycle
            scope["extensions"].pop(SEND_MANY, None)

    def send_now(self, texts: Sequence[str | bytes]) -> bool:
        """Write the frames now if the WebSocket is open and writable; else False, unwritten."""
        if (
            self.disconnected
            or not self.writable.is_set()
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
        ):
            return False
        self._write_frames(texts)
        return True

    def _write_frames(self, texts: Sequence[str | bytes]) -> None:
        conn = self.conn
        if (
            conn.state is State.OPEN
            and not conn.extensions
            and not conn.expect_continuation_frame
            and not conn.debug
        ):
            # What `send_text` would queue, framed here: a server's frames are not masked and,
            # without extensions, are the header and the payload (`text_frames`).
            out = conn.data_to_send()  # anything queued before them goes first
            out.extend(text_frames(texts))
            self.transport.write(b"".join(out))
            return
        try:
            for text in texts:
                conn.send_text(text if isinstance(text, bytes) else text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(conn.data_to_send()))

    async def send(self, message: Any) -> None:
        if message["type"] != SEND_MANY:
            await super().send(message)
            if message["type"] == "websocket.accept" and self.handshake_complete:
                # The handshake's request and response (two header maps, ~20 objects) are
                # not used again by a connection that may stay open for days.
                del self.request, self.response
            return
        await self.writable.wait()  # the peer's buffer is full: wait, as a plain send does
        if self.disconnected:
            raise ClientDisconnected()
        if not self.handshake_complete or self.close_sent or self.initial_response is not None:
            raise RuntimeError(f"'{SEND_MANY}' needs an open WebSocket.")
        self._write_frames(message["texts"])
