"""The baseline: a minimal raw WebSocket relay written with the `websockets` library.

It speaks just enough of Helpline's WebSocket protocol for the load generator to drive it the
same way: `subscribe` joins a chat's room, a `message` frame becomes a `message.posted` event
sent to every connection in that chat's room (the sender's too, as Helpline does) and is acked
to its sender, `ping` gets `pong`. No authentication, no storage, no bus: whatever Helpline
costs above this is the price of its features.

    python bench/relay.py --port 8765            # runs until SIGINT/SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

rooms: dict[str, set[ServerConnection]] = {}
seqs: dict[str, int] = {}


async def handle(ws: ServerConnection) -> None:
    joined: set[str] = set()
    try:
        async for raw in ws:
            frame: dict[str, Any] = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                chat_id = str(frame["chat_id"])
                seq = seqs[chat_id] = seqs.get(chat_id, 0) + 1
                event = {
                    "type": "event",
                    "event": {
                        "chat_id": chat_id,
                        "seq": seq,
                        "type": "message.posted",
                        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        "actor": None,
                        "data": {"text": frame["text"], "client_id": frame["client_id"]},
                    },
                }
                out = json.dumps(event)
                # To every subscriber, the sender too: Helpline's contract does the same.
                for member in list(rooms.get(chat_id, ())):
                    try:
                        await member.send(out)
                    except ConnectionClosed:
                        pass
                await ws.send(
                    json.dumps({"type": "ack", "client_id": frame["client_id"], "seq": seq})
                )
            elif kind == "subscribe":
                chat_id = str(frame["chat_id"])
                rooms.setdefault(chat_id, set()).add(ws)
                joined.add(chat_id)
                await ws.send(
                    json.dumps(
                        {"type": "subscribed", "chat_id": chat_id, "last_seq": seqs.get(chat_id, 0)}
                    )
                )
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
    except ConnectionClosed:
        pass
    finally:
        for chat_id in joined:
            room = rooms.get(chat_id)
            if room is not None:
                room.discard(ws)
                if not room:
                    del rooms[chat_id]


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # No compression: the load generator does not offer it to either target.
    async with serve(handle, host, port, compression=None, max_size=64 * 1024, ping_interval=30):
        print(f"relay listening on ws://{host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    args = parser.parse_args()
    if args.no_uvloop:
        asyncio.run(main(args.host, args.port))
    else:
        import uvloop

        uvloop.run(main(args.host, args.port))
