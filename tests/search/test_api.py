"""GET /search: words in messages, notes, subjects, customers and requests, by who may see them;
the index follows every write, update and delete made in the database (decision 016)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, text, update

from helpline.accounts.models import User
from helpline.chats.models import Chat, ChatEvent, ChatParticipant
from helpline.search import backlog
from helpline.servicedesk.models import RequestEntry, ServiceRequest
from tests.conftest import BACKEND
from tests.fixtures.factories import Person, accepted_chat, ctx_of, make_queue, make_user

pytestmark = pytest.mark.asyncio

URL = "/api/v1/search"
_client_ids = itertools.count(1)


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    other = await make_queue(app, "Billing")
    return {
        "q": q,
        "other": other,
        "carla": await make_user(app, "customer", name="Carla Customer", email="carla@shop.test"),
        "dan": await make_user(app, "customer", name="Dan Doe", email="dan@mail.test"),
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "bill": await make_user(app, "agent", name="Bill", queues=[other]),
        "sue": await make_user(app, "supervisor", name="Sue"),
        "adam": await make_user(app, "admin", name="Adam"),
    }


async def say(client: httpx.AsyncClient, who: Person, chat_id: str, words: str) -> int:
    r = await client.post(
        f"/api/v1/chats/{chat_id}/messages",
        json={"text": words, "client_id": f"c{next(_client_ids)}"},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["seq"])


async def note(client: httpx.AsyncClient, who: Person, chat_id: str, words: str) -> int:
    r = await client.post(
        f"/api/v1/chats/{chat_id}/notes", json={"text": words}, headers=who.headers
    )
    assert r.status_code == 201, r.text
    return int(r.json()["seq"])


async def find(client: httpx.AsyncClient, who: Person, q: str, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params={"q": q, **params}, headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def hits(client: httpx.AsyncClient, who: Person, q: str, **params: Any) -> list[Any]:
    return [
        (i["kind"], i["chat_id"], i["seq"]) for i in (await find(client, who, q, **params))["items"]
    ]


async def test_words_in_messages_are_found_case_insensitively_every_word_and_prefix(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    chat = await accepted_chat(client, carla, ana, world["q"])
    cid = chat["id"]
    s1 = await say(client, carla, cid, "My Invoice number 4711 was charged twice")
    s2 = await say(client, ana, cid, "I will refund the invoice today")
    page = await find(client, ana, "INVOICE")
    assert [(i["kind"], i["seq"]) for i in page["items"]] == [("message", s2), ("message", s1)]
    first = page["items"][0]
    assert first["chat_id"] == cid and first["reference"] == chat["reference"]
    assert first["snippet"] == "I will refund the invoice today" and first["at"]
    assert page["next"] is None
    # Every word must match, in any order, within one message.
    assert await hits(client, ana, "invoice twice") == [("message", cid, s1)]
    assert await hits(client, ana, "twice refund") == []
    # A trailing * is a prefix; without it words match whole.
    assert await hits(client, ana, "refu") == []
    assert await hits(client, ana, "refu*") == [("message", cid, s2)]
    assert await hits(client, ana, "invoic* 47*") == [("message", cid, s1)]
    # Punctuation is no syntax: a word with dots is its parts, in order.
    assert await hits(client, ana, "number.4711") == [("message", cid, s1)]


async def test_customers_find_only_their_own_chats_and_never_notes(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    carla, dan, ana = world["carla"], world["dan"], world["ana"]
    mine = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    theirs = (await accepted_chat(client, dan, world["bill"], world["other"]))["id"]
    s_mine = await say(client, carla, mine, "parcel arrived broken")
    s_theirs = await say(client, dan, theirs, "parcel never arrived")
    n = await note(client, ana, mine, "parcel courier known for breakage")
    assert await hits(client, carla, "parcel") == [("message", mine, s_mine)]
    assert await hits(client, dan, "parcel") == [("message", theirs, s_theirs)]
    assert await hits(client, carla, "courier") == []
    # Staff: notes are found, as kind note, by those who see the chat.
    assert await hits(client, ana, "courier") == [("note", mine, n)]
    assert await hits(client, world["sue"], "parcel") == [
        ("note", mine, n),
        ("message", theirs, s_theirs),
        ("message", mine, s_mine),
    ]


async def test_agents_find_their_queues_chats_only(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana, bill = world["ana"], world["bill"]
    support = (await accepted_chat(client, world["carla"], ana, world["q"]))["id"]
    billing = (await accepted_chat(client, world["dan"], bill, world["other"]))["id"]
    s1 = await say(client, ana, support, "password reset link sent")
    s2 = await say(client, bill, billing, "password is not our topic")
    assert await hits(client, ana, "password") == [("message", support, s1)]
    assert await hits(client, bill, "password") == [("message", billing, s2)]
    # Filters narrow what the caller sees, never widen it.
    assert await hits(client, ana, "password", queue_id=world["other"]) == []
    assert await hits(client, world["sue"], "password", queue_id=world["other"]) == [
        ("message", billing, s2)
    ]
    assert await hits(client, world["sue"], "password", agent_id=ana.id) == [
        ("message", support, s1)
    ]
    assert await hits(client, world["sue"], "password", status="solved") == []
    assert len(await hits(client, world["sue"], "password", status="in_progress")) == 2
    assert await hits(client, world["sue"], "password", **{"from": "2999-01-01"}) == []
    assert len(await hits(client, world["sue"], "password", to="2999-01-01")) == 2


async def test_tag_filter_finds_tagged_chats_and_the_requests_raised_from_them(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana, adam = world["ana"], world["adam"]
    tagged = (await accepted_chat(client, world["carla"], ana, world["q"]))["id"]
    plain = (await accepted_chat(client, world["dan"], ana, world["q"]))["id"]
    r = await client.post("/api/v1/tags", json={"name": "vip"}, headers=adam.headers)
    assert r.status_code == 201, r.text
    tag = r.json()["id"]
    r = await client.put(
        f"/api/v1/chats/{tagged}/tags", json={"tag_ids": [tag]}, headers=ana.headers
    )
    assert r.status_code == 200, r.text
    s1 = await say(client, ana, tagged, "warranty question")
    await say(client, ana, plain, "warranty question")
    raised = await client.post(
        f"/api/v1/chats/{tagged}/requests", json={"summary": "warranty claim"}, headers=ana.headers
    )
    assert raised.status_code == 201
    await client.post(
        "/api/v1/requests", json={"summary": "warranty"}, headers=world["dan"].headers
    )
    assert await hits(client, ana, "warranty", tag=tag) == [
        ("request", tagged, None),
        ("message", tagged, s1),
    ]
    # Without the filter: both chats, the raised request and Dan's own (in the default queue).
    assert len(await hits(client, ana, "warranty")) == 4


async def test_subjects_customers_requests_and_comments_are_found(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": world["q"], "subject": "Shipping to Tromsø", "message": "hello"},
        headers=carla.headers,
    )
    assert r.status_code == 201, r.text
    chat = r.json()
    assert (await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=ana.headers)).is_success
    assert await hits(client, ana, "tromsø") == [("subject", chat["id"], None)]
    # Customers by name and e-mail (its parts are words too).
    page = await find(client, ana, "carla@shop.test")
    assert [(i["kind"], i["chat_id"]) for i in page["items"]] == [("customer", chat["id"])]
    assert page["items"][0]["snippet"] == "Carla Customer <carla@shop.test>"
    assert await hits(client, ana, "shop") == [("customer", chat["id"], None)]
    raised = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": "Customs form missing", "description": "Needs the EORI number"},
        headers=ana.headers,
    )
    assert raised.status_code == 201, raised.text
    ref = raised.json()["reference"]
    page = await find(client, carla, "eori")
    assert [(i["kind"], i["chat_id"], i["reference"]) for i in page["items"]] == [
        ("request", chat["id"], ref)
    ]
    assert page["items"][0]["snippet"] == "Customs form missing — Needs the EORI number"
    for words, internal in (
        ("customs office phoned back", False),
        ("customs broker is slow", True),
    ):
        r = await client.post(
            f"/api/v1/requests/{ref}/comments",
            json={"text": words, "internal": internal},
            headers=ana.headers,
        )
        assert r.status_code == 201, r.text
    staff = await find(client, ana, "customs")
    assert [i["snippet"] for i in staff["items"]] == [
        "customs broker is slow",
        "customs office phoned back",
        "Customs form missing — Needs the EORI number",
    ]
    customer = await find(client, carla, "customs")
    assert [i["snippet"] for i in customer["items"]] == [
        "customs office phoned back",
        "Customs form missing — Needs the EORI number",
    ]
    assert (await find(client, world["dan"], "customs"))["items"] == []
    assert (await find(client, world["bill"], "customs"))["items"] == []


@pytest.mark.parametrize(
    "q",
    ["", "   ", "*", '"" ()', "AND OR NOT", "- + ^ : ?", "NEAR(", "!&|"],
)
async def test_empty_query_or_only_operators_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], q: str
) -> None:
    r = await client.get(URL, params={"q": q}, headers=world["ana"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "empty_query"


async def test_bad_parameters_are_422(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    ana = world["ana"]
    for params in (
        {},
        {"q": "x", "cursor": "abc"},
        {"q": "x", "cursor": "1.2.3"},
        {"q": "x", "cursor": "n.99999999999.n.n.n"},
        {"q": "x", "status": "lost"},
        {"q": "x", "from": "2026-13-01"},
        {"q": "x", "to": "2026-01-01T00:00:00Z"},
        {"q": "x", "limit": "0"},
        {"q": " ".join(f"w{i}" for i in range(17))},
    ):
        r = await client.get(URL, params=params, headers=ana.headers)
        assert r.status_code == 422, (params, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}
    assert (await client.get(URL, params={"q": "x"})).status_code == 401


@pytest.mark.parametrize(
    "q",
    [
        'refund" OR "x',
        "refund NEAR (a b)",
        "body: refund",
        "{body}: refund",
        "^refund",
        "refund -x",
        "refund*)",
        "refund & !x",
        "refund | x",
        "refund:*",
        "refund <-> x",
        "'refund'",
        "refund\\",
        "(refund",
    ],
)
async def test_engine_syntax_in_a_query_is_just_words(
    client: httpx.AsyncClient, world: dict[str, Any], q: str
) -> None:
    ana = world["ana"]
    cid = (await accepted_chat(client, world["carla"], ana, world["q"]))["id"]
    seq = await say(client, ana, cid, "Refund x issued; body a b")
    r = await client.get(URL, params={"q": q}, headers=ana.headers)
    assert r.status_code == 200, r.text
    assert [(i["kind"], i["seq"]) for i in r.json()["items"]] == [("message", seq)]


async def test_cursor_pages_through_every_hit_once_newest_first(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    chat = await accepted_chat(client, carla, ana, world["q"])
    cid = chat["id"]
    seqs = [await say(client, carla, cid, f"tracking update {i}") for i in range(5)]
    n = await note(client, ana, cid, "tracking looks stuck")
    r = await client.post(
        "/api/v1/requests", json={"summary": "Tracking never moves"}, headers=carla.headers
    )
    assert r.status_code == 201
    seen: list[tuple[str, int | None]] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await find(client, ana, "tracking", **params)
        pages += 1
        assert len(page["items"]) <= 2
        seen += [(i["kind"], i["seq"]) for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    expected = [("request", None), ("note", n)] + [("message", s) for s in reversed(seqs)]
    assert seen == expected and pages == 4


async def _write(app: FastAPI, *statements: Any) -> None:
    async with ctx_of(app).db.write() as uow:
        for s in statements:
            await uow.session.execute(s)


async def test_erased_text_is_found_by_its_new_words_never_the_old(
    client: httpx.AsyncClient, app: FastAPI, world: dict[str, Any]
) -> None:
    """Erasure (another domain) only writes the rows; the database keeps the index in step."""
    carla, ana = world["carla"], world["ana"]
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": world["q"], "subject": "Secret sauce", "message": "my sesame allergy"},
        headers=carla.headers,
    )
    chat = r.json()
    await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=ana.headers)
    raised = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": "Allergy list", "description": "sesame"},
        headers=ana.headers,
    )
    ref = raised.json()["reference"]
    await client.post(
        f"/api/v1/requests/{ref}/comments", json={"text": "sesame confirmed"}, headers=ana.headers
    )
    assert len((await find(client, ana, "sesame"))["items"]) == 3
    assert len((await find(client, ana, "carla"))["items"]) == 1
    erased = {"text": "[erased]"}
    await _write(
        app,
        update(ChatEvent)
        .where(ChatEvent.chat_id == chat["id"], ChatEvent.type == "message.posted")
        .values(data=erased),
        update(Chat).where(Chat.id == chat["id"]).values(subject="[erased]"),
        update(ServiceRequest)
        .where(ServiceRequest.reference == ref)
        .values(summary="[erased]", description="[erased]"),
        update(RequestEntry).where(RequestEntry.type == "comment").values(data=erased),
        update(User).where(User.id == carla.id).values(name="Erased customer", email=""),
    )
    for old in ("sesame", "secret", "allergy", "carla", "shop.test"):
        assert (await find(client, ana, old))["items"] == [], old
    found = (await find(client, ana, "erased"))["items"]
    assert {i["kind"] for i in found} == {"customer", "message", "request", "subject"}
    assert all("erased" in i["snippet"].lower() for i in found)
    assert ("customer", "Erased customer") in {(i["kind"], i["snippet"]) for i in found}
    await assert_index_in_step(app)


async def test_removed_chats_and_requests_are_never_found(
    client: httpx.AsyncClient, app: FastAPI, world: dict[str, Any]
) -> None:
    """Retention (another domain) deletes the rows; their words leave the index with them."""
    carla, ana = world["carla"], world["ana"]
    chat = await accepted_chat(client, carla, ana, world["q"])
    cid = chat["id"]
    await say(client, carla, cid, "ephemeral words here")
    await note(client, ana, cid, "ephemeral note")
    raised = await client.post(
        f"/api/v1/chats/{cid}/requests", json={"summary": "ephemeral request"}, headers=ana.headers
    )
    ref = raised.json()["reference"]
    await client.post(
        f"/api/v1/requests/{ref}/comments", json={"text": "ephemeral comment"}, headers=ana.headers
    )
    assert len((await find(client, ana, "ephemeral"))["items"]) == 4
    req_id = (await client.get(f"/api/v1/requests/{ref}", headers=ana.headers)).json()["id"]
    await _write(
        app,
        delete(RequestEntry).where(RequestEntry.request_id == req_id),
        delete(ServiceRequest).where(ServiceRequest.id == req_id),
        delete(ChatEvent).where(ChatEvent.chat_id == cid),
        delete(ChatParticipant).where(ChatParticipant.chat_id == cid),
        delete(Chat).where(Chat.id == cid),
    )
    assert (await find(client, ana, "ephemeral"))["items"] == []
    assert (await find(client, ana, "carla"))["items"] == []
    await assert_index_in_step(app)


async def assert_index_in_step(app: FastAPI) -> None:
    """SQLite: FTS5's own check that every external-content index matches its content, and
    that the message index's file holds exactly the indexed events as they are now."""
    if BACKEND != "sqlite":
        return
    db = ctx_of(app).db
    async with db.write() as uow:
        for fts in ("search_chats", "search_requests", "search_request_comments"):
            await uow.session.execute(
                text(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
            )
    indexer = db.services["search_backlog"]
    await indexer.catch_up()
    assert db.sqlite_path is not None
    conn = backlog.connect(db.sqlite_path)
    try:
        conn.execute("INSERT INTO search.message_index(message_index) VALUES ('integrity-check')")
        held = conn.execute("SELECT rowid, body, owner FROM search.message_index ORDER BY rowid")
        expected = conn.execute(
            "SELECT e.id, json_extract(e.data, '$.text'), 'u' || c.customer_id "
            "FROM chat_events e JOIN chats c ON c.id = e.chat_id "
            "WHERE e.type IN ('message.posted', 'note.added') ORDER BY e.id"
        )
        assert held.fetchall() == expected.fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("window", "rare"), [(10**9, 2000), (0, 2000), (0, 0), (2, 2000), (2, 0), (1, 2000)]
)
async def test_every_plan_for_messages_and_subjects_finds_the_same(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    window: int,
    rare: int,
) -> None:
    """PostgreSQL walks the newest `repository.WINDOW` keys of messages and subjects first,
    then reads the rest through the GIN index (fewer than `repository.RARE` matches) or walks
    on: the whole walk, the index alone, the walk alone past the window, and a page split
    between the window and the rest all answer alike, paging included."""
    from helpline.search import repository

    monkeypatch.setattr(repository, "WINDOW", window)
    monkeypatch.setattr(repository, "RARE", rare)
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    seqs = [await say(client, carla, cid, f"gadget broke {i}") for i in range(3)]
    page = await find(client, ana, "gadget", limit=2)
    assert [i["seq"] for i in page["items"]] == [seqs[2], seqs[1]]
    rest = await find(client, ana, "gadget", limit=2, cursor=page["next"])
    assert [i["seq"] for i in rest["items"]] == [seqs[0]] and rest["next"] is None
    # Subjects: four chats, one of them in a queue Ana does not see, between the others.
    chats = []
    for n, queue in enumerate([world["q"], world["other"], world["q"], world["q"]]):
        customer = await make_user(app, "customer", name=f"Customer {n}")
        r = await client.post(
            "/api/v1/chats",
            json={"queue_id": queue, "subject": f"Widget trouble {n}", "message": "hello"},
            headers=customer.headers,
        )
        assert r.status_code == 201, r.text
        chats.append(r.json()["id"])
    page = await find(client, ana, "widget", limit=2)
    assert [i["chat_id"] for i in page["items"]] == [chats[3], chats[2]]
    rest = await find(client, ana, "widget", limit=2, cursor=page["next"])
    assert [i["chat_id"] for i in rest["items"]] == [chats[0]] and rest["next"] is None
