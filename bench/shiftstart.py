"""Scenario 5's burst: a shift starts. Run by bench/run.py in a process of its own (so its
work does not delay the message load generator's clocks), while the messages flow.

Within `--window` seconds, at random moments spread evenly over it:
- each of the agents signs in with their password (`POST /auth/login`: the timed sign-in),
  becomes available (`PUT /me/status`) and opens a console WebSocket, kept until the end;
- each of the customers signs in as a guest (`POST /auth/guest`) and opens a WebSocket, kept
  until the end (the portal or widget open on their screen); with `--queue-id`, each also
  starts a chat in that queue (`POST /chats`, with a first message) before connecting, as a
  customer at the portal does: the shift's agents are offered those chats.

Then everyone leaves at once: after `--hold` s beyond the window, or with `--leave-on-stdin`
when a line arrives on stdin (bench/run.py measures that moment with a load of its own).

Writes a JSON summary: per step the count, failures by status and latency percentiles.

    python bench/shiftstart.py --url http://127.0.0.1:8000 --agents-file agents.json \
        --customers 1000 --window 60 --start-at <epoch s> --out burst.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import API, Side, close_all, open_ws, percentiles_ms

BORN = time.perf_counter()


class Step:
    """Latencies and failures of one kind of request."""

    def __init__(self) -> None:
        self.ok: list[float] = []
        self.failed: dict[str, int] = {}

    def add(self, started: float, outcome: str | None) -> None:
        if outcome is None:
            self.ok.append(time.perf_counter() - started)
        else:
            self.failed[outcome] = self.failed.get(outcome, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {"ok": len(self.ok), "failed": self.failed, "ms": percentiles_ms(self.ok)}


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def burst(args: argparse.Namespace) -> dict[str, Any]:
    agents: list[str] = json.loads(Path(args.agents_file).read_text())
    password = args.password
    ws_url = args.url.replace("http", "ws", 1) + API + "/ws"
    steps = {k: Step() for k in ("login", "status", "agent_ws", "guest", "chat", "customer_ws")}
    errors: dict[str, int] = {}
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    http = httpx.AsyncClient(
        base_url=args.url + API,
        timeout=30,
        trust_env=False,
        cookies=no_cookies,
        limits=httpx.Limits(max_connections=400, max_keepalive_connections=100),
    )

    async def connect(token: str, step: str) -> None:
        t = time.perf_counter()
        try:
            ws = await open_ws(Side(ws_url, {"Authorization": f"Bearer {token}"}), max_queue=16)
        except Exception as exc:
            steps[step].add(t, type(exc).__name__)
            return
        steps[step].add(t, None)
        sockets.append(ws)
        readers.append(asyncio.create_task(_drain(ws)))

    async def agent(email: str) -> None:
        t = time.perf_counter()
        r = await http.post("/auth/login", json={"email": email, "password": password})
        if r.status_code != 200:
            steps["login"].add(t, str(r.status_code))
            return
        steps["login"].add(t, None)
        token = r.json()["token"]
        t = time.perf_counter()
        r = await http.put(
            "/me/status",
            headers={"Authorization": f"Bearer {token}"},
            json={"status": "available"},
        )
        steps["status"].add(t, None if r.status_code == 200 else str(r.status_code))
        await connect(token, "agent_ws")

    async def customer(i: int) -> None:
        t = time.perf_counter()
        r = await http.post(
            "/auth/guest",
            json={"name": f"Shift Customer {i}", "email": f"shift-{args.run_id}-{i}@example.com"},
        )
        if r.status_code not in (200, 201):
            steps["guest"].add(t, str(r.status_code))
            return
        steps["guest"].add(t, None)
        token = r.json()["token"]
        if args.queue_id:
            t = time.perf_counter()
            r = await http.post(
                "/chats",
                headers={"Authorization": f"Bearer {token}"},
                json={"queue_id": args.queue_id, "message": f"Hello, shift customer {i} here"},
            )
            steps["chat"].add(t, None if r.status_code == 201 else str(r.status_code))
        await connect(token, "customer_ws")

    async def at(offset: float, coro: Any) -> None:
        delay = args.start_at + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await coro
        except Exception as exc:  # a transport error: counted, the run goes on
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    rnd = random.Random(args.seed)
    work = [at(rnd.uniform(0, args.window), agent(e)) for e in agents]
    work += [at(rnd.uniform(0, args.window), customer(i)) for i in range(args.customers)]
    try:
        await asyncio.gather(*work)
        done_at = time.time() - args.start_at
        # Keep everyone connected to the end of the window (and a little beyond) and, with
        # --leave-on-stdin, until told: everyone leaving at once is measured on its own.
        await asyncio.sleep(max(0.0, args.start_at + args.window + args.hold - time.time()))
        if args.leave_on_stdin:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        connected = sum(1 for ws in sockets if ws.close_code is None)
        t = time.perf_counter()
        await close_all(sockets)
        return {
            "agents": len(agents),
            "customers": args.customers,
            "window_s": args.window,
            "arrivals_done_after_s": round(done_at, 2),
            "connected_at_end": connected,
            "all_closed_in_s": round(time.perf_counter() - t, 2),
            **{k: s.summary() for k, s in steps.items()},
            "transport_errors": errors,
            # Its own CPU over its whole life (measured from outside it had often exited).
            "driver_cpu_pct": round(100 * time.process_time() / (time.perf_counter() - BORN), 1),
        }
    finally:
        await close_all(sockets)
        for r in readers:
            r.cancel()
        await http.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--agents-file", required=True, help="JSON list of the agents' e-mails")
    p.add_argument("--password", required=True)
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--hold", type=float, default=2.0, help="seconds to stay after the window")
    p.add_argument(
        "--leave-on-stdin",
        action="store_true",
        help="after the hold, stay until a line (or the end) on stdin, then everyone leaves",
    )
    p.add_argument("--queue-id", help="each customer also starts a chat in this queue")
    p.add_argument("--start-at", type=float, required=True, help="epoch seconds")
    p.add_argument("--run-id", default="x")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    try:
        import uvloop

        result = uvloop.run(burst(args))
    except ImportError:
        result = asyncio.run(burst(args))
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
