"""Client-side helpers for the scale-out tests: WebSocket connections that are always closed,
and a talker that behaves like the real chat client (acks, reconnect, resend by client_id)."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

import httpx

from tests.fixtures.wsclient import WSClient
from tests.scaleout.cluster import Api, Pair, Person

Event = dict[str, Any]


class Sockets:
    """Opens WebSocket clients and closes every one of them at the end, pass or fail."""

    def __init__(self) -> None:
        self.all: list[WSClient] = []

    async def open(self, url: str, who: Person) -> WSClient:
        """A connection the server has registered: it answered a ping."""
        ws = await WSClient.open(url, who.token)
        self.all.append(ws)
        await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        return ws

    async def subscribed(self, url: str, who: Person, chat_id: str, after: int = 0) -> WSClient:
        ws = await self.open(url, who)
        answer = await ws.subscribe(chat_id, after)
        assert answer["type"] == "subscribed", answer
        return ws

    async def aclose(self) -> None:
        for ws in self.all:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    async def __aenter__(self) -> Sockets:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def send_all(ws: WSClient, chat_id: str, texts: dict[str, str]) -> dict[str, int]:
    """Send messages (client_id -> text) back to back, then wait for each ack: client_id -> seq."""
    for client_id, text in texts.items():
        await ws.send({"type": "message", "chat_id": chat_id, "text": text, "client_id": client_id})
    acks: dict[str, int] = {}
    for client_id in texts:
        f = await ws.wait_for(partial(_answers, client_id))
        assert f["type"] == "ack", f
        acks[client_id] = int(f["seq"])
    return acks


def _answers(client_id: str, frame: dict[str, Any]) -> bool:
    return frame["type"] in ("ack", "error") and frame.get("client_id") == client_id


class Talker:
    """One side of one chat: sends a message every `interval` seconds and keeps the acks.

    Like the real client, it keeps what is not yet acknowledged; `reconnect()` subscribes on a
    new connection from the last seq it saw and resends those with their original client_id.
    """

    def __init__(
        self, who: Person, ws: WSClient, chat_id: str, prefix: str, interval: float
    ) -> None:
        self.who = who
        self.ws = ws
        self.old: list[WSClient] = []  # earlier connections, for what they received
        self.chat_id = chat_id
        self.prefix = prefix
        self.interval = interval
        self.sent: dict[str, str] = {}  # client_id -> text, in the order written
        self._lock = asyncio.Lock()  # resends go out before anything newer
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def burst(self, n: int) -> None:
        """n messages back to back, without waiting for their acks."""
        async with self._lock:
            for _ in range(n):
                await self._send(self._next())

    def _next(self) -> str:
        client_id = f"{self.prefix}-{len(self.sent)}"
        self.sent[client_id] = f"{self.prefix} says {len(self.sent)}"
        return client_id

    async def _run(self) -> None:
        while not self._stop.is_set():
            async with self._lock:
                await self._send(self._next())
            # The pace, cut short by stop().
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def _send(self, client_id: str) -> None:
        if self.ws.closed.done():
            return  # kept: resent after reconnecting
        frame = {
            "type": "message",
            "chat_id": self.chat_id,
            "text": self.sent[client_id],
            "client_id": client_id,
        }
        # A connection dying under us: the message stays unacknowledged and is resent.
        with contextlib.suppress(Exception):
            await self.ws.send(frame)

    async def reconnect(self, sockets: Sockets, url: str) -> None:
        async with self._lock:
            seen = self.seen()
            after = seen[-1]["seq"] if seen else 0
            ws = await sockets.subscribed(url, self.who, self.chat_id, after)
            self.old.append(self.ws)
            self.ws = ws
            for client_id in self.unacked():
                await self._send(client_id)

    def _frames(self) -> list[dict[str, Any]]:
        return [f for ws in [*self.old, self.ws] for f in ws.frames]

    def acks(self) -> dict[str, int]:
        """client_id -> seq. A message acked twice (resent) must be acked with the same seq."""
        out: dict[str, int] = {}
        for f in self._frames():
            if f["type"] == "ack" and f.get("chat_id") == self.chat_id:
                seq = int(f["seq"])
                assert out.setdefault(f["client_id"], seq) == seq, f"two seqs for {f}"
        return out

    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self._frames() if f["type"] == "error"]

    def unacked(self) -> list[str]:
        acks = self.acks()
        return [c for c in self.sent if c not in acks]

    def seen(self) -> list[Event]:
        """Every event of the chat this client received, across its connections, in order."""
        return [e for ws in [*self.old, self.ws] for e in ws.events(self.chat_id)]

    async def caught_up(self, api: Api, base: str) -> bool:
        """It has received up to the last event of the log that it may see."""
        log = await api.events(base, self.who, self.chat_id)
        seen = self.seen()
        return bool(seen) and seen[-1]["seq"] >= log[-1]["seq"]

    async def check_against_log(self, api: Api, base: str) -> None:
        """Exactly the log (as this client may see it), once each, in order; and every
        message it sent is in the log once, with the acked seq, in the order sent."""
        log = await api.events(base, self.who, self.chat_id)
        seqs = [e["seq"] for e in self.seen()]
        assert seqs == [e["seq"] for e in log], f"{self.prefix}: received {seqs}"
        mine = [
            (e["data"]["client_id"], e["seq"])
            for e in log
            if e["type"] == "message.posted" and e["data"].get("client_id") in self.sent
        ]
        assert [c for c, _ in mine] == list(self.sent), f"{self.prefix}: each once, in order"
        assert dict(mine) == self.acks(), f"{self.prefix}: acked seqs are the logged seqs"


async def chat_across(api: Api, pair: Pair) -> tuple[Person, Person, str]:
    """A customer who starts on A, an agent who accepts on B: (customer, agent, chat id)."""
    admin = await api.admin(pair.a.base_url)
    queue = await api.queue(pair.a.base_url, admin, "Support")
    (agent,) = await api.agents(pair.a.base_url, admin, queue, 1)
    customer = await api.guest(pair.a.base_url)
    chat_id = await api.start_chat(pair.a.base_url, customer, queue, "hello")
    await api.accept(pair.b.base_url, agent, chat_id)
    return customer, agent, chat_id


async def readyz(http: httpx.AsyncClient, base: str) -> tuple[int, dict[str, Any]]:
    try:
        r = await http.get(base + "/readyz", timeout=3)
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    return r.status_code, r.json()


async def wait_readyz(
    http: httpx.AsyncClient, base: str, status: int, timeout: float
) -> dict[str, Any]:
    """Poll /readyz until it answers `status`; its body then."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, body = await readyz(http, base)
        if code == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{base}/readyz not {status} within {timeout} s: {code} {body}")
        await asyncio.sleep(0.05)
