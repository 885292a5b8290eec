"""What an agent's WebSocket handshake costs the server while chats wait in their queue: the
contract sends a new connection a `chat.offered` for every chat waiting for them, so at a shift
start (customers waiting, agents connecting) each handshake reads and shapes all of them.

`--waiting` guests start chats in one queue; one agent of it signs in and becomes available;
then `--handshakes` connections are opened one after another, each until its last offer has
arrived, and closed. Prints, per round, the server's CPU per handshake (psutil, the whole
process) and the median wall time to the last offer:

    python bench/handshake.py [--waiting 1000] [--handshakes 10] [--rounds 3] [--profile DIR]

For an A/B, run it alternately with `PYTHONPATH=<other checkout>/src` (the server is started
with this environment).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import API, HelplineSetup, Side, _check, map_limited, open_ws
from run import Helpline, profiling


def _cpu(server: psutil.Process) -> float:
    times = server.cpu_times()
    return float(times.user + times.system)


async def _handshake(side: Side, expect: int) -> float:
    """Seconds from connecting to the last of `expect` offers."""
    t = time.perf_counter()
    ws = await open_ws(side, max_queue=None)
    try:
        got = 0
        while got < expect:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
            got += frame.get("type") == "chat.offered"
        return time.perf_counter() - t
    finally:
        await ws.close()


async def measure(args: argparse.Namespace) -> list[str]:
    waiting, handshakes, rounds = args.waiting, args.handshakes, args.rounds
    wd = Path(tempfile.mkdtemp(prefix="helpline-handshake-"))
    with Helpline(wd) as hl:
        base = hl.prepare().serve()
        setup = HelplineSetup(base, base, per_agent=3)
        try:
            password = "handshake-" + setup.run_id
            (email,) = await setup.create_agents(1, password)
            queue_id = setup.shift_queue_id

            async def start_chat(i: int) -> None:
                token = await setup.guest(i)
                r = await setup.http.post(
                    base + API + "/chats",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"queue_id": queue_id, "message": f"Hello, customer {i} here"},
                )
                _check(r, "start chat")

            server = psutil.Process(hl.pids[0])
            before, t = _cpu(server), time.perf_counter()
            await map_limited(setup.concurrency, start_chat, range(waiting))
            starting = (_cpu(server) - before, time.perf_counter() - t)
            token = await setup.login(base, email, password)
            r = await setup.http.put(
                base + API + "/me/status",
                headers={"Authorization": f"Bearer {token}"},
                json={"status": "available"},
            )
            _check(r, "set status")
        finally:
            await setup.aclose()
        per_chat = 1000 * starting[0] / max(1, waiting)
        lines = [
            f"{waiting} guests started a chat each ({setup.concurrency} at a time) in "
            f"{starting[1]:.1f} s: server CPU {per_chat:.2f} ms a guest and chat",
            f"{waiting} chats waiting; {handshakes} handshakes a round, one at a time",
        ]
        side = Side(
            base.replace("http", "ws", 1) + API + "/ws", {"Authorization": f"Bearer {token}"}
        )
        await _handshake(side, waiting)  # warm: the first pays for imports and caches
        # py-spy (--profile) for about as long as the rounds take: ~0.2 s a handshake.
        with profiling(args, "handshakes", [server.pid], duration=0.2 * handshakes * rounds):
            for n in range(rounds):
                await asyncio.sleep(0.5)
                before = _cpu(server)
                walls = [await _handshake(side, waiting) for _ in range(handshakes)]
                cpu = (_cpu(server) - before) / handshakes
                lines.append(
                    f"round {n + 1}: server CPU {1000 * cpu:.1f} ms a handshake; "
                    f"to the last offer: median {1000 * statistics.median(walls):.1f} ms, "
                    f"max {1000 * max(walls):.1f} ms"
                )
        return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--waiting", type=int, default=1000, help="chats waiting in the queue")
    p.add_argument("--handshakes", type=int, default=10, help="handshakes a round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", metavar="DIR", help="py-spy the server during the rounds")
    args = p.parse_args()
    for line in asyncio.run(measure(args)):
        print(line, flush=True)


if __name__ == "__main__":
    main()
