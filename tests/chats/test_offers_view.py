"""A connecting agent's offers are read as columns (no ORM objects) and shaped by the same
`chat_dict` as every other chat: the two kinds of row must give the same shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.accounts.models import User
from helpline.chats import repository as repo
from helpline.chats.access import with_tags
from helpline.chats.shapes import chat_dict
from tests.fixtures.factories import accepted_chat, ctx_of, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


async def _tag(client: httpx.AsyncClient, admin: Any, name: str) -> str:
    r = await client.post("/api/v1/tags", json={"name": name}, headers=admin.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_waiting_views_shape_exactly_as_the_chats_rows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support", sla={"first_response_s": 1800})
    other = await make_queue(app, "Billing")
    admin = await make_user(app, "admin")
    sue = await make_user(app, "supervisor")
    ana = await make_user(app, "agent", name="Ana", queues=[q, other])
    customers = [
        await make_user(app, "customer", name=n)
        for n in ("Carla", "Dörte", "Eli", "Fay", "Gus", "Hal")
    ]
    plain = await start_chat(client, customers[0], q)
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": q, "message": "Hi", "subject": "Invoice 12",
              "context": {"page_url": "https://shop.example/cart", "locale": "de"}},
        headers={**customers[1].headers, "User-Agent": "TestBrowser/1.0"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    with_context = r.json()
    tagged = await start_chat(client, customers[2], q)
    tags = [await _tag(client, admin, n) for n in ("vip", "Billing")]
    r = await client.put(
        f"/api/v1/chats/{tagged['id']}/tags", json={"tag_ids": tags}, headers=sue.headers
    )
    assert r.status_code == 200, r.text
    # Moved here from another queue after an agent had it: waiting again, in this queue.
    moved = await accepted_chat(client, customers[3], ana, other)
    r = await client.post(
        f"/api/v1/chats/{moved['id']}/move", json={"queue_id": q}, headers=ana.headers
    )
    assert r.status_code == 200, r.text
    # Not waiting here: in progress, and waiting in another queue.
    await accepted_chat(client, customers[4], ana, q)
    await start_chat(client, customers[5], other)

    async with ctx_of(app).boundary.read() as uow:
        views = await with_tags(
            uow, await repo.waiting_views_in_queues(uow.session, [q]), repo.waiting_ids([q])
        )
        rows = [await repo.get_row(uow.session, v.chat.id) for v in views]
        assert all(r is not None for r in rows)
        full = await with_tags(uow, [r for r in rows if r is not None])

    expected = [plain["id"], with_context["id"], tagged["id"], moved["id"]]
    assert [v.chat.id for v in views] == expected  # oldest first
    shaped = [chat_dict(v) for v in views]
    assert shaped == [chat_dict(r) for r in full]
    # The comparison is about something: these carry what a view must carry.
    by_id = {s["id"]: s for s in shaped}
    assert [t["name"] for t in by_id[tagged["id"]]["tags"]] == ["Billing", "vip"]
    assert by_id[with_context["id"]]["context"]["page_url"] == "https://shop.example/cart"
    assert by_id[with_context["id"]]["customer"] == {"id": customers[1].id, "name": "Dörte"}
    assert by_id[with_context["id"]]["subject"] == "Invoice 12"
    assert by_id[plain["id"]]["sla"]["first_response_due_at"] is not None
    assert by_id[plain["id"]]["queue"] == {"id": q, "name": "Support"}


async def test_no_queues_or_no_waiting_chats_read_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    async with ctx_of(app).boundary.read() as uow:
        assert await repo.waiting_views_in_queues(uow.session, []) == []
        views = await repo.waiting_views_in_queues(uow.session, [q])
        assert await with_tags(uow, views, repo.waiting_ids([q])) == []


async def test_who_is_eligible_for_an_offer_read_as_ids(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Each new chat asks which connected agents may be offered it: the ids-only query gives
    exactly the members that routing's candidates give."""
    q = await make_queue(app, "Support")
    ready = await make_user(app, "agent", queues=[q])
    lead = await make_user(app, "supervisor", queues=[q])
    away = await make_user(app, "agent", queues=[q], status="away")
    full = await make_user(app, "agent", queues=[q], max_chats=1)
    gone = await make_user(app, "agent", queues=[q])
    elsewhere = await make_user(app, "agent")
    await accepted_chat(client, await make_user(app, "customer"), full, q)
    async with ctx_of(app).db.write() as uow:
        user = await uow.session.get(User, gone.id)
        assert user is not None
        user.active = False
    asked = [p.id for p in (ready, lead, away, full, gone, elsewhere)]
    async with ctx_of(app).boundary.read() as uow:
        ids = await repo.eligible_ids(uow.session, q, asked)
        found = await repo.candidates(uow.session, q, user_ids=asked)
        assert await repo.eligible_ids(uow.session, q, []) == set()
    assert ids == {ready.id, lead.id} == {u.id for u, _ in found}
