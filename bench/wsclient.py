"""The load's WebSocket client: RFC 6455 framing on a plain asyncio protocol.

The generator shares the machine with the server it measures, so every microsecond it spends
on a frame is one the server (or the relay) may wait for a core. `websockets`' asyncio client
hands each received frame through its parser's generator, an assembler, a queue and a future
to an `async for`, and takes a lock per send (~40 µs a frame here). This client parses the
server's frames (never masked) from one buffer and hands each text message to `on_text` in the
loop's read callback, and frames and writes a send at once, masked as the RFC requires (with
websockets' C `apply_mask`). Used for the timed connections of every load, both targets alike;
set-up and the idle scenario keep `websockets`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import struct
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.speedups import apply_mask  # type: ignore[import-not-found]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CONT, _CLOSE, _PING, _PONG = 0x1, 0x0, 0x8, 0x9, 0xA
_MAX_HEAD = 64 * 1024


class Closed(Exception):
    """Sending on a connection that is closed or closing."""


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client's frame: FIN, `opcode`, the mask bit and key, the masked payload."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = random.randbytes(4)  # unpredictable enough for loopback; the server unmasks it
    return head + key + apply_mask(payload, key)


class LeanWebSocket(asyncio.Protocol):
    """One client connection. `on_text(data)` gets each text message's UTF-8 bytes, in the
    loop's read callback; `done` resolves when the connection is gone."""

    def __init__(self, request: bytes, accept: bytes, on_text: Callable[[bytes], Any]) -> None:
        self.request = request
        self.accept = accept  # the Sec-WebSocket-Accept the server must answer
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.open = False
        self._buf = bytearray()
        self._parts: list[bytes] | None = None  # a fragmented message's frames so far

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not `asyncio.Transport` instances: no isinstance check.
        self.transport = transport  # type: ignore[assignment]
        self._write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self.opened.done() and not self._handshake():
            return
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if b1 & 0x80:
                self._fail("a server's frame must not be masked")
                return
            if len(buf) < at + n:
                return
            payload = bytes(buf[at : at + n])
            del buf[: at + n]
            self._on_frame(b0 & 0x80, b0 & 0x0F, payload)

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_HEAD:
                self._fail("the handshake's answer is too long")
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        status = head[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        if len(status) < 2 or status[1] != "101":
            self._fail(f"the server answered the handshake with {head[0]!r}")
            return False
        if headers.get("sec-websocket-accept", "").encode() != self.accept:
            self._fail("the server's Sec-WebSocket-Accept does not match our key")
            return False
        self.open = True
        self.opened.set_result(None)
        return True

    def _on_frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == _TEXT:
            if fin:
                self.on_text(payload)
            else:
                self._parts = [payload]
        elif opcode == _CONT and self._parts is not None:
            self._parts.append(payload)
            if fin:
                data, self._parts = b"".join(self._parts), None
                self.on_text(data)
        elif opcode == _PING:
            self._write(_frame(_PONG, payload))
        elif opcode == _CLOSE:
            if self.open:  # answer the server's close, then it closes the TCP connection
                self.open = False
                self._write(_frame(_CLOSE, payload[:2]))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, why: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(why))
        self.open = False
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.done.done():
            self.done.set_result(None)

    def send(self, text: str) -> None:
        if not self.open:
            raise Closed()
        self._write(_frame(_TEXT, text.encode()))

    async def close(self, timeout: float = 2.0) -> None:
        """A normal close (1000); the server answers and closes the connection."""
        if self.open:
            self.open = False
            self._write(_frame(_CLOSE, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(self.done), timeout)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def connect(
    url: str, headers: Mapping[str, str], on_text: Callable[[bytes], Any], *, timeout: float = 30
) -> LeanWebSocket:
    """Open `url` (ws:// only: the benchmarks run on loopback) with these request headers."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"not a ws:// URL: {url}")
    port = parts.port or 80
    key = base64.b64encode(random.randbytes(16))
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    lines = [
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.hostname}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: LeanWebSocket(request, accept, on_text), parts.hostname, port
        ),
        timeout,
    )
    try:
        await asyncio.wait_for(asyncio.shield(conn.opened), timeout)
    except BaseException:
        if conn.transport is not None:
            conn.transport.abort()
        raise
    return conn
