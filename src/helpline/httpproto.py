"""uvicorn's httptools HTTP protocol plus a deadline for the request head, and nothing left
for the cyclic collector when a connection becomes a WebSocket.

uvicorn times out only idle keep-alive connections (`timeout_keep_alive`, armed after a
response). A client that opens a connection, or starts its next request, and then sends the
head slowly or never finishes it (half a request line, headers one byte a minute: a slowloris,
or a half-sent WebSocket handshake) holds the connection for ever. Here a timer runs from the
first byte a request could start with (the connection opening, or the parser seeing a new
message) until its headers are complete; if it fires, the connection is closed. A WebSocket
handshake is such a head (its upgrade happens once the headers are complete).

What this does not bound (a slow request body, or many connections from one address) is the
reverse proxy's job: docs/operations.md, "Load balancer".
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools

_header_timeout_s: float | None = None


def configure(header_timeout_s: float) -> None:
    """Set by `serve_config` in the serving process."""
    global _header_timeout_s
    _header_timeout_s = header_timeout_s


def header_timeout_s() -> float:
    if _header_timeout_s is None:
        # A `--workers` child process: uvicorn spawned it with the import string only, so it
        # reads the same environment as its app does.
        from helpline.config import Settings

        configure(Settings().header_timeout_s)
    assert _header_timeout_s is not None
    return _header_timeout_s


class HttpToolsProtocol(_HttpTools):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_timeout_s = header_timeout_s()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The connection is the WebSocket protocol's now, and uvicorn never calls this one's
        # `connection_lost`, where it lets go of its parser. The parser holds this protocol's
        # bound methods: a reference cycle (~25 tracked objects a WebSocket) that only the
        # cyclic collector would free, in the young collections a shift start already makes
        # more frequent (docs/performance.md). Dropped here, it is freed at once.
        self.parser = None  # type: ignore[assignment]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
