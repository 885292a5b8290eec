"""CPU per message of the SQLite write path: no search index, the index written inside each
message batch (migration 0011's triggers), and the backlog indexed in the index's own file by
the indexer's thread (decisions 029, 034).

    python bench/index_write_bench.py                 # 20,000 messages per variant, 1,000/s
    python bench/index_write_bench.py --messages 5000 # shorter

Drives the real `MessageWriter` in-process (no network, no JSON, no WebSocket: only the write
path) at a steady rate in small batches, as scenario 1 does (`--per-tick` messages every
`--tick-ms`), and reads the process's CPU time, which unlike latency hardly moves with the
machine's load: of the whole process, and of the event loop's thread alone (the indexer works
on a thread of its own). Each variant gets a fresh database with `--prefill` messages already
indexed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from helpline.chats.writer import Author, MessageWriter
from helpline.db import Database
from helpline.migrate import upgrade
from helpline.search import backlog

CHATS = 200
BEFORE = "0022_request_warn"  # 0011's index: triggers inside every message's transaction


def _setup(path: Path, variant: str, prefill: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, BEFORE if variant == "inline" else "head")
    conn = sqlite3.connect(path, isolation_level=None)
    stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO queues (id, name, description, active, routing_mode, max_wait_s, "
        "offer_timeout_s, created_at) VALUES ('q', 'Q', '', 1, 'broadcast', 600, 30, ?)",
        (stamp,),
    )
    for i in range(CHATS):
        conn.execute(
            "INSERT INTO users (id, email, name, role, is_guest, active, status, max_chats, "
            "created_at, updated_at) VALUES (?, ?, ?, 'customer', 0, 1, 'available', 3, ?, ?)",
            (f"u{i:04d}", f"c{i}@bench.test", f"Customer {i}", stamp, stamp),
        )
        conn.execute(
            "INSERT INTO chats (id, number, reference, customer_id, queue_id, subject, status, "
            "last_seq, created_at, updated_at, offered_ids) "
            "VALUES (?, ?, ?, ?, 'q', '', 'waiting', 0, ?, ?, '[]')",
            (f"c{i:04d}", i + 1, f"CS-{i + 1:06d}", f"u{i:04d}", stamp, stamp),
        )
    words = "order refund invoice delivery parcel broken screen account password reset".split()
    conn.executemany(
        "INSERT INTO chat_events (chat_id, seq, type, at, data, internal) "
        "VALUES (?, ?, 'message.posted', ?, ?, 0)",
        (
            (f"c{n % CHATS:04d}", -n - 1, stamp, json.dumps({"text": " ".join(words[n % 7 :])}))
            for n in range(prefill)
        ),
    )
    if variant == "none":
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search_%'"
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    if variant == "backlog":
        conn = backlog.connect(str(path))
        while backlog.index_some(conn)[2]:
            pass
        conn.close()


async def _drive(path: Path, variant: str, args: argparse.Namespace) -> dict[str, float]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    indexer = backlog.Indexer(db) if variant == "backlog" else None
    writer = MessageWriter(db)
    writer.start()
    if indexer is not None:
        indexer.start()
    authors = [Author(f"u{i:04d}", "customer", f"Customer {i}") for i in range(CHATS)]
    latencies: list[float] = []
    n = 0

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        written = await writer.post(
            authors[i % CHATS], f"c{i % CHATS:04d}", f"my order {i} has not arrived", f"m{i}"
        )
        if written is None or not written.created:
            raise RuntimeError("the writer refused a message")
        latencies.append((time.perf_counter() - t0) * 1000)

    loop = asyncio.get_running_loop()
    start = loop.time()
    cpu0 = time.process_time()
    loop0 = time.thread_time()
    tasks = []
    tick = 0
    while n < args.messages:
        for _ in range(args.per_tick):
            tasks.append(loop.create_task(one(n)))
            n += 1
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * args.tick_ms / 1000 - loop.time()))
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.25)  # the backlog's last round
    cpu = time.process_time() - cpu0
    in_loop = time.thread_time() - loop0
    wall = loop.time() - start
    await writer.stop()
    if indexer is not None:
        await indexer.close()
    await db.dispose()
    ordered = sorted(latencies)
    return {
        "cpu_us_per_msg": cpu / n * 1e6,
        "loop_us_per_msg": in_loop / n * 1e6,
        "cpu_share": cpu / wall,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
        "batches": writer.batches,
        "indexed": indexer.indexed if indexer is not None else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--per-tick", type=int, default=2)
    parser.add_argument("--tick-ms", type=float, default=2.0)
    parser.add_argument("--prefill", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="each variant this many times")
    parser.add_argument("--variants", default="none,inline,backlog")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{args.messages:,} messages per run, {args.per_tick} every {args.tick_ms} ms"
    )
    rows: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for variant in args.variants.split(","):
            with tempfile.TemporaryDirectory(prefix="helpline-iwb-") as tmp:
                path = Path(tmp) / "helpline.db"
                _setup(path, variant, args.prefill)
                result = asyncio.run(_drive(path, variant, args))
            rows.setdefault(variant, []).append(result)
            print(
                f"{variant:8} {result['cpu_us_per_msg']:7.1f} us CPU/message "
                f"(event loop {result['loop_us_per_msg']:6.1f}) "
                f"({result['cpu_share'] * 100:4.1f} % of a core), p50 {result['p50_ms']:.2f} ms, "
                f"p99 {result['p99_ms']:.2f} ms, {result['batches']:,} batches, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    none = [r["cpu_us_per_msg"] for r in rows.get("none", [])]
    base = statistics.median(none) if none else 0
    loop_base = statistics.median(r["loop_us_per_msg"] for r in rows["none"]) if none else 0
    for variant, results in rows.items():
        cpu = statistics.median(r["cpu_us_per_msg"] for r in results)
        in_loop = statistics.median(r["loop_us_per_msg"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        extra = (
            f" ({100 * (cpu / base - 1):+.0f} % vs none; event loop "
            f"{100 * (in_loop / loop_base - 1):+.0f} %)"
            if base and variant != "none"
            else ""
        )
        print(
            f"median {variant:8} {cpu:7.1f} us CPU/message, event loop {in_loop:6.1f}, "
            f"p99 {p99:.2f} ms{extra}"
        )


if __name__ == "__main__":
    sys.exit(main())
