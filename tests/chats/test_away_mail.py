"""Replies while away: an agent's message unread by a customer with no open connection for
HELPLINE_AWAY_MAIL_S is mailed (to a real SMTP server) with a single-use 24-hour link that
signs the customer back in. Time moves only when the test says so."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from helpline.accounts import service as accounts
from helpline.accounts.deps import SESSION_COOKIE
from helpline.chats import reads
from helpline.chats.models import AwayLink
from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from helpline.sweeper import Sweeper
from tests.fixtures.factories import accepted_chat, make_queue, make_user
from tests.notify.support import SmtpServer, body_of, outbox, smtp_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.asyncio
LINK = re.compile(r"http://\S+/away\?token=(\S+)")


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
    # The customer stays quiet for long here: no inactivity expiry in the way.
    return {"smtp_url": smtp_server.url, "away_mail_s": 120, "inactivity_warn_s": 86400}


@pytest_asyncio.fixture
async def world(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla", email="carla@example.com")
    ana = await make_user(app, "agent", name="Ana", queues=[q])
    chat = await accepted_chat(client, customer, ana, q)
    return {"customer": customer, "ana": ana, "chat": chat, "sweeper": Sweeper(app.state.ctx)}


async def _say(client: httpx.AsyncClient, user: Any, cid: str, text: str) -> int:
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": text, "client_id": "m-" + re.sub(r"[^A-Za-z]", "", text)[:20]},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["seq"])


async def _mails(box: Outbox, smtp: SmtpServer) -> list[str]:
    await box.drain()
    return [body_of(m) for m in smtp.to("carla@example.com")]


async def _link_after_away(
    world: dict[str, Any], clock: FrozenClock, box: Outbox, smtp: SmtpServer
) -> str:
    """Just over two minutes away and a sweep: the token of the one mail's link."""
    clock.advance(121)
    await world["sweeper"].run_once()
    (body,) = await _mails(box, smtp)
    found = LINK.search(body)
    assert found is not None
    return found.group(1)


async def test_an_unread_reply_is_mailed_once_and_its_link_signs_in_once(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    frozen_clock: FrozenClock,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    cid, ana, sweeper = world["chat"]["id"], world["ana"], world["sweeper"]
    await _say(client, ana, cid, "Have you tried turning it off and on again?")
    frozen_clock.advance(119)
    await sweeper.run_once()
    assert await _mails(outbox, smtp_server) == []
    frozen_clock.advance(2)
    await sweeper.run_once()
    await sweeper.run_once()  # due once: the second pass finds it mailed
    (body,) = await _mails(outbox, smtp_server)
    (mail,) = smtp_server.to("carla@example.com")
    assert world["chat"]["reference"] in mail["Subject"] and "Ana" in mail["Subject"]
    assert "Ana: Have you tried turning it off and on again?" in body
    assert "Welcome, my name is Ana" in body  # the greeting was unread too
    token = LINK.search(body).group(1)  # type: ignore[union-attr]

    # The link's page asks before spending it (mail scanners fetch links).
    page = await client.get("/away", params={"token": token})
    assert page.status_code == 200 and 'data-testid="away-link-continue"' in page.text
    assert SESSION_COOKIE not in page.cookies
    # Another device: no cookie yet; the link signs the customer in and opens the chat.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as phone:
        r = await phone.post("/away", data={"token": token})
        assert r.status_code == 303 and r.headers["location"] == f"/?chat={cid}"
        assert SESSION_COOKIE in r.cookies
        me = await phone.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["id"] == world["customer"].id
        chat = await phone.get(f"/api/v1/chats/{cid}")
        assert chat.status_code == 200
    # Used: a clear page, no sign-in, on any device.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as again:
        r = await again.post("/away", data={"token": token})
        assert r.status_code == 410 and 'data-code="away_link_invalid"' in r.text
        assert SESSION_COOKIE not in r.cookies
        assert (await again.get("/api/v1/me")).status_code == 401
        assert (await again.get("/away", params={"token": token})).status_code == 410


async def test_a_link_older_than_a_day_is_refused(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    frozen_clock: FrozenClock,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    await _say(client, world["ana"], world["chat"]["id"], "Your refund is on its way")
    token = await _link_after_away(world, frozen_clock, outbox, smtp_server)
    frozen_clock.advance(24 * 3600)
    assert (await client.get("/away", params={"token": token})).status_code == 410
    r = await client.post("/away", data={"token": token})
    assert r.status_code == 410 and SESSION_COOKIE not in r.cookies
    assert (await client.post("/away", data={"token": "made-up"})).status_code == 410


async def test_what_the_customer_read_is_not_mailed_and_at_most_one_mail_per_15_minutes(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    frozen_clock: FrozenClock,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    cid, ana, sweeper = world["chat"]["id"], world["ana"], world["sweeper"]
    seq = await _say(client, ana, cid, "First answer")
    ctx = app.state.ctx
    async with ctx.boundary.write() as uow:  # the customer read it (a `read` frame)
        user = await accounts.get_user(uow, world["customer"].id)
        assert user is not None
        assert await reads.mark(uow, user, cid, seq)
    frozen_clock.advance(600)
    await sweeper.run_once()
    assert await _mails(outbox, smtp_server) == []

    await _say(client, ana, cid, "Second answer")
    frozen_clock.advance(121)
    await sweeper.run_once()
    (first,) = await _mails(outbox, smtp_server)
    assert "Second answer" in first and "First answer" not in first

    await _say(client, ana, cid, "Third answer")
    frozen_clock.advance(600)  # 10 min after the mail: not yet
    await sweeper.run_once()
    assert len(await _mails(outbox, smtp_server)) == 1
    frozen_clock.advance(301)  # 15 min and a second
    await sweeper.run_once()
    mails = await _mails(outbox, smtp_server)
    assert len(mails) == 2
    assert "Third answer" in mails[1] and "Second answer" not in mails[1]


async def test_a_connected_customer_gets_no_mail(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    frozen_clock: FrozenClock,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    from helpline.chats.hub import Connection

    cid, ana, sweeper, customer = (
        world["chat"]["id"],
        world["ana"],
        world["sweeper"],
        world["customer"],
    )
    hub = app.state.ctx.hub
    conn = Connection(
        user_id=customer.id,
        role="customer",
        name="Carla",
        session_id="s1",
        queue_ids=frozenset(),
        max_queue=10,
    )
    hub.register(conn)  # the customer's tab is open (on this process)
    await _say(client, ana, cid, "Are you there?")
    frozen_clock.advance(3600)
    await sweeper.run_once()
    assert await _mails(outbox, smtp_server) == []
    hub.unregister(conn)  # closed; the sweeper stamped them a moment ago
    frozen_clock.advance(119)
    await sweeper.run_once()
    assert await _mails(outbox, smtp_server) == []
    frozen_clock.advance(2)
    await sweeper.run_once()
    assert len(await _mails(outbox, smtp_server)) == 1


async def test_erasing_the_customer_removes_their_away_links(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    frozen_clock: FrozenClock,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    cid, ana, customer = world["chat"]["id"], world["ana"], world["customer"]
    await _say(client, ana, cid, "Solved on our side")
    assert (await client.post(f"/api/v1/chats/{cid}/solve", headers=ana.headers)).status_code == 200
    # A solved chat's last answer is mailed too.
    token = await _link_after_away(world, frozen_clock, outbox, smtp_server)
    admin = await make_user(app, "admin", name="Adam")
    r = await client.post(
        f"/api/v1/customers/{customer.id}/erase",
        json={"confirm": "carla@example.com"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    async with app.state.ctx.db.read() as session:
        left = (await session.execute(select(func.count()).select_from(AwayLink))).scalar_one()
    assert left == 0
    assert (await client.post("/away", data={"token": token})).status_code == 410
