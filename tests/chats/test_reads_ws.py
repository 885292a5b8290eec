"""Read receipts over the WebSocket: each side hears how far the other read, an agent's other
tabs hear their own reads, and a bad `read` frame stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import LiveServer
from tests.fixtures.factories import PASSWORD, accepted_chat, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


@pytest_asyncio.fixture
async def team(live_server: LiveServer) -> dict[str, Any]:
    app = live_server.app
    q = await make_queue(app, "Support")
    other_q = await make_queue(app, "Billing")
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "stranger": await make_user(app, "customer", name="Sam"),
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "olaf": await make_user(app, "agent", name="Olaf", queues=[other_q]),
    }


async def _say(http: httpx.AsyncClient, user: Any, cid: str, text: str) -> int:
    r = await http.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": text, "client_id": f"m-{text}"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["seq"])


async def _read(http: httpx.AsyncClient, user: Any, cid: str) -> dict[str, int]:
    r = await http.get(f"/api/v1/chats/{cid}", headers=user.headers)
    assert r.status_code == 200, r.text
    return dict(r.json()["read"])


def _reads(ws: WSClient) -> list[dict[str, Any]]:
    return [f for f in ws.frames if f["type"] == "read"]


async def _settled(ws: WSClient) -> None:
    """Everything sent to `ws` before now has arrived (frames leave in order)."""
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")


async def test_agent_read_reaches_the_customer_and_the_agents_other_tab(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    customer, ana = team["customer"], team["ana"]
    cid = (await accepted_chat(http, customer, ana, team["q"]))["id"]
    seq = await _say(http, customer, cid, "hello")
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    tab1 = await WSClient.open(live_server.ws_url, ana.token)
    tab2 = await WSClient.open(live_server.ws_url, ana.token)  # another device, not subscribed
    try:
        await ws_customer.subscribe(cid)
        await tab1.subscribe(cid)
        await _settled(tab2)
        await tab1.send({"type": "read", "chat_id": cid, "seq": seq})
        told = await ws_customer.wait_for(lambda f: f["type"] == "read")
        assert told == {"type": "read", "chat_id": cid, "role": "agent", "seq": seq}
        own = await tab2.wait_for(lambda f: f["type"] == "read")
        assert own == {"type": "read", "chat_id": cid, "role": "agent", "seq": seq, "own": True}
        assert await _read(http, customer, cid) == {"customer": 0, "agent": seq}
        # Read frames are not chat events: the log did not grow.
        assert (await http.get(f"/api/v1/chats/{cid}", headers=ana.headers)).json()[
            "last_seq"
        ] == seq
        # The same position again moves nothing and tells nobody.
        await tab2.send({"type": "read", "chat_id": cid, "seq": seq})
        await _settled(tab2)
        await _settled(ws_customer)
        assert len(_reads(ws_customer)) == 1
        assert len(_reads(tab2)) == 1
    finally:
        for ws in (ws_customer, tab1, tab2):
            await ws.close()


async def test_an_agents_read_on_one_device_clears_their_other_devices_only(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    """Two sign-ins of one agent (a laptop and a phone, separate sessions), each with a tab:
    a read on the laptop reaches the phone (which the console turns into its unread count);
    a colleague watching the same chat hears nothing of it, and the customer hears it once."""
    customer, ana = team["customer"], team["ana"]
    cid = (await accepted_chat(http, customer, ana, team["q"]))["id"]
    seq = await _say(http, customer, cid, "anyone-there")
    login = await http.post("/api/v1/auth/login", json={"email": ana.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    phone_token = login.json()["token"]
    assert phone_token != ana.token
    sup = await make_user(live_server.app, "supervisor", name="Sue")
    laptop = await WSClient.open(live_server.ws_url, ana.token)
    phone = await WSClient.open(live_server.ws_url, phone_token)
    phone_tab2 = await WSClient.open(live_server.ws_url, phone_token)
    colleague = await WSClient.open(live_server.ws_url, sup.token)
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    try:
        await laptop.subscribe(cid)
        await phone.subscribe(cid)
        await colleague.subscribe(cid)
        await ws_customer.subscribe(cid)
        await _settled(phone_tab2)
        await laptop.send({"type": "read", "chat_id": cid, "seq": seq})
        mine = {"type": "read", "chat_id": cid, "role": "agent", "seq": seq, "own": True}
        assert await phone.wait_for(lambda f: f["type"] == "read") == mine
        assert await phone_tab2.wait_for(lambda f: f["type"] == "read") == mine
        told = await ws_customer.wait_for(lambda f: f["type"] == "read")
        assert told == {"type": "read", "chat_id": cid, "role": "agent", "seq": seq}
        for ws in (colleague, ws_customer, phone, phone_tab2):
            await _settled(ws)
        assert _reads(colleague) == []
        assert len(_reads(ws_customer)) == 1
        assert len(_reads(phone)) == 1 and len(_reads(phone_tab2)) == 1
    finally:
        for ws in (laptop, phone, phone_tab2, colleague, ws_customer):
            await ws.close()


async def test_customer_read_reaches_the_agent_and_never_moves_back(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    customer, ana = team["customer"], team["ana"]
    cid = (await accepted_chat(http, customer, ana, team["q"]))["id"]
    first = await _say(http, ana, cid, "one")
    last = await _say(http, ana, cid, "two")
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    ws_ana = await WSClient.open(live_server.ws_url, ana.token)
    try:
        await ws_customer.subscribe(cid)
        await ws_ana.subscribe(cid)
        await ws_customer.send({"type": "read", "chat_id": cid, "seq": last})
        told = await ws_ana.wait_for(lambda f: f["type"] == "read")
        assert told == {"type": "read", "chat_id": cid, "role": "customer", "seq": last}
        # An older tab catching up says an earlier seq: the position stays.
        await ws_customer.send({"type": "read", "chat_id": cid, "seq": first})
        await _settled(ws_customer)
        await _settled(ws_ana)
        assert [f["seq"] for f in _reads(ws_ana)] == [last]
        assert await _read(http, ana, cid) == {"customer": last, "agent": 0}
    finally:
        await ws_customer.close()
        await ws_ana.close()


async def test_read_beyond_the_last_event_is_refused_and_stores_nothing(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    customer, ana = team["customer"], team["ana"]
    cid = (await accepted_chat(http, customer, ana, team["q"]))["id"]
    last = await _say(http, ana, cid, "hi")
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    ws_ana = await WSClient.open(live_server.ws_url, ana.token)
    try:
        await ws_ana.subscribe(cid)
        err = await ws_customer.request(
            {"type": "read", "chat_id": cid, "seq": last + 1}, lambda f: f["type"] == "error"
        )
        assert err["chat_id"] == cid
        assert err["error"]["code"] == "seq_out_of_range"
        await _settled(ws_ana)
        assert _reads(ws_ana) == []
        assert await _read(http, customer, cid) == {"customer": 0, "agent": 0}
    finally:
        await ws_customer.close()
        await ws_ana.close()


@pytest.mark.parametrize("who", ["stranger", "olaf"])
async def test_read_of_a_chat_the_caller_may_not_see_is_not_found(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any], who: str
) -> None:
    customer, ana = team["customer"], team["ana"]
    cid = (await accepted_chat(http, customer, ana, team["q"]))["id"]
    last = await _say(http, ana, cid, "hi")
    outsider = await WSClient.open(live_server.ws_url, team[who].token)
    ws_ana = await WSClient.open(live_server.ws_url, ana.token)
    try:
        await ws_ana.subscribe(cid)
        err = await outsider.request(
            {"type": "read", "chat_id": cid, "seq": last}, lambda f: f["type"] == "error"
        )
        assert err["error"]["code"] == "not_found"
        await _settled(ws_ana)
        assert _reads(ws_ana) == []
        assert await _read(http, customer, cid) == {"customer": 0, "agent": 0}
    finally:
        await outsider.close()
        await ws_ana.close()


async def test_a_malformed_read_frame_is_an_error_frame(
    live_server: LiveServer, team: dict[str, Any]
) -> None:
    ws = await WSClient.open(live_server.ws_url, team["customer"].token)
    try:
        err = await ws.request(
            {"type": "read", "chat_id": "x", "seq": -1}, lambda f: f["type"] == "error"
        )
        assert err["error"]["code"] == "invalid_frame"
    finally:
        await ws.close()
