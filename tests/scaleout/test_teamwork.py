"""Teamwork across processes: a hand-over made on process A reaches the new owner's socket on
process B with the chat's whole history, and a requeue made on A tells the customer on B
their position again."""

from __future__ import annotations

import asyncio

import pytest

from tests.scaleout.clients import Sockets
from tests.scaleout.cluster import API, Api, Pair, http_client, ok

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.asyncio]


async def test_transfer_on_a_reaches_the_new_owner_and_the_customer_on_b(pair: Pair) -> None:
    a, b = pair.a, pair.b
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(a.base_url)
        q = await api.queue(a.base_url, admin, "Support")
        ana, ben = await api.agents(a.base_url, admin, q, 2)
        customer = await api.guest(a.base_url, "Carla")
        chat_id = await api.start_chat(a.base_url, customer, q, "Hello")
        await api.accept(a.base_url, ana, chat_id)
        ben_ws = await sockets.open(b.ws_url, ben)
        await ben_ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        cust_ws = await sockets.subscribed(b.ws_url, customer, chat_id)

        r = await http.post(
            a.base_url + API + f"/chats/{chat_id}/transfer",
            json={"agent_id": ben.id, "note": "VIP customer"},
            headers=ana.headers,
        )
        ok(r)
        assigned = await ben_ws.wait_for(lambda f: f["type"] == "chat.assigned", timeout=10)
        assert assigned["chat"]["id"] == chat_id and assigned["chat"]["agent"]["id"] == ben.id
        history = assigned["events"]
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
        assert history[-1]["type"] == "chat.transferred"
        assert history[-1]["data"]["note"] == "VIP customer"
        told = await cust_ws.event(chat_id, "chat.transferred", timeout=10)
        assert "note" not in told["data"] and told["data"]["to_agent"]["id"] == ben.id

        # Ben is set offline on A: the chat goes back to the queue, the customer on B hears it.
        start = len(cust_ws.frames)
        r = await http.put(
            a.base_url + API + f"/users/{ben.id}/status",
            json={"status": "offline"},
            headers=admin.headers,
        )
        ok(r)
        requeued = await cust_ws.event(chat_id, "chat.requeued", timeout=10)
        assert requeued["data"]["from_agent"]["id"] == ben.id
        position = await cust_ws.wait_for(
            lambda f: f["type"] == "queue.position" and f["chat_id"] == chat_id,
            timeout=10,
            start=start,
        )
        assert position["position"] == 1
