"""What a queue's news costs a process with many connections, before anything is sent: the hub
asks whether any customer here waits in that queue (their positions move). Connections are
registered on a hub as the gateway does (no database, no sockets); the queue is one nobody here
waits in, the usual case for a process holding a share of a big desk (and no agent of it connected).

    python bench/queue_news.py [--connections 20000] [--news 20000]

For an A/B, run it with `PYTHONPATH=<other checkout>/src`.
"""

from __future__ import annotations

import argparse
import time

from helpline.bus.messages import ChatUpdated
from helpline.chats.hub import Connection, Hub


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--connections", type=int, default=20_000)
    p.add_argument("--news", type=int, default=20_000)
    args = p.parse_args()
    hub = Hub(db=None)  # type: ignore[arg-type]  # nothing here reads the database
    for i in range(args.connections):
        hub.register(
            Connection(
                user_id=f"u{i}",
                role="customer",
                name="Customer",
                session_id=f"s{i}",
                queue_ids=frozenset(),
                max_queue=100,
            )
        )
    news = ChatUpdated(chat={"id": "c1", "queue_id": "q1", "status": "in_progress"})
    for rnd in range(3):
        t = time.perf_counter()
        for _ in range(args.news):
            hub.on_message("queue:q1", news)  # as the bus delivers it
        us = (time.perf_counter() - t) / args.news * 1e6
        print(f"round {rnd + 1}: {us:.2f} µs per queue news, {args.connections} connections here")


if __name__ == "__main__":
    main()
