"""The share of chats that met their first-response target, per queue and agent, in the report
and its CSV, from stored outcomes that retention keeps."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.governance import retention
from helpline.kit.clock import FrozenClock, now
from helpline.sweeper import Sweeper
from tests.fixtures.factories import ctx_of, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio
DAY = 86400


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "retention_days": 30,
        "session_idle_s": 3650 * DAY,
        "session_max_s": 3650 * DAY,
        "offline_grace_s": 3650 * DAY,
        "inactivity_warn_s": 3650 * DAY,
    }


async def _chat(client: httpx.AsyncClient, app: FastAPI, q: str, agent: Any) -> str:
    """A new chat in `q`, accepted by `agent` (the greeting does not answer it)."""
    chat = await start_chat(client, await make_user(app, "customer"), q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
    assert r.status_code == 200, r.text
    return str(chat["id"])


async def _answer(client: httpx.AsyncClient, cid: str, agent: Any) -> None:
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Hello!", "client_id": f"a-{cid}"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text


async def _solve(client: httpx.AsyncClient, cid: str, agent: Any) -> None:
    r = await client.post(f"/api/v1/chats/{cid}/solve", headers=agent.headers)
    assert r.status_code == 200, r.text


async def test_share_met_per_queue_and_agent_with_csv_kept_after_retention(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    support = await make_queue(app, "Support", max_wait_s=3600, sla={"first_response_s": 60})
    billing = await make_queue(app, "Billing", max_wait_s=3600)  # no target: not counted
    ana = await make_user(app, "agent", name="Ana", queues=[support, billing], max_chats=10)
    ben = await make_user(app, "agent", name="Ben", queues=[support], max_chats=10)
    admin = await make_user(app, "admin")
    sweeper = Sweeper(ctx_of(app))
    # The frozen clock starts at the real time: the hour it moves on may cross midnight.
    first_day = now().date().isoformat()

    # Ana: answers one in time (met), one breached by the sweeper (missed).
    met = await _chat(client, app, support, ana)
    frozen_clock.advance(30)
    await _answer(client, met, ana)
    late = await _chat(client, app, support, ana)
    frozen_clock.advance(61)
    await sweeper.run_once()
    await _answer(client, late, ana)
    # Ben: answers after the due time before any sweep ran: missed all the same.
    slow = await _chat(client, app, support, ben)
    frozen_clock.advance(90)
    await _answer(client, slow, ben)
    # Ben: one met; Billing's chat has no target.
    quick = await _chat(client, app, support, ben)
    await _answer(client, quick, ben)
    other = await _chat(client, app, billing, ana)
    frozen_clock.advance(120)
    await _answer(client, other, ana)
    for cid, who in ((met, ana), (late, ana), (slow, ben), (quick, ben), (other, ana)):
        await _solve(client, cid, who)
    last_day = now().date().isoformat()

    async def report() -> dict[str, Any]:
        r = await client.get(
            "/api/v1/reports/summary",
            params={"from": first_day, "to": last_day},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    before = await report()
    assert before["sla"] == {"met": 2, "missed": 2, "share": 0.5}
    queues = {q["name"]: q for q in before["queues"]}
    assert (queues["Support"]["sla_met"], queues["Support"]["sla_missed"]) == (2, 2)
    assert queues["Support"]["sla_met_share"] == 0.5
    assert queues["Billing"]["sla_met_share"] is None and queues["Billing"]["sla_met"] == 0
    agents = {a["name"]: a for a in before["agents"]}
    assert (agents["Ana"]["sla_met"], agents["Ana"]["sla_missed"]) == (1, 1)
    assert (agents["Ben"]["sla_met"], agents["Ben"]["sla_missed"]) == (1, 1)

    expected = {"queues": ("Support", ("2", "2", "0.5")), "agents": ("Ana", ("1", "1", "0.5"))}
    for table, (name, numbers) in expected.items():
        r = await client.get(
            "/api/v1/reports/export.csv",
            params={"table": table, "from": first_day, "to": last_day},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        rows = list(csv.DictReader(io.StringIO(r.text)))
        row = next(x for x in rows if name in (x.get("queue"), x.get("agent")))
        assert (row["sla_met"], row["sla_missed"], row["sla_met_share"]) == numbers

    # Retention removes the chats; the report reads the outcomes it kept.
    frozen_clock.advance(31 * DAY)
    removed = await retention.run(ctx_of(app), "test")
    assert removed is not None and removed.chats == 5
    assert await report() == before
