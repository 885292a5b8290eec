"""Reports over a small hand-made data set (chats and requests inserted with known times), the
range rules, roles and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.chats.models import Chat
from helpline.kit.clock import FrozenClock, set_clock
from helpline.servicedesk.models import ServiceRequest
from tests.fixtures.factories import accepted_chat, ctx_of, make_queue, make_user

pytestmark = pytest.mark.asyncio

SUMMARY = "/api/v1/reports/summary"
EXPORT = "/api/v1/reports/export.csv"
RANGE = {"from": "2026-03-10", "to": "2026-03-12"}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def chat(
    n: int,
    queue_id: str,
    customer_id: str,
    status: str,
    created: datetime,
    *,
    agent_id: str | None = None,
    wait: float | None = None,
    handle: float | None = None,
    closed_after: float | None = None,
    rating: int | None = None,
) -> Chat:
    """A chat with known times: accepted `wait` s after it started, closed `handle` s later."""
    accepted = created + timedelta(seconds=wait) if wait is not None else None
    closed = None
    if accepted is not None and handle is not None:
        closed = accepted + timedelta(seconds=handle)
    elif closed_after is not None:
        closed = created + timedelta(seconds=closed_after)
    return Chat(
        id=f"chat{n}",
        number=900_000 + n,
        reference=f"CS-{900_000 + n}",
        customer_id=customer_id,
        queue_id=queue_id,
        agent_id=agent_id,
        status=status,
        created_at=created,
        waiting_since=created,
        accepted_at=accepted,
        closed_at=closed,
        updated_at=closed or accepted or created,
        rating_score=rating,
    )


def request(
    n: int, customer_id: str, team_id: str, created: datetime, chat_id: str | None
) -> ServiceRequest:
    return ServiceRequest(
        number=900_000 + n,
        reference=f"SR-{900_000 + n}",
        customer_id=customer_id,
        team_id=team_id,
        chat_id=chat_id,
        summary=f"request {n}",
        created_at=created,
        updated_at=created,
    )


@pytest_asyncio.fixture
async def data(app: FastAPI) -> dict[str, Any]:
    """Support: chats 1, 2, 4, 5; Billing: chats 3, 6; two chats just outside 10-12 March.

    | chat | queue   | day    | status    | agent | wait | handle | rating |
    | 1    | Support | 10 Mar | solved    | Ana   | 10   | 100    | 5      |
    | 2    | Support | 10 Mar | solved    | Ana   | 20   | 200    | 4      |
    | 3    | Billing | 10 Mar | solved    | Ben   | 30   | 300    | 2      |
    | 4    | Support | 11 Mar | cancelled | Ana   | 40   | 60     |        |  (+ a request)
    | 5    | Support | 11 Mar | expired   |       |      |        | 1      |
    | 6    | Billing | 11 Mar | waiting   |       |      |        |        |  (23:59:59)
    | 7    | Support |  9 Mar | solved    | Ana   | 5    | 5      | 1      |  (23:59:59)
    | 8    | Support | 13 Mar | solved    | Ana   | 5    | 5      | 1      |  (00:00:00)
    """
    support = await make_queue(app, "Support")
    billing = await make_queue(app, "Billing")
    sales = await make_queue(app, "Sales")
    await make_queue(app, "Archive", active=False)
    ana = await make_user(app, "agent", name="Ana", queues=[support])
    ben = await make_user(app, "agent", name="Ben", queues=[billing])
    carla = await make_user(app, "customer", name="Carla")
    c = carla.id
    async with ctx_of(app).db.write() as uow:
        uow.session.add_all(
            [
                chat(
                    1,
                    support,
                    c,
                    "solved",
                    at(10, 9),
                    agent_id=ana.id,
                    wait=10,
                    handle=100,
                    rating=5,
                ),
                chat(
                    2,
                    support,
                    c,
                    "solved",
                    at(10, 10),
                    agent_id=ana.id,
                    wait=20,
                    handle=200,
                    rating=4,
                ),
                chat(
                    3,
                    billing,
                    c,
                    "solved",
                    at(10, 11),
                    agent_id=ben.id,
                    wait=30,
                    handle=300,
                    rating=2,
                ),
                chat(4, support, c, "cancelled", at(11, 9), agent_id=ana.id, wait=40, handle=60),
                chat(5, support, c, "expired", at(11, 12), closed_after=600, rating=1),
                chat(6, billing, c, "waiting", at(11, 23, 59, 59)),
                chat(
                    7,
                    support,
                    c,
                    "solved",
                    at(9, 23, 59, 59),
                    agent_id=ana.id,
                    wait=5,
                    handle=5,
                    rating=1,
                ),
                chat(
                    8, support, c, "solved", at(13, 0), agent_id=ana.id, wait=5, handle=5, rating=1
                ),
            ]
        )
        await uow.session.flush()
        uow.session.add_all(
            [
                request(1, c, support, at(11, 10), "chat4"),
                request(2, c, support, at(11, 11), None),  # not from a chat
                request(3, c, support, at(13, 10), "chat4"),  # raised after the range
            ]
        )
    return {
        "support": support,
        "billing": billing,
        "sales": sales,
        "ana": ana,
        "ben": ben,
        "sup": await make_user(app, "supervisor"),
        "admin": await make_user(app, "admin"),
        "customer": carla,
    }


async def get_summary(client: httpx.AsyncClient, who: Any, **params: Any) -> dict[str, Any]:
    r = await client.get(SUMMARY, params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_summary_numbers_on_a_known_data_set(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    s = await get_summary(client, data["sup"], **RANGE)
    assert (s["from"], s["to"], s["days"], s["queue_id"]) == ("2026-03-10", "2026-03-12", 3, None)
    assert s["totals"] == {
        "chats": 6,
        "solved": 3,
        "cancelled": 1,
        "expired": 1,
        "open": 1,
        "requests_raised": 1,
    }
    # Waits 10, 20, 30, 40; handling 100, 200, 300, 60.
    assert s["waiting_time"] == {"count": 4, "median_s": 25.0, "p90_s": 37.0}
    assert s["handling_time"] == {"count": 4, "median_s": 150.0, "p90_s": 270.0}
    assert s["ratings"] == {
        "count": 4,
        "average": 3.0,
        "distribution": [
            {"score": 1, "count": 1},
            {"score": 2, "count": 1},
            {"score": 3, "count": 0},
            {"score": 4, "count": 1},
            {"score": 5, "count": 1},
        ],
    }


async def test_daily_rows_cover_every_utc_day_of_the_range(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    s = await get_summary(client, data["sup"], **RANGE)
    day1, day2, day3 = s["daily"]
    assert [d["date"] for d in s["daily"]] == ["2026-03-10", "2026-03-11", "2026-03-12"]
    # The three solved chats of the 10th: waits 10/20/30 s, handling 100/200/300 s.
    assert day1 == {
        "date": "2026-03-10",
        "chats": 3,
        "solved": 3,
        "cancelled": 0,
        "expired": 0,
        "open": 0,
        "requests_raised": 0,
        "wait_median_s": 20.0,
        "wait_p90_s": 28.0,
        "handle_median_s": 200.0,
        "handle_p90_s": 280.0,
        "ratings": 3,
        "rating_avg": 3.67,
        "by_queue": {data["support"]: 2, data["billing"]: 1},
    }
    assert (day2["chats"], day2["cancelled"], day2["expired"], day2["open"]) == (3, 1, 1, 1)
    assert day2["requests_raised"] == 1 and day2["wait_median_s"] == 40.0
    assert day2["by_queue"] == {data["support"]: 2, data["billing"]: 1}
    assert day3["chats"] == 0 and day3["wait_median_s"] is None and day3["rating_avg"] is None
    assert day3["by_queue"] == {}


async def test_queue_and_agent_rows(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    s = await get_summary(client, data["admin"], **RANGE)
    queues = {q["name"]: q for q in s["queues"]}
    assert list(queues) == ["Billing", "Sales", "Support"]  # active queues, idle ones included
    support = queues["Support"]
    assert (support["chats"], support["solved"], support["cancelled"], support["expired"]) == (
        4,
        2,
        1,
        1,
    )
    assert support["requests_raised"] == 1
    assert (support["wait_median_s"], support["handle_median_s"]) == (20.0, 100.0)
    assert (support["ratings"], support["rating_avg"]) == (3, 3.33)
    billing = queues["Billing"]
    assert (billing["chats"], billing["solved"], billing["open"], billing["wait_median_s"]) == (
        2,
        1,
        1,
        30.0,
    )
    assert queues["Sales"]["chats"] == 0 and queues["Sales"]["wait_median_s"] is None
    assert s["agents"] == [
        {
            "id": data["ana"].id,
            "name": "Ana",
            "chats": 3,
            "solved": 2,
            "handle_median_s": 100.0,
            "handle_p90_s": 180.0,
            "ratings": 2,
            "rating_avg": 4.5,
            **NO_SLA,
        },
        {
            "id": data["ben"].id,
            "name": "Ben",
            "chats": 1,
            "solved": 1,
            "handle_median_s": 300.0,
            "handle_p90_s": 300.0,
            "ratings": 1,
            "rating_avg": 2.0,
            **NO_SLA,
        },
    ]


# Their queues have no service-level target: nothing met, nothing missed.
REQUEST_SLA_HEADERS = [
    f"request_{target}_{c}"
    for target in ("response", "resolution")
    for c in ("met", "missed", "met_share")
]
NO_REQ = ["0", "0", "", "0", "0", ""]  # no request with a target: nothing met, nothing missed
NO_SLA = {
    "sla_met": 0,
    "sla_missed": 0,
    "sla_met_share": None,
    **{
        f"request_{target}_{c}": None if c == "met_share" else 0
        for target in ("response", "resolution")
        for c in ("met", "missed", "met_share")
    },
}


async def test_queue_filter_narrows_everything(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    s = await get_summary(client, data["sup"], queue_id=data["billing"], **RANGE)
    assert s["queue_id"] == data["billing"]
    assert s["totals"] == {
        "chats": 2,
        "solved": 1,
        "cancelled": 0,
        "expired": 0,
        "open": 1,
        "requests_raised": 0,
    }
    assert s["waiting_time"] == {"count": 1, "median_s": 30.0, "p90_s": 30.0}
    assert [q["name"] for q in s["queues"]] == ["Billing"]
    assert [a["name"] for a in s["agents"]] == ["Ben"]
    assert s["ratings"]["count"] == 1 and s["ratings"]["average"] == 2.0
    s = await get_summary(client, data["sup"], queue_id=data["support"], **RANGE)
    assert s["totals"]["requests_raised"] == 1 and s["waiting_time"]["median_s"] == 20.0


async def test_day_boundaries_are_utc_and_to_is_included(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    s = await get_summary(client, data["sup"], **{"from": "2026-03-09", "to": "2026-03-09"})
    assert s["totals"]["chats"] == 1 and s["daily"][0]["date"] == "2026-03-09"
    s = await get_summary(client, data["sup"], **{"from": "2026-03-13", "to": "2026-03-13"})
    assert s["totals"]["chats"] == 1 and s["totals"]["requests_raised"] == 1
    s = await get_summary(client, data["sup"], **{"from": "2026-03-09", "to": "2026-03-13"})
    assert s["totals"]["chats"] == 8 and len(s["daily"]) == 5


async def test_default_range_is_the_last_30_days(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    set_clock(FrozenClock(at(12, 15)))
    s = await get_summary(client, data["sup"])
    assert (s["from"], s["to"], s["days"], len(s["daily"])) == ("2026-02-11", "2026-03-12", 30, 30)
    assert s["totals"]["chats"] == 7  # everything but the 13th


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-03-12", "to": "2026-03-10"}, "invalid_range"),
        ({"from": "2025-03-10", "to": "2026-03-11"}, "range_too_long"),
        ({"from": "2026-03-12"}, "invalid_range"),  # `to` defaults to today (frozen: 1 March)
        ({"from": "2026-13-01", "to": "2026-03-10"}, "invalid"),
        ({"from": "yesterday"}, "invalid"),
        ({"to": "2026-03-10T00:00:00Z"}, "invalid"),
        ({"queue_id": "no-such-queue"}, "unknown_queue"),
    ],
)
async def test_bad_report_parameters_are_422(
    client: httpx.AsyncClient, data: dict[str, Any], params: dict[str, str], code: str
) -> None:
    set_clock(FrozenClock(at(1, 12)))
    for url in (SUMMARY, EXPORT):
        r = await client.get(url, params=params, headers=data["sup"].headers)
        assert r.status_code == 422, (url, params, r.text)
        assert r.json()["error"]["code"] == code


async def test_a_full_year_is_allowed(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    s = await get_summary(client, data["sup"], **{"from": "2025-03-13", "to": "2026-03-13"})
    assert s["days"] == 366 and s["totals"]["chats"] == 8


async def test_reports_are_for_supervisors_and_admins(
    client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    for url in (SUMMARY, EXPORT):
        for who in (data["ana"], data["customer"]):
            r = await client.get(url, params=RANGE, headers=who.headers)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        # The role is checked before the range rules; a malformed date is refused at the edge.
        inverted = {"from": "2026-03-12", "to": "2026-03-10"}
        assert (
            await client.get(url, params=inverted, headers=data["ana"].headers)
        ).status_code == 403
        assert (
            await client.get(url, params={"from": "x"}, headers=data["ana"].headers)
        ).status_code == 422
        assert (await client.get(url, params=RANGE)).status_code == 401
        r = await client.get(url, params=RANGE, headers={"Authorization": "Bearer revoked"})
        assert r.status_code == 401


def parse_csv(r: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(r.text)))


async def test_csv_export_of_each_table(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    headers = data["sup"].headers
    r = await client.get(EXPORT, params={"table": "daily", **RANGE}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == (
        'attachment; filename="helpline-daily-2026-03-10-to-2026-03-12.csv"'
    )
    rows = parse_csv(r)
    assert rows[0] == [
        "date", "chats", "solved", "cancelled", "expired", "open", "requests_raised",
        "wait_median_s", "wait_p90_s", "handle_median_s", "handle_p90_s", "ratings", "rating_avg",
    ]  # fmt: skip
    assert rows[1] == [
        "2026-03-10",
        "3",
        "3",
        "0",
        "0",
        "0",
        "0",
        "20.0",
        "28.0",
        "200.0",
        "280.0",
        "3",
        "3.67",
    ]
    assert rows[3] == ["2026-03-12", "0", "0", "0", "0", "0", "0", "", "", "", "", "0", ""]
    assert len(rows) == 4

    rows = parse_csv(await client.get(EXPORT, params={"table": "queues", **RANGE}, headers=headers))
    assert rows[0][:3] == ["queue_id", "queue", "chats"]
    assert [(row[1], row[2]) for row in rows[1:]] == [
        ("Billing", "2"),
        ("Sales", "0"),
        ("Support", "4"),
    ]

    rows = parse_csv(await client.get(EXPORT, params={"table": "agents", **RANGE}, headers=headers))
    assert rows == [
        [
            "agent_id",
            "agent",
            "chats",
            "solved",
            "handle_median_s",
            "handle_p90_s",
            "ratings",
            "rating_avg",
            "sla_met",
            "sla_missed",
            "sla_met_share",
            *REQUEST_SLA_HEADERS,
        ],
        [data["ana"].id, "Ana", "3", "2", "100.0", "180.0", "2", "4.5", "0", "0", "", *NO_REQ],
        [data["ben"].id, "Ben", "1", "1", "300.0", "300.0", "1", "2.0", "0", "0", "", *NO_REQ],
    ]

    rows = parse_csv(
        await client.get(EXPORT, params={"table": "ratings", **RANGE}, headers=headers)
    )
    assert rows == [["score", "count"], ["1", "1"], ["2", "1"], ["3", "0"], ["4", "1"], ["5", "1"]]

    r = await client.get(EXPORT, params={"table": "messages", **RANGE}, headers=headers)
    assert r.status_code == 422
    r = await client.get(EXPORT, params=RANGE, headers=headers)  # the daily table by default
    assert parse_csv(r)[0][0] == "date"


async def test_csv_cells_never_start_a_spreadsheet_formula(
    app: FastAPI, client: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    await make_queue(app, '=HYPERLINK("http://x")')
    rows = parse_csv(
        await client.get(EXPORT, params={"table": "queues", **RANGE}, headers=data["sup"].headers)
    )
    assert ['\'=HYPERLINK("http://x")'] == [row[1] for row in rows[1:] if "HYPERLINK" in row[1]]


async def test_a_rating_and_a_request_made_through_the_api_appear_in_the_report(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    customer = await make_user(app, "customer", name="Carla")
    sup = await make_user(app, "supervisor")
    c = await accepted_chat(client, customer, agent, q)
    r = await client.post(
        f"/api/v1/chats/{c['id']}/requests", json={"summary": "Follow up"}, headers=agent.headers
    )
    assert r.status_code == 201, r.text
    assert (
        await client.post(f"/api/v1/chats/{c['id']}/solve", headers=agent.headers)
    ).status_code == 200
    r = await client.post(
        f"/api/v1/chats/{c['id']}/rating", json={"score": 4}, headers=customer.headers
    )
    assert r.status_code in (200, 201), r.text
    s = await get_summary(client, sup)
    assert s["totals"]["chats"] == 1 and s["totals"]["solved"] == 1
    assert s["totals"]["requests_raised"] == 1
    assert s["ratings"]["count"] == 1 and s["ratings"]["average"] == 4.0
    assert s["waiting_time"]["count"] == 1 and s["waiting_time"]["median_s"] is not None
    assert s["agents"][0]["name"] == "Ana" and s["agents"][0]["rating_avg"] == 4.0
    assert s["daily"][-1]["chats"] == 1
