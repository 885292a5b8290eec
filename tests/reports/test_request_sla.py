"""Requests' service levels in the report: the share of requests that met their response and
resolution targets, per team queue, per assignee and per priority, in the summary and its CSV,
from stored outcomes that retention keeps."""

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
from tests.fixtures.factories import ctx_of, make_queue, make_user

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


class Desk:
    def __init__(self, client: httpx.AsyncClient, customer: Any, agent: Any) -> None:
        self.client, self.customer, self.agent = client, customer, agent

    async def raise_(self, team: str, priority: str, assignee: Any = None) -> str:
        r = await self.client.post(
            "/api/v1/requests",
            json={"summary": "Invoice", "team_id": team, "priority": priority},
            headers=self.customer.headers,
        )
        assert r.status_code == 201, r.text
        ref = str(r.json()["reference"])
        if assignee is not None:
            await self.patch(ref, assignee_id=assignee.id)
        return ref

    async def patch(self, ref: str, **body: Any) -> None:
        r = await self.client.patch(
            f"/api/v1/requests/{ref}", json=body, headers=self.agent.headers
        )
        assert r.status_code == 200, r.text

    async def answer(self, ref: str, who: Any) -> None:
        r = await self.client.post(
            f"/api/v1/requests/{ref}/comments", json={"text": "On it"}, headers=who.headers
        )
        assert r.status_code == 201, r.text

    async def resolve(self, ref: str) -> None:
        await self.patch(ref, status="open")
        await self.patch(ref, status="resolved")


def _shares(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[f"request_{target}_{c}"]
        for target in ("response", "resolution")
        for c in ("met", "missed", "met_share")
    )


async def test_request_targets_met_per_queue_agent_and_priority_with_csv_kept_after_retention(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    support = await make_queue(
        app,
        "Support",
        request_sla={
            "urgent": {"response_s": 600, "resolve_s": 3600},
            "normal": {"response_s": 1800},
        },
    )
    billing = await make_queue(app, "Billing")  # no targets: its requests count nowhere
    ana = await make_user(app, "agent", name="Ana", queues=[support, billing])
    ben = await make_user(app, "agent", name="Ben", queues=[support])
    admin = await make_user(app, "admin")
    desk = Desk(client, await make_user(app, "customer"), admin)
    sweeper = Sweeper(ctx_of(app))
    # The frozen clock starts at the real time: the hour it moves on may cross midnight.
    first_day = now().date().isoformat()

    answered = await desk.raise_(support, "critical", ana)  # both targets met
    swept = await desk.raise_(support, "critical", ana)  # both breached by the sweeper
    late = await desk.raise_(support, "medium", ben)  # answered after the due time
    nobody = await desk.raise_(support, "medium")  # met, with no assignee
    no_target = await desk.raise_(support, "low", ben)  # low has no target
    other = await desk.raise_(billing, "critical", ana)

    frozen_clock.advance(300)
    await desk.answer(answered, ana)
    await desk.answer(nobody, ben)
    frozen_clock.advance(360)  # 660 s: the urgent response is due at 600
    await sweeper.run_once()
    frozen_clock.advance(1140)  # 1800 s
    await desk.resolve(answered)
    frozen_clock.advance(100)  # 1900 s: the normal response was due at 1800; no sweep ran
    await desk.answer(late, ben)
    await desk.answer(no_target, ben)
    await desk.answer(other, ana)
    frozen_clock.advance(1800)  # 3700 s: the urgent resolution was due at 3600
    await sweeper.run_once()
    await desk.resolve(swept)
    last_day = now().date().isoformat()

    async def report(**params: str) -> dict[str, Any]:
        r = await client.get(
            "/api/v1/reports/summary",
            params={"from": first_day, "to": last_day, **params},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    before = await report()
    sla = before["request_sla"]
    assert sla["response"] == {"met": 2, "missed": 2, "share": 0.5}
    assert sla["resolution"] == {"met": 1, "missed": 1, "share": 0.5}
    priorities = {p["priority"]: p for p in sla["priorities"]}
    assert list(priorities) == ["urgent", "high", "normal", "low"]
    assert priorities["urgent"]["response"] == {"met": 1, "missed": 1, "share": 0.5}
    assert priorities["urgent"]["resolution"] == {"met": 1, "missed": 1, "share": 0.5}
    assert priorities["normal"]["response"] == {"met": 1, "missed": 1, "share": 0.5}
    assert priorities["normal"]["resolution"] == {"met": 0, "missed": 0, "share": None}
    assert priorities["low"]["response"]["share"] is None
    queues = {q["name"]: q for q in before["queues"]}
    assert _shares(queues["Support"]) == (2, 2, 0.5, 1, 1, 0.5)
    assert _shares(queues["Billing"]) == (0, 0, None, 0, 0, None)
    agents = {a["name"]: a for a in before["agents"]}
    assert _shares(agents["Ana"]) == (1, 1, 0.5, 1, 1, 0.5)
    # Ben had no chats: he is listed for his requests all the same.
    assert _shares(agents["Ben"]) == (0, 1, 0.0, 0, 0, None)
    assert agents["Ben"]["chats"] == 0

    # One queue asked for: only its requests.
    only_billing = await report(queue_id=billing)
    assert only_billing["request_sla"]["response"]["share"] is None

    async def csv_rows(table: str) -> list[dict[str, str]]:
        r = await client.get(
            "/api/v1/reports/export.csv",
            params={"table": table, "from": first_day, "to": last_day},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        return list(csv.DictReader(io.StringIO(r.text)))

    support_row = next(x for x in await csv_rows("queues") if x["queue"] == "Support")
    assert (support_row["request_response_met"], support_row["request_response_missed"]) == (
        "2",
        "2",
    )
    assert support_row["request_resolution_met_share"] == "0.5"
    ben_row = next(x for x in await csv_rows("agents") if x["agent"] == "Ben")
    assert (ben_row["request_response_met_share"], ben_row["request_resolution_met_share"]) == (
        "0.0",
        "",
    )
    by_priority = {x["priority"]: x for x in await csv_rows("request_sla")}
    assert list(by_priority) == ["urgent", "high", "normal", "low", "all"]
    assert by_priority["urgent"]["response_met"] == "1"
    assert by_priority["urgent"]["resolution_missed"] == "1"
    assert by_priority["all"]["response_met_share"] == "0.5"

    # Closed, then removed by retention: the report reads the outcomes it kept.
    for ref in (answered, swept):
        await desk.patch(ref, status="closed")
    for ref in (late, nobody, no_target, other):
        await desk.patch(ref, status="cancelled")
    frozen_clock.advance(31 * DAY)
    removed = await retention.run(ctx_of(app), "test")
    assert removed is not None and removed.requests == 6
    assert await report() == before
