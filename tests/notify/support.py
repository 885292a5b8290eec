"""Real far ends for outbox tests: an aiosmtpd server and a webhook receiver on loopback.

Both are fixtures here (imported by the test modules that need them); the test module wires
them into the app through its own `settings_overrides`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select

from helpline.kit import clock as clock_mod
from helpline.kit.clock import FrozenClock
from helpline.notify.models import OutboxMessage
from helpline.notify.outbox import Outbox
from tests.fixtures.factories import ctx_of, make_queue, make_user
from tests.fixtures.servers import free_port

WEBHOOK_SECRET = "whsec-test-0123456789"


# --- SMTP ---------------------------------------------------------------------------------------


class _Mailbox:
    """aiosmtpd handler: keeps every message it accepts (called from the server's thread)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on a fixed free port; not started until `start()` (an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._mailbox = _Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._mailbox._lock:
            return list(self._mailbox.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Started; tests of an outage call `stop()` / build their own."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


# --- webhooks -----------------------------------------------------------------------------------


class WebhookReceiver:
    """What an external service desk would run: verifies the signature and its freshness,
    drops repeats by event id, and can be told to fail.

    `fail_first`: answer 500 to that many requests without looking at them.
    `lose_answers`: after that, process that many events but still answer 500 (the answer
    was lost), so the sender retries something the receiver already has.
    `always_fail`: answer 500 forever.
    """

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/helpline"
        self.fail_first = 0
        self.lose_answers = 0
        self.always_fail = False
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []  # every arrival, as parsed
        self.accepted: list[dict[str, Any]] = []  # each event once, in arrival order
        self.duplicates: list[str] = []
        self.rejected: list[str] = []
        self._seen: set[str] = set()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def verify(self, headers: dict[str, str], body: bytes) -> str | None:
        """The receiver's side of the contract; returns why it refuses, or None."""
        fields = dict(
            part.split("=", 1)
            for part in headers.get("x-helpline-signature", "").split(",")
            if "=" in part
        )
        if "t" not in fields or "v1" not in fields or not fields["t"].isdigit():
            return "malformed signature header"
        expected = hmac.new(
            self.secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, fields["v1"]):
            return "bad signature"
        # Freshness by the same clock the sender uses (a FrozenClock in these tests).
        if abs(clock_mod.now().timestamp() - int(fields["t"])) > 300:
            return "stale timestamp"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = await self._handle(scope["method"], headers, body)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _handle(self, method: str, headers: dict[str, str], body: bytes) -> int:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        doc = json.loads(body) if body else {}
        self.requests.append(doc)
        if self.always_fail:
            return 500
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500
        problem = self.verify(headers, body)
        if method != "POST" or headers.get("content-type") != "application/json":
            problem = "not a JSON POST"
        if doc.get("id") != headers.get("x-helpline-event-id"):
            problem = "event id header does not match the body"
        if problem:
            self.rejected.append(problem)
            return 400
        if doc["id"] in self._seen:
            self.duplicates.append(doc["id"])
            return 200
        self._seen.add(doc["id"])
        self.accepted.append(doc)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return 500
        return 204

    def for_request(self, request_id: str) -> list[dict[str, Any]]:
        return [d for d in self.accepted if d["request"]["id"] == request_id]

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise AssertionError("webhook receiver did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)


@pytest_asyncio.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


# --- the outbox -------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    """A Support queue, two customers, an agent of the queue and an admin."""
    q = await make_queue(app, "Support")
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "customer2": await make_user(app, "customer", name="Dan"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q]),
        "admin": await make_user(app, "admin", name="Ada"),
    }


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """Time stands still unless the test moves it (conftest restores the real clock)."""
    c = FrozenClock()
    clock_mod.set_clock(c)
    return c


def outbox_of(app: FastAPI) -> Outbox:
    outbox: Outbox = app.state.outbox
    return outbox


@pytest_asyncio.fixture
async def outbox(app: FastAPI) -> Outbox:
    """The app's outbox with its background task stopped: the test drives `run_once`/`drain`."""
    ob = outbox_of(app)
    await ob.stop()
    return ob


async def outbox_rows(source: FastAPI | Outbox, kind: str | None = None) -> list[OutboxMessage]:
    db = source.db if isinstance(source, Outbox) else ctx_of(source).db
    async with db.read() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list((await session.execute(stmt)).scalars())


async def settle_all(clock: FrozenClock, *outboxes: Outbox, step_s: float = 600) -> int:
    """Deliver until nothing is pending, moving the clock past each backoff; returns passes."""
    for n in range(1000):
        await asyncio.gather(*(ob.drain() for ob in outboxes))
        if not any(r.status == "pending" for r in await outbox_rows(outboxes[0])):
            return n + 1
        clock.advance(step_s)
    raise AssertionError("outbox did not settle")
