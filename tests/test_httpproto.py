"""Our uvicorn HTTP protocol (`helpline.httpproto`) on real sockets: what it leaves behind when
a connection becomes a WebSocket."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from websockets.asyncio.client import connect

from helpline.httpproto import HttpToolsProtocol
from helpline.wsproto import WebSocketProtocol
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.asyncio

MADE: list[weakref.ref[HttpToolsProtocol]] = []


class TrackedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        MADE.append(weakref.ref(self))


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (msg := await receive())["type"] != "websocket.disconnect":
        await send({"type": "websocket.send", "text": msg["text"]})


@pytest_asyncio.fixture
async def url() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        echo_app,
        host="127.0.0.1",
        port=port,
        http=TrackedProtocol,
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_an_upgraded_connections_http_protocol_is_freed_without_the_collector(
    url: str,
) -> None:
    MADE.clear()
    gc.collect()
    gc.disable()  # only reference counting: what a cycle keeps stays
    try:
        async with connect(url) as ws:
            await ws.send("hello")
            assert await asyncio.wait_for(ws.recv(), 5) == "hello"  # the WebSocket works
            assert len(MADE) == 1
            assert MADE[0]() is None  # its HTTP protocol, done with, is already gone
    finally:
        gc.enable()
