"""What a process pays for other processes' news on the Redis bus (issue 19, "Beyond one
machine"). Every process gets every process's news (one pattern subscription); since
`BusListener.wants` it decodes only the news of topics someone here listens to.

A publisher in a process of its own sends `--messages` chat events (the size of a real
`message.posted`) spread over `--chats` chat topics, as fast as Redis takes them; this process
receives them on a `RedisBus` whose listener holds `--share` of the chats, and prints its CPU per
message received, in rounds that alternate:

- `all`: the listener wants every topic and drops the others itself (as before `wants`: every
  message decoded, then found to have nobody here);
- `own`: the listener wants only its own chats' topics (the bus skips the rest undecoded).

    python bench/bus_news.py [--messages 100000] [--chats 1000] [--share 0.25] [--rounds 3]

On uvloop, as the server. For the code before, run it with `PYTHONPATH=<other checkout>/src`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fixtures.servers: the same Redis as the tests

from tests.fixtures.servers import RedisServer  # noqa: E402

from helpline.bus.messages import BusMessage  # noqa: E402
from helpline.bus.redis import PREFIX, RedisBus  # noqa: E402

END = "chat:end"

PUBLISHER = textwrap.dedent(
    """
    import json, sys
    from redis import Redis
    url, n, chats, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    r = Redis.from_url(url)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        chat = f"c{i % chats:06d}"
        event = {"chat_id": chat, "seq": i, "type": "message.posted",
                 "at": "2026-12-04T18:00:00.000000+00:00",
                 "actor": {"id": "u" * 32, "role": "customer", "name": "Shift Customer 12"},
                 "data": {"text": "Hello, I need help with my order " + "x" * 60,
                          "client_id": f"cl-{i}"}}
        pipe.publish(prefix + "chat:" + chat, json.dumps({"kind": "event",
                     "event": event, "internal": False}))
        if i % 500 == 499:
            pipe.execute()
    pipe.publish(prefix + "chat:end", json.dumps({"kind": "event",
                 "event": {"chat_id": "end", "seq": 0}, "internal": False}))
    pipe.execute()
    """
)


class Listener:
    """The hub's rule (`Hub.wants`, `Hub.on_message`): news for the topics held here."""

    def __init__(self, topics: set[str], filtering: bool) -> None:
        self.topics = topics
        self.filtering = filtering
        self.delivered = 0
        self.done = asyncio.Event()

    def wants(self, topic: str) -> bool:
        return topic in self.topics or not self.filtering

    def on_message(self, topic: str, message: BusMessage) -> None:
        if topic == END:
            self.done.set()
        elif topic in self.topics:
            self.delivered += 1

    def on_resync(self) -> None:
        pass


async def one_round(url: str, args: argparse.Namespace, filtering: bool) -> dict[str, Any]:
    own = {f"chat:c{i:06d}" for i in range(int(args.chats * args.share))} | {END}
    listener = Listener(own, filtering)
    bus = RedisBus(url)
    await bus.start(listener)
    try:
        cpu, wall = time.thread_time(), time.perf_counter()
        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, url, str(args.messages), str(args.chats), PREFIX]
        )
        await asyncio.wait_for(listener.done.wait(), timeout=120)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        publisher.wait(30)
    finally:
        await bus.close()
    return {
        "mode": "own" if filtering else "all",
        "received": args.messages,
        "delivered": listener.delivered,
        "skipped": getattr(bus, "skipped", 0),  # (code before `wants`: none)
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "us_per_message": round(1e6 * cpu / args.messages, 2),
    }


async def main(args: argparse.Namespace) -> None:
    with RedisServer() as redis:
        results = []
        for r in range(args.rounds):
            for filtering in (False, True) if r % 2 == 0 else (True, False):
                results.append(await one_round(redis.url, args, filtering))
                print(json.dumps(results[-1]))
    for mode in ("all", "own"):
        costs = sorted(x["us_per_message"] for x in results if x["mode"] == mode)
        print(
            f"{mode}: µs of this process's loop per message received {costs}, "
            f"median {costs[len(costs) // 2]}"
        )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--chats", type=int, default=1_000)
    p.add_argument("--share", type=float, default=0.25, help="the chats held here")
    p.add_argument("--rounds", type=int, default=3)
    try:
        import uvloop  # the server's loop

        uvloop.run(main(p.parse_args()))
    except ImportError:
        asyncio.run(main(p.parse_args()))
