"""Access taken away on process A reaches the sockets already open on process B.

Every change and every later news is published by A, whose bus writer keeps them in order; a
barrier (the user's own status change, published last) shows that nothing else followed.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.wsclient import WSClient, frames_about
from tests.scaleout.clients import Sockets
from tests.scaleout.cluster import AGENT_PASSWORD, API, Api, Pair, Person, http_client, ok

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.asyncio]


async def _staff(api: Api, base: str, admin: Person, role: str, label: str) -> Person:
    email = f"{label}-{api.run}@example.com"
    r = await api.http.post(
        base + API + "/users",
        json={"email": email, "name": label, "role": role, "password": AGENT_PASSWORD},
        headers=admin.headers,
    )
    ok(r, 201)
    return await api.login(base, email, AGENT_PASSWORD)


async def test_remove_demote_deactivate_on_a_silences_sockets_on_b(pair: Pair) -> None:
    a, b = pair.a, pair.b
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(a.base_url)
        q = await api.queue(a.base_url, admin, "Support")
        removed, deactivated = await api.agents(a.base_url, admin, q, 2)
        supervisor = await _staff(api, a.base_url, admin, "supervisor", "sup")
        customer = await api.guest(a.base_url, "Carla")
        chat_id = await api.start_chat(a.base_url, customer, q, "Hello")
        ws: dict[str, WSClient] = {}
        for who in (removed, deactivated, supervisor):
            ws[who.id] = await sockets.subscribed(b.ws_url, who, chat_id)

        # Remove: the agent leaves the queue (the other stays a member).
        r = await http.put(
            a.base_url + API + f"/queues/{q}/members",
            json={"user_ids": [deactivated.id]},
            headers=admin.headers,
        )
        ok(r)
        gone = await ws[removed.id].wait_for(lambda f: f["type"] == "unsubscribed")
        assert gone == {"type": "unsubscribed", "chat_id": chat_id, "reason": "queue_removed"}

        # Demote: the supervisor becomes an agent of no queue.
        r = await http.patch(
            a.base_url + API + f"/users/{supervisor.id}",
            json={"role": "agent"},
            headers=admin.headers,
        )
        ok(r)
        gone = await ws[supervisor.id].wait_for(lambda f: f["type"] == "unsubscribed")
        assert gone == {"type": "unsubscribed", "chat_id": chat_id, "reason": "role_changed"}

        # Deactivate: the socket is closed, saying why.
        r = await http.patch(
            a.base_url + API + f"/users/{deactivated.id}",
            json={"active": False},
            headers=admin.headers,
        )
        ok(r)
        assert await asyncio.wait_for(ws[deactivated.id].closed, 10) == (4401, "deactivated")

        # The chat goes on and the queue gets another: the first two hear none of it.
        marks = {
            who.id: next(i for i, f in enumerate(ws[who.id].frames) if f["type"] == "unsubscribed")
            for who in (removed, supervisor)
        }
        r = await http.post(
            a.base_url + API + f"/chats/{chat_id}/messages",
            json={"text": "anyone?", "client_id": "c1"},
            headers=customer.headers,
        )
        ok(r, 201)
        other = await api.guest(a.base_url, "Otto")
        second = await api.start_chat(a.base_url, other, q, "Me too")
        for who in (removed, supervisor):
            r = await http.put(
                a.base_url + API + "/me/status", json={"status": "away"}, headers=who.headers
            )
            ok(r)
            client = ws[who.id]
            await client.wait_for(lambda f: f["type"] == "status" and f["status"] == "away", 10)
            end = next(
                i for i, f in enumerate(client.frames) if f == {"type": "status", "status": "away"}
            )
            assert frames_about(client.frames[marks[who.id] + 1 : end], {chat_id, second}, q) == []
        assert pair.problems() == []
