"""The `helpline.send_many` extension of our uvicorn WebSocket protocol, on real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.protocol import State
from websockets.server import ServerProtocol

from helpline.wsproto import SEND_MANY, Flag, Inbox, WebSocketProtocol, text_frames
from tests.fixtures.servers import serving

pytestmark = pytest.mark.asyncio

WRITES: list[bytes] = []


class _CountingTransport:
    """The real transport; only remembers what each write carried."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingProtocol(WebSocketProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.transport = _CountingTransport(self.transport)  # type: ignore[assignment]


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accepts; on each text "N", sends frames 1..N with send_many (or one by one)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg["text"].startswith("sizes "):  # one frame of each size, the fast way
            sizes = [int(n) for n in msg["text"].split()[1:]]
            texts = [(str(n) + ":" + "é" * n)[:n].encode() for n in sizes]
            assert scope["extensions"][SEND_MANY]["send_now"](texts)
            continue
        now, _, count = msg["text"].rpartition(" ")
        texts = [json.dumps({"n": i}) for i in range(1, int(count) + 1)]
        if now:  # "now N": synchronously, the way the gateway's flush writes
            assert scope["extensions"][SEND_MANY]["send_now"]([t.encode() for t in texts])
        elif SEND_MANY in scope["extensions"]:
            await send({"type": SEND_MANY, "texts": texts})
        else:
            for text in texts:
                await send({"type": "websocket.send", "text": text})


async def _serve(ws: object) -> AsyncIterator[str]:
    async with serving(echo_app, ws=ws, ws_per_message_deflate=False) as port:
        yield f"ws://127.0.0.1:{port}/"


@pytest_asyncio.fixture
async def ours() -> AsyncIterator[str]:
    async for url in _serve(CountingProtocol):
        yield url


@pytest_asyncio.fixture
async def plain() -> AsyncIterator[str]:
    async for url in _serve("websockets-sansio"):
        yield url


async def test_send_many_writes_all_frames_at_once_in_order(ours: str) -> None:
    async with connect(ours) as ws:
        WRITES.clear()
        await ws.send("5")
        got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
        assert got == [{"n": i} for i in range(1, 6)]
        assert len(WRITES) == 1  # five frames, one write
        assert all(b'{"n": %d}' % i in WRITES[0] for i in range(1, 6))


async def test_other_servers_lack_the_extension_and_frames_go_one_by_one(plain: str) -> None:
    async with connect(plain) as ws:
        await ws.send("3")
        got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
        assert got == [{"n": 1}, {"n": 2}, {"n": 3}]


async def test_send_now_writes_at_once_in_order_and_refuses_once_closed(ours: str) -> None:
    async with connect(ours) as ws:
        WRITES.clear()
        await ws.send("now 4")
        got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(4)]
        assert got == [{"n": i} for i in range(1, 5)]
        assert len(WRITES) == 1  # four frames, one write, no await
        await ws.send("2")  # the awaited way still works after it
        got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert got == [{"n": 1}, {"n": 2}]


SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]  # each length encoding and its edges


async def test_text_frames_are_byte_for_byte_what_websockets_writes() -> None:
    proto = ServerProtocol()
    proto.state = State.OPEN
    texts: list[str | bytes] = [("x" * n).encode() for n in SIZES] + ["é ü", ""]
    for text in texts:
        proto.send_text(text if isinstance(text, bytes) else text.encode())
    assert b"".join(text_frames(texts)) == b"".join(proto.data_to_send())


async def test_frames_of_every_length_encoding_arrive_whole(ours: str) -> None:
    sizes = [1, 125, 126, 127, 65_535, 65_536, 70_000]
    async with connect(ours, max_size=None) as ws:
        await ws.send("sizes " + " ".join(map(str, sizes)))
        for n in sizes:
            got = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(got, str)
            assert got.encode() == (str(n) + ":" + "é" * n)[:n].encode()


async def test_send_now_refuses_without_writing_when_the_socket_cannot_take_it() -> None:
    proto = WebSocketProtocol.__new__(WebSocketProtocol)
    proto.disconnected, proto.handshake_complete, proto.close_sent = True, True, False
    proto.initial_response = None
    proto.writable = asyncio.Event()
    assert proto.send_now([b"{}"]) is False  # lost: nothing to write to
    proto.disconnected = False
    assert proto.send_now([b"{}"]) is False  # the peer's buffer is full: wait, as send does


# --- the protocol's light inbox and writable flag (memory per idle connection) -------------


async def test_inbox_hands_over_in_order_and_waits_for_the_next() -> None:
    inbox = Inbox()
    assert inbox.empty()
    inbox.put_nowait({"n": 1})
    inbox.put_nowait({"n": 2})
    assert not inbox.empty()
    assert await inbox.get() == {"n": 1}
    assert await inbox.get() == {"n": 2}
    assert inbox.empty()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put_nowait({"n": 3})
    assert await asyncio.wait_for(waiting, 5) == {"n": 3}


async def test_inbox_loses_nothing_when_its_reader_is_cancelled() -> None:
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("kept")
    reader.cancel()  # woken and cancelled before it ran: the item stays queued
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert await asyncio.wait_for(inbox.get(), 5) == "kept"


async def test_a_reader_woken_counts_as_message_work_until_it_runs_or_is_cancelled() -> None:
    """`Inbox.woken` (what the gateway's probe tells the arrivals' turns, decision 052)."""
    before = Inbox.woken
    inbox = Inbox()
    inbox.put_nowait("no reader waits")  # nobody woken: the reader finds it when it asks
    assert Inbox.woken == before
    assert await inbox.get() == "no reader waits"
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("frame")
    assert Inbox.woken == before + 1
    assert await asyncio.wait_for(reader, 5) == "frame"
    assert Inbox.woken == before
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("frame")
    assert Inbox.woken == before + 1
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert Inbox.woken == before
    assert await inbox.get() == "frame"  # kept for the next reader
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()  # cancelled while waiting, never woken
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert Inbox.woken == before


async def test_flag_holds_writers_while_cleared() -> None:
    flag = Flag()
    assert flag.is_set()
    await asyncio.wait_for(flag.wait(), 5)
    flag.clear()
    writers = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers)
    flag.set()
    await asyncio.wait_for(asyncio.gather(*writers), 5)
