"""Reports on 100,000 chats: how long /reports/summary and /reports/export.csv take.

    python bench/reports_bench.py                 # SQLite in a fresh temporary data dir
    python bench/reports_bench.py --postgres      # also a throwaway PostgreSQL (tests' helper)
    python bench/reports_bench.py --chats 20000 --runs 3

Creates a fresh database with `python -m helpline migrate`, bulk-inserts the chats spread over
the last 365 days across 3 queues and 10 agents (with ratings and requests raised from some of
them), then times each report in-process through the ASGI app (no network), after one warm-up
call. Prints one table per backend; the numbers in docs/performance.md come from here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fixtures.servers: the same PostgreSQL as the tests

from helpline.accounts.repository import hash_token  # noqa: E402
from helpline.app import create_app  # noqa: E402
from helpline.config import Settings  # noqa: E402
from helpline.kit.ids import new_id, new_token  # noqa: E402

QUEUES = ("Support", "Billing", "Returns")
AGENTS = 10
CUSTOMERS = 2000


@dataclass
class Dataset:
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    token: str
    queue_id: str


def build(n_chats: int, *, seed: int = 7) -> Dataset:
    """Rows for every table, with aware UTC datetimes (each backend formats its own)."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    year_ago = now - timedelta(days=365)

    def user(role: str, name: str) -> tuple[Any, ...]:
        uid = new_id()
        email = f"{uid[:12]}@example.com"
        return (uid, email, name, role, None, False, True, "available", 3, None, None, now, now)

    user_cols = [
        "id", "email", "name", "role", "password_hash", "is_guest", "active", "status",
        "max_chats", "last_accept_at", "last_seen_at", "created_at", "updated_at",
    ]  # fmt: skip
    agents = [user("agent", f"Agent {i + 1}") for i in range(AGENTS)]
    customers = [user("customer", f"Customer {i + 1}") for i in range(CUSTOMERS)]
    supervisor = user("supervisor", "Sam Supervisor")
    queues = [(new_id(), name, "", True, "broadcast", 600, 30, None, year_ago) for name in QUEUES]
    # Agents 0-3 in Support, 4-6 in Billing, 7-9 in Returns; agents 3 and 6 also help next door.
    home = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    members = {(queues[home[i]][0], a[0]) for i, a in enumerate(agents)}
    members |= {(queues[1][0], agents[3][0]), (queues[2][0], agents[6][0])}
    by_queue = {q[0]: [a[0] for a in agents if (q[0], a[0]) in members] for q in queues}

    token = new_token()
    sessions = [(new_id(), supervisor[0], hash_token(token), now, None)]

    chat_rows: list[tuple[Any, ...]] = []
    request_rows: list[tuple[Any, ...]] = []
    scores = (1, 2, 3, 4, 5)
    score_weights = (3, 4, 10, 30, 53)
    for n in range(1, n_chats + 1):
        created = year_ago + timedelta(seconds=rnd.uniform(0, 365 * 86400))
        queue_id = rnd.choice(queues)[0]
        roll = rnd.random()
        recent = (now - created) < timedelta(hours=1)
        agent_id = accepted = closed = rating = None
        if recent and roll < 0.5:
            status = "waiting"
        else:
            agent_id = rnd.choice(by_queue[queue_id])
            accepted = created + timedelta(seconds=rnd.expovariate(1 / 45))
            handle = timedelta(seconds=rnd.lognormvariate(5.6, 0.6))  # median ~ 4.5 min
            if recent:
                status = "in_progress"
            elif roll < 0.82:
                status, closed = "solved", accepted + handle
            elif roll < 0.92:
                status, closed = "cancelled", accepted + handle
            elif roll < 0.96:
                status, closed = "expired", accepted + handle  # customer went quiet
            else:  # nobody took it
                status, closed = "expired", created + timedelta(seconds=600)
                agent_id = accepted = None
            if status == "solved" and rnd.random() < 0.35:
                rating = rnd.choices(scores, score_weights)[0]
        updated = closed or accepted or created
        chat_id = new_id()
        chat_rows.append(
            (
                chat_id, n, f"CS-{n:06d}", rnd.choice(customers)[0], queue_id, agent_id,
                "Benchmark chat", status, 4, created, created, accepted, closed, created,
                updated, None, None, "[]", None, rating, None,
            )
        )  # fmt: skip
        if accepted is not None and closed is not None and rnd.random() < 0.05:
            r = len(request_rows) + 1
            raised = accepted + (closed - accepted) / 2
            request_rows.append(
                (
                    new_id(), r, f"SR-{r:06d}", chat_rows[-1][3], queue_id, None, chat_id,
                    "Follow-up", "", "medium", "new", raised, raised, None,
                )
            )  # fmt: skip

    chat_cols = [
        "id", "number", "reference", "customer_id", "queue_id", "agent_id", "subject", "status",
        "last_seq", "created_at", "waiting_since", "accepted_at", "closed_at",
        "last_customer_at", "updated_at", "offered_to_id", "offer_expires_at", "offered_ids",
        "warned_at", "rating_score", "rating_comment",
    ]  # fmt: skip
    request_cols = [
        "id", "number", "reference", "customer_id", "team_id", "assignee_id", "chat_id",
        "summary", "description", "priority", "status", "created_at", "updated_at",
        "resolved_at",
    ]  # fmt: skip
    queue_cols = [
        "id", "name", "description", "active", "routing_mode", "max_wait_s", "offer_timeout_s",
        "hours", "created_at",
    ]  # fmt: skip
    return Dataset(
        tables={
            "users": (user_cols, [*agents, *customers, supervisor]),
            "auth_sessions": (
                ["id", "user_id", "token_hash", "created_at", "revoked_at"],
                sessions,
            ),
            "queues": (queue_cols, queues),
            "queue_members": (["queue_id", "user_id"], sorted(members)),
            "chats": (chat_cols, chat_rows),
            "service_requests": (request_cols, request_rows),
            "counters": (["name", "value"], [("chat", n_chats), ("request", len(request_rows))]),
        },
        token=token,
        queue_id=queues[0][0],
    )


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "helpline", "migrate"], env={**os.environ, **env}, check=True
    )


def _sqlite_value(v: Any) -> Any:
    # As SQLAlchemy stores them on SQLite: naive UTC text with microseconds.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def load_sqlite(path: Path, data: Dataset) -> float:
    t0 = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("DELETE FROM counters")
            for table, (cols, rows) in data.tables.items():
                marks = ", ".join("?" * len(cols))
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
                conn.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))
    finally:
        conn.close()
    return time.perf_counter() - t0


async def load_postgres(dsn: str, data: Dataset) -> float:
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM counters")
            for table, (cols, rows) in data.tables.items():
                await conn.copy_records_to_table(table, records=rows, columns=cols)
        await conn.execute("ANALYZE")  # as autovacuum would soon after a bulk load
    finally:
        await conn.close()
    return time.perf_counter() - t0


@dataclass
class Timing:
    name: str
    rows: str
    times_ms: list[float]


async def measure(settings: Settings, data: Dataset, runs: int) -> list[Timing]:
    today = datetime.now(UTC).date()
    month = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    scenarios: list[tuple[str, str, dict[str, str]]] = [
        ("summary, 30 days", "/api/v1/reports/summary", month),
        ("summary, 365 days", "/api/v1/reports/summary", year),
        ("summary, 365 days, one queue", "/api/v1/reports/summary",
         {**year, "queue_id": data.queue_id}),
        ("export.csv daily, 365 days", "/api/v1/reports/export.csv", {**year, "table": "daily"}),
        ("export.csv agents, 365 days", "/api/v1/reports/export.csv", {**year, "table": "agents"}),
    ]  # fmt: skip
    app = create_app(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    out: list[Timing] = []
    headers = {"Authorization": f"Bearer {data.token}"}
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, url, params in scenarios:
                first = await client.get(url, params=params, headers=headers)
                first.raise_for_status()
                if url.endswith("summary"):
                    rows = f"{first.json()['totals']['chats']:,} chats"
                else:
                    rows = f"{first.text.count(chr(10)) - 1} rows"
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    (await client.get(url, params=params, headers=headers)).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                out.append(Timing(name, rows, times))
    return out


def print_table(title: str, timings: Sequence[Timing]) -> None:
    print(f"\n{title}")
    print(f"| {'report':<30} | {'covers':>13} | {'median ms':>9} | {'min ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * 32}|{'-' * 15}:|{'-' * 10}:|{'-' * 8}:|{'-' * 8}:|")
    for t in timings:
        print(
            f"| {t.name:<30} | {t.rows:>13} | {statistics.median(t.times_ms):>9.0f} "
            f"| {min(t.times_ms):>7.0f} | {max(t.times_ms):>7.0f} |"
        )


def bench_settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="bench-secret-key-0123456789",
        rate_limits="off",
        sweep_interval_s=0,
        log_json=False,
    )


async def run_sqlite(data: Dataset, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="helpline-reports-") as tmp:
        data_dir = Path(tmp)
        migrate({"HELPLINE_DATA_DIR": str(data_dir)})
        load_s = load_sqlite(data_dir / "helpline.db", data)
        n = len(data.tables["chats"][1])
        print(f"SQLite: inserted {n:,} chats in {load_s:.1f} s")
        timings = await measure(bench_settings(data_dir, None), data, runs)
        print_table(f"SQLite {sqlite3.sqlite_version}, {n:,} chats, {runs} runs each", timings)


async def run_postgres(data: Dataset, runs: int) -> None:
    from tests.fixtures.servers import PostgresServer, create_database

    with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="helpline-reports-") as tmp:
        dsn = create_database(pg.dsn, "reports_bench")
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        migrate({"HELPLINE_DATABASE_URL": url, "HELPLINE_DATA_DIR": tmp})
        load_s = await load_postgres(dsn, data)
        n = len(data.tables["chats"][1])
        print(f"PostgreSQL: inserted {n:,} chats in {load_s:.1f} s")
        timings = await measure(bench_settings(Path(tmp), url), data, runs)
        print_table(f"PostgreSQL, {n:,} chats, {runs} runs each", timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    t0 = time.perf_counter()
    data = build(args.chats)
    print(f"generated {args.chats:,} chats in {time.perf_counter() - t0:.1f} s")
    asyncio.run(run_sqlite(data, args.runs))
    if args.postgres:
        asyncio.run(run_postgres(data, args.runs))


if __name__ == "__main__":
    main()
