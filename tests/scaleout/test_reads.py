"""Read receipts across processes: an agent reading on process A is heard by the customer on
process B, and by the agent's own other tab on B (its unread count follows)."""

from __future__ import annotations

import asyncio

import pytest

from tests.scaleout.clients import Sockets
from tests.scaleout.cluster import Api, Pair, http_client

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.asyncio]


async def test_a_read_on_a_reaches_the_customer_and_the_agents_tab_on_b(pair: Pair) -> None:
    a, b = pair.a, pair.b
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(a.base_url)
        q = await api.queue(a.base_url, admin, "Support")
        (ana,) = await api.agents(a.base_url, admin, q, 1)
        customer = await api.guest(a.base_url, "Carla")
        chat_id = await api.start_chat(a.base_url, customer, q, "Hello")
        await api.accept(a.base_url, ana, chat_id)
        cust_ws = await sockets.subscribed(b.ws_url, customer, chat_id)
        other_tab = await sockets.open(b.ws_url, ana)
        await other_tab.request({"type": "ping"}, lambda f: f["type"] == "pong")
        reading = await sockets.subscribed(a.ws_url, ana, chat_id)
        seq = max(e["seq"] for e in reading.events(chat_id))

        await reading.send({"type": "read", "chat_id": chat_id, "seq": seq})
        told = await cust_ws.wait_for(lambda f: f["type"] == "read", timeout=10)
        assert told == {"type": "read", "chat_id": chat_id, "role": "agent", "seq": seq}
        own = await other_tab.wait_for(lambda f: f["type"] == "read", timeout=10)
        assert own["own"] is True and own["seq"] == seq
