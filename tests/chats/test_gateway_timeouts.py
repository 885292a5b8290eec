"""Half-sent request heads and WebSocket handshakes are closed after HELPLINE_HEADER_TIMEOUT_S.

Raw TCP against the real server. The deadline is short (0.5 s) so the tests are quick; the
waits are bounded generously above it, and the only timing asserted is that the server did
not close before the deadline (a slow machine can only make the close later).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.asyncio

TIMEOUT_S = 0.5
BOUND_S = 10  # a bound for the test, not a speed claim


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"header_timeout_s": TIMEOUT_S, "keep_alive_s": 30}


async def _closed_by_the_deadline(reader: asyncio.StreamReader) -> None:
    """The server closes without a word, and not before the deadline."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    data = await asyncio.wait_for(reader.read(), BOUND_S)  # up to EOF
    assert data == b""
    assert loop.time() - start >= TIMEOUT_S * 0.9


async def test_half_a_request_line_is_closed_after_the_header_timeout(
    live_server: LiveServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(b"GET /api/v1/w")
    await writer.drain()
    await _closed_by_the_deadline(reader)
    writer.close()


async def test_a_half_sent_websocket_handshake_is_closed(live_server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(
        b"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    )  # no Sec-WebSocket-Key yet, and no blank line: the handshake never completes
    await writer.drain()
    await _closed_by_the_deadline(reader)
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(live_server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    await _closed_by_the_deadline(reader)
    writer.close()


async def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(
    live_server: LiveServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND_S)
    assert head.startswith(b"HTTP/1.1 200")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), BOUND_S)
    # Keep-alive is 30 s here: only the head deadline can close this one.
    writer.write(b"GET /heal")
    await writer.drain()
    await _closed_by_the_deadline(reader)
    writer.close()


async def test_a_complete_request_is_answered(live_server: LiveServer) -> None:
    """The deadline ends with the head: a request that completed its head in time is served."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), BOUND_S)
    assert data.startswith(b"HTTP/1.1 200")
    writer.close()
