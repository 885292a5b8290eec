"""Search on 1,000,000 messages in 100,000 chats: p50/p95 of ten typical GET /search queries.

    python bench/search_bench.py                  # SQLite in a fresh temporary data dir
    python bench/search_bench.py --postgres       # also a throwaway PostgreSQL (tests' helper)
    python bench/search_bench.py --chats 10000 --per-chat 10 --runs 5   # small, while iterating
    python bench/search_bench.py --postgres --build DIR      # load only, keep the databases
    python bench/search_bench.py --postgres --measure DIR    # time the queries on them

`--build`/`--measure` split the slow part (generating and loading, minutes) from the timed
part, so only the latter needs the machine to itself (`flock /tmp/bench.lock`).

Creates a fresh database with `python -m helpline migrate` (so the index is the migration's:
on SQLite messages are indexed from the backlog after the bulk insert, decision 029, the
other sources by triggers; on PostgreSQL by generated columns as rows arrive), loads the users,
queues and chats of bench/reports_bench.py (renumbered in time order) plus `--per-chat`
messages each, drawn from a vocabulary with a few planted words of known frequency, then times
each query in-process through the ASGI app (no network) after one warm-up call.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import random
import sqlite3
import statistics
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpline.accounts.repository import hash_token
from helpline.app import create_app
from helpline.config import Settings
from helpline.kit.ids import new_id, new_token
from helpline.search import backlog
from reports_bench import (
    Dataset,
    bench_settings,
    build,
    load_postgres,
    load_sqlite,
    migrate,
)

# Planted words and the share of messages that carry them.
PLANTED = {"order": 0.12, "refund": 0.03, "invoice": 0.02, "refused": 0.005, "refurbished": 0.002}
RARE = "zephyrine"  # in exactly RARE_COUNT messages
RARE_COUNT = 25


def _vocabulary(rnd: random.Random, n: int = 6000) -> list[str]:
    syllables = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"]
    words = set()
    while len(words) < n:
        words.add("".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4))))
    return sorted(words)


def add_messages(data: Dataset, per_chat: int, *, seed: int = 11) -> dict[str, str]:
    """Chats renumbered in time order (as the app numbers them), `per_chat` messages each;
    returns ids the queries need (an agent's and a customer's token, a queue)."""
    rnd = random.Random(seed)
    cols, chats = data.tables["chats"]
    chats.sort(key=lambda c: c[9])  # created_at
    chats[:] = [(c[0], n, f"CS-{n:06d}", *c[3:]) for n, c in enumerate(chats, 1)]
    words = _vocabulary(rnd)
    # Zipf-like (a few words everywhere), as cumulative weights: choices() would sum them per call.
    cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(words))))
    total = len(chats) * per_chat
    rare_at = set(rnd.sample(range(total), RARE_COUNT))
    users = {u[0]: u for u in data.tables["users"][1]}
    events: list[tuple[Any, ...]] = []
    n = 0
    for c in chats:
        chat_id, customer_id, agent_id, created = c[0], c[3], c[5], c[9]
        for k in range(per_chat):
            text_words = rnd.choices(words, cum_weights=cum, k=rnd.randint(5, 18))
            for word, share in PLANTED.items():
                if rnd.random() < share:
                    text_words.insert(rnd.randrange(len(text_words) + 1), word)
            if n in rare_at:
                text_words.insert(rnd.randrange(len(text_words) + 1), RARE)
            n += 1
            actor = agent_id if (k % 2 and agent_id) else customer_id
            role = "agent" if actor == agent_id else "customer"
            events.append(
                (
                    chat_id, k + 1, "message.posted", created + timedelta(seconds=30 * k),
                    actor, role, users[actor][2],
                    json.dumps({"text": " ".join(text_words).capitalize(), "client_id": None}),
                    None, False,
                )
            )  # fmt: skip
    data.tables["chat_events"] = (
        [
            "chat_id", "seq", "type", "at", "actor_id", "actor_role", "actor_name", "data",
            "client_id", "internal",
        ],
        events,
    )  # fmt: skip
    # Tokens for an agent (one queue) and a customer (their own chats).
    agent = next(u for u in data.tables["users"][1] if u[3] == "agent")
    customer_id = chats[-1][3]
    now = datetime.now(UTC)
    agent_token, customer_token = new_token(), new_token()
    data.tables["auth_sessions"][1].extend(
        [
            (new_id(), agent[0], hash_token(agent_token), now, None),
            (new_id(), customer_id, hash_token(customer_token), now, None),
        ]
    )
    return {"agent": agent_token, "customer": customer_token}


@dataclass
class Timing:
    name: str
    found: int
    times_ms: list[float]

    def pct(self, p: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


async def measure(settings: Settings, tokens: dict[str, str], runs: int) -> list[Timing]:
    """`tokens`: the supervisor's (`admin`), an agent's and a customer's; `queue_id`."""
    month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    agent = {"Authorization": f"Bearer {tokens['agent']}"}
    customer = {"Authorization": f"Bearer {tokens['customer']}"}
    queries: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("(baseline: GET /me, no search)", {}, admin),
        (f"rare word ({RARE})", {"q": RARE}, admin),
        ("common word (order)", {"q": "order"}, admin),
        ("two words (refund invoice)", {"q": "refund invoice"}, admin),
        ("prefix (refu*)", {"q": "refu*"}, admin),
        ("common word, one queue", {"q": "order", "queue_id": tokens["queue_id"]}, admin),
        ("two words, status solved", {"q": "refund invoice", "status": "solved"}, admin),
        ("prefix, last 30 days", {"q": "refu*", "from": month_ago}, admin),
        ("rare word, as an agent", {"q": RARE}, agent),
        ("common word, as an agent", {"q": "order"}, agent),
        ("common word, as a customer", {"q": "order"}, customer),
    ]
    app = create_app(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out: list[Timing] = []
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, params, headers in queries:
                path = "/api/v1/search" if params else "/api/v1/me"
                first = await client.get(path, params=params, headers=headers)
                first.raise_for_status()
                found = len(first.json().get("items", []))
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    r = await client.get(path, params=params, headers=headers)
                    r.raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                out.append(Timing(name, found, times))
    return out


def print_table(title: str, timings: Sequence[Timing]) -> None:
    print(f"\n{title}")
    print(f"| {'query':<30} | {'items':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * 32}|{'-' * 6}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|")
    for t in timings:
        print(
            f"| {t.name:<30} | {t.found:>5} | {statistics.median(t.times_ms):>7.1f} "
            f"| {t.pct(0.95):>7.1f} | {max(t.times_ms):>7.1f} |"
        )
    worst = max(t.pct(0.95) for t in timings[1:])
    print(f"worst p95: {worst:.1f} ms (target <= 100 ms)")


def _sqlite_index(data_dir: Path) -> float:
    """Index every message not yet in the message index's file (decisions 029, 034), as the
    running server would have by the time anyone searches; returns the seconds it took."""
    t0 = time.perf_counter()
    conn = backlog.connect(str(data_dir / "helpline.db"))
    while backlog.index_some(conn, 50_000)[2]:
        pass
    conn.close()
    return time.perf_counter() - t0


def _sqlite_load(data_dir: Path, data: Dataset) -> None:
    migrate({"HELPLINE_DATA_DIR": str(data_dir)})
    load_s = load_sqlite(data_dir / "helpline.db", data)
    index_s = _sqlite_index(data_dir)
    n = len(data.tables["chat_events"][1])
    size = (data_dir / "helpline.db").stat().st_size / 2**20
    index = (data_dir / "helpline-search.db").stat().st_size / 2**20
    print(f"SQLite: inserted {n:,} messages in {load_s:.1f} s (other sources indexed by "
          f"triggers), then indexed the messages in {index_s:.1f} s; {size:,.0f} MiB "
          f"+ {index:,.0f} MiB of message index")  # fmt: skip


async def _sqlite_measure(data_dir: Path, tokens: dict[str, str], runs: int) -> None:
    # A kept database of an older schema: migrate it (0025 moves the message index to its
    # own file) and index what is behind first.
    migrate({"HELPLINE_DATA_DIR": str(data_dir)})
    index_s = _sqlite_index(data_dir)
    index = (data_dir / "helpline-search.db").stat().st_size / 2**20
    print(f"SQLite: message index caught up in {index_s:.1f} s; {index:,.0f} MiB")
    timings = await measure(bench_settings(data_dir, None), tokens, runs)
    n = sqlite3.connect(data_dir / "helpline.db").execute("SELECT count(*) FROM chat_events")
    print_table(f"SQLite {sqlite3.sqlite_version}, {n.fetchone()[0]:,} events, {runs} runs each",
                timings)  # fmt: skip


async def _pg_load(pg: Any, data: Dataset, data_dir: Path) -> str:
    from tests.fixtures.servers import create_database

    dsn = create_database(pg.dsn, "search_bench")
    migrate({"HELPLINE_DATABASE_URL": _async_url(dsn), "HELPLINE_DATA_DIR": str(data_dir)})
    load_s = await load_postgres(dsn, data)
    n = len(data.tables["chat_events"][1])
    print(f"PostgreSQL: inserted {n:,} messages (generated tsvector + GIN) in {load_s:.1f} s")
    return dsn


def _async_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_measure(dsn: str, data_dir: Path, tokens: dict[str, str], runs: int) -> None:
    timings = await measure(bench_settings(data_dir, _async_url(dsn)), tokens, runs)
    print_table(f"PostgreSQL, {runs} runs each", timings)


def _tokens(data: Dataset, extra: dict[str, str]) -> dict[str, str]:
    return {"admin": data.token, "queue_id": data.queue_id, **extra}


def run_fresh(data: Dataset, tokens: dict[str, str], args: argparse.Namespace) -> None:
    """Load into throwaway databases and measure at once (the original one-shot run)."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="helpline-search-") as tmp:
            _sqlite_load(Path(tmp), data)
            asyncio.run(_sqlite_measure(Path(tmp), tokens, args.runs))
    if args.postgres:
        from tests.fixtures.servers import PostgresServer

        with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="helpline-search-") as tmp:
            dsn = asyncio.run(_pg_load(pg, data, Path(tmp)))
            asyncio.run(_pg_measure(dsn, Path(tmp), tokens, args.runs))


def build_kept(data: Dataset, tokens: dict[str, str], args: argparse.Namespace) -> None:
    """Load into databases kept under args.build: DIR/sqlite/helpline.db, DIR/pg (a stopped
    PostgreSQL cluster of the tests' helper), DIR/bench.json (tokens and addresses)."""
    from tests.fixtures.servers import PostgresServer, _cleanup

    root = Path(args.build).resolve()
    root.mkdir(parents=True, exist_ok=False)
    saved: dict[str, Any] = {"tokens": tokens}
    if not args.no_sqlite:
        (root / "sqlite").mkdir()
        _sqlite_load(root / "sqlite", data)
        saved["sqlite"] = str(root / "sqlite")
    if args.postgres:
        (root / "pg-app").mkdir()
        pg = PostgresServer(base_dir=str(root)).start()
        dsn = asyncio.run(_pg_load(pg, data, root / "pg-app"))
        pg.stop()
        _cleanup.remove(id(pg))  # keep the cluster
        saved["pg"] = {"dir": str(pg.dir), "database": dsn.rsplit("/", 1)[1]}
    (root / "bench.json").write_text(json.dumps(saved, indent=2))
    print(f"kept in {root}")


def measure_kept(args: argparse.Namespace) -> None:
    from tests.fixtures.servers import PostgresServer, _cleanup

    root = Path(args.measure).resolve()
    saved = json.loads((root / "bench.json").read_text())
    tokens = saved["tokens"]
    if not args.no_sqlite and "sqlite" in saved:
        asyncio.run(_sqlite_measure(Path(saved["sqlite"]), tokens, args.runs))
    if args.postgres and "pg" in saved:
        pg = PostgresServer()
        pg.dir = Path(saved["pg"]["dir"])
        pg.start()
        try:
            dsn = pg.dsn.rsplit("/", 1)[0] + "/" + saved["pg"]["database"]
            asyncio.run(_pg_measure(dsn, root / "pg-app", tokens, args.runs))
        finally:
            pg.stop()
            _cleanup.remove(id(pg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--build", metavar="DIR", help="load into databases kept in DIR, no timing")
    parser.add_argument("--measure", metavar="DIR", help="time the queries on a --build DIR")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    if args.measure:
        measure_kept(args)
    else:
        t0 = time.perf_counter()
        data = build(args.chats)
        tokens = _tokens(data, add_messages(data, args.per_chat))
        n = len(data.tables["chat_events"][1])
        print(f"generated {args.chats:,} chats, {n:,} messages in {time.perf_counter() - t0:.1f} s")
        if args.build:
            build_kept(data, tokens, args)
        else:
            run_fresh(data, tokens, args)
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
