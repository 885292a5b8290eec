"""The benchmark's own WebSocket client (bench/wsclient.py) against a real server (websockets'),
since every latency the benchmarks print passes through it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import wsclient

pytestmark = pytest.mark.asyncio

Handler = Callable[[ServerConnection], Awaitable[None]]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[Any] = []

    async def start(handler: Handler) -> str:
        srv = await serve(handler, "127.0.0.1", 0, compression=None)
        servers.append(srv)
        port = next(iter(srv.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/api/v1/ws?x=1"

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


async def test_text_both_ways_headers_fragments_and_a_ping(server: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: ServerConnection) -> None:
        seen["path"] = ws.request.path if ws.request else None
        seen["auth"] = ws.request.headers.get("Authorization") if ws.request else None
        got = await ws.recv()
        await ws.send(f"echo {got}")
        await ws.send(["frag", "mented ", "é" * 70_000])  # one message in three frames
        await asyncio.wait_for(await ws.ping(b"hi"), 5)  # answered by the client's pong
        seen["ponged"] = True
        await ws.send("after the ping")
        await ws.wait_closed()

    got: list[bytes] = []
    three = asyncio.Event()

    def on_text(data: bytes) -> None:
        got.append(data)
        if len(got) == 3:
            three.set()

    url = await server(handler)
    conn = await wsclient.connect(url, {"Authorization": "Bearer t0k"}, on_text)
    conn.send("héllo" * 30)  # over 125 bytes: the 16-bit length
    await asyncio.wait_for(three.wait(), 5)
    assert got[0].decode() == "echo " + "héllo" * 30
    assert got[1].decode() == "fragmented " + "é" * 70_000
    assert got[2] == b"after the ping"
    assert seen == {"path": "/api/v1/ws?x=1", "auth": "Bearer t0k", "ponged": True}
    await conn.close()
    assert conn.done.done()
    with pytest.raises(wsclient.Closed):
        conn.send("too late")


async def test_the_servers_close_is_answered_and_ends_the_connection(server: Any) -> None:
    codes: list[int | None] = []
    handled = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.close(4001, "bye")
        codes.append(ws.close_code)  # what the client answered (1006 if it did not)
        handled.set()

    conn = await wsclient.connect(await server(handler), {}, lambda _: None)
    await asyncio.wait_for(asyncio.shield(conn.done), 5)
    await asyncio.wait_for(handled.wait(), 5)
    with pytest.raises(wsclient.Closed):
        conn.send("gone")
    assert codes == [4001]  # the close handshake completed: our answer echoed the code


async def test_a_refused_handshake_is_an_error_not_a_connection(server: Any) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    url = await server(handler)
    with pytest.raises(ConnectionError, match="101|handshake"):
        await wsclient.connect(url, {"Upgrade": "nonsense"}, print)
    with pytest.raises(ValueError, match="ws://"):
        await wsclient.connect("wss://127.0.0.1:1/", {}, print)
