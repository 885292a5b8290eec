"""Text the server writes for a reader comes in the reader's language: the transcript (text
and printable page) and the default greeting sent on accept; an operator's own greeting is
sent as written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import accepted_chat, events, make_queue, make_user

pytestmark = pytest.mark.asyncio


async def _german_customer(app: FastAPI, client: httpx.AsyncClient) -> Any:
    customer = await make_user(app, "customer", name="Greta", email="greta@example.com")
    r = await client.patch("/api/v1/me", json={"locale": "de"}, headers=customer.headers)
    assert r.status_code == 200, r.text
    return customer


async def test_the_default_greeting_reaches_the_customer_in_their_language(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    customer = await _german_customer(app, client)
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    chat = await accepted_chat(client, customer, agent, q)
    said = [
        e["data"]["text"]
        for e in await events(client, customer, chat["id"])
        if e["type"] == "message.posted" and e["actor"]["role"] == "agent"
    ]
    assert said == ["Willkommen, mein Name ist Ana. Wie kann ich Ihnen heute helfen?"]


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    own = "own_greeting" in request.node.name
    return {"greeting": "Moin, {agent.name} here."} if own else {}


async def test_an_operators_own_greeting_is_sent_as_written(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    customer = await _german_customer(app, client)
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    chat = await accepted_chat(client, customer, agent, q)
    texts = [e["data"].get("text") for e in await events(client, customer, chat["id"])]
    assert "Moin, Ana here." in texts


async def test_the_transcript_speaks_the_readers_language(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    customer = await _german_customer(app, client)
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    chat = await accepted_chat(client, customer, agent, q)
    cid = chat["id"]
    await client.post(f"/api/v1/chats/{cid}/solve", headers=agent.headers)

    # The customer's own language (their account), the agent's browser, then ?lang=.
    german = (await client.get(f"/api/v1/chats/{cid}/transcript", headers=customer.headers)).text
    assert "Warteschlange: Support" in german and "Status: Gelöst" in german
    assert "Greta hat den Chat begonnen." in german and "Ana ist dem Chat beigetreten." in german
    spanish = (
        await client.get(
            f"/api/v1/chats/{cid}/transcript",
            headers={**agent.headers, "Accept-Language": "es-ES,es;q=0.9"},
        )
    ).text
    assert "Cola: Support" in spanish and "Estado: Resuelto" in spanish
    assert "Ana marcó el chat como resuelto." in spanish
    french = (
        await client.get(
            f"/api/v1/chats/{cid}/transcript", params={"lang": "fr"}, headers=agent.headers
        )
    ).text
    assert "File : Support" in french and "Ana a rejoint la conversation." in french
    english = (await client.get(f"/api/v1/chats/{cid}/transcript", headers=agent.headers)).text
    assert "Queue: Support" in english and "Ana marked the chat as solved." in english

    # The printable page too, dates formatted for the locale (babel's CLDR formats).
    page = await client.get(f"/transcript/{cid}", params={"lang": "de"}, headers=customer.headers)
    assert page.status_code == 200
    assert "Gelöst" in page.text and "Greta hat den Chat begonnen." in page.text
    assert " UTC</time>" in page.text and ", " in page.text.split("<time>")[1].split("</time>")[0]
