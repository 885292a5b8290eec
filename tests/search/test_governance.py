"""Search after the real erasure and retention (the governance code writes rows and knows
nothing of the index; the database keeps it in step, decision 016)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.governance import retention
from helpline.kit.clock import FrozenClock
from tests.fixtures.factories import Person, ctx_of, make_queue
from tests.governance.support import History, history
from tests.search.test_api import assert_index_in_step

pytestmark = pytest.mark.asyncio
DAY = 86400


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "retention_days": 30,
        "retention_interval_s": 3600,
        "session_idle_s": 3650 * DAY,
        "session_max_s": 3650 * DAY,
    }


async def found(client: httpx.AsyncClient, who: Person, q: str) -> list[str]:
    r = await client.get("/api/v1/search", params={"q": q}, headers=who.headers)
    assert r.status_code == 200, r.text
    return [i["kind"] for i in r.json()["items"]]


async def everything_about(client: httpx.AsyncClient, h: History) -> dict[str, list[str]]:
    words = (h.secret, "Wilhelmina", h.customer.email)
    return {w: sorted(await found(client, h.admin, w)) for w in words}


async def test_an_erased_customer_is_never_found_again(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = await history(app, client, await make_queue(app, "Support"))
    before = await everything_about(client, h)
    assert {"message", "note", "subject", "request"} <= set(before[h.secret])
    assert before["Wilhelmina"] and before[h.customer.email] == ["customer"]
    r = await client.post(
        f"/api/v1/customers/{h.customer.id}/erase",
        json={"confirm": h.customer.email},
        headers=h.admin.headers,
    )
    assert r.status_code == 200, r.text
    assert await everything_about(client, h) == {
        h.secret: [],
        "Wilhelmina": [],
        h.customer.email: [],
    }
    assert "customer" in await found(client, h.admin, "erased")
    await assert_index_in_step(app)


async def test_chats_removed_by_retention_are_never_found_again(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock, data_dir: Path
) -> None:
    h = await history(app, client, await make_queue(app, "Support"))
    assert await found(client, h.admin, h.secret)
    r = await client.patch(
        f"/api/v1/requests/{h.request['reference']}",
        json={"status": "cancelled"},
        headers=h.agent.headers,
    )
    assert r.status_code == 200, r.text
    frozen_clock.advance(31 * DAY)
    removed = await retention.run(ctx_of(app), "test")
    assert removed is not None and removed.chats == 1
    assert await found(client, h.admin, h.secret) == []
    # The account stays (retention removes conversations): found as a person no more, since
    # search finds people through their chats.
    assert await found(client, h.admin, "Wilhelmina") == []
    await assert_index_in_step(app)
