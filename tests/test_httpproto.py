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
from websockets.asyncio.client import connect

from helpline.httpproto import HttpToolsProtocol
from helpline.wsproto import WebSocketProtocol
from tests.fixtures.servers import serving

pytestmark = pytest.mark.asyncio

MADE: list[weakref.ref[HttpToolsProtocol]] = []


class TrackedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        MADE.append(weakref.ref(self))


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (msg := await receive())["type"] != "websocket.disconnect":
        await send({"type": "websocket.send", "text": msg["text"]})


@pytest_asyncio.fixture
async def url() -> AsyncIterator[str]:
    async with serving(
        echo_app,
        http=TrackedProtocol,
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        lifespan="off",
    ) as port:
        yield f"ws://127.0.0.1:{port}/"


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
