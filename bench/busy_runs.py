"""How long does the event loop stay busy at a stretch, and with what? Reads a py-spy
speedscope profile of a server taken with `--idle` (every sample of every thread, in time order)
and, for the main thread (the event loop), splits the samples into busy ones (running Python
below the loop's `run`) and idle ones (the loop in epoll, or in its own C code), then prints
how many busy stretches lasted 1, 2, 3 ... samples and what the stretches of `--long` samples
or more were doing. A message that arrives during a stretch waits for its end: a tail that
grows while the busy share hardly does is made of longer stretches.

    py-spy record --pid PID --rate 1000 --idle --nonblocking --duration 20 \\
        --format speedscope -o burst.json
    python bench/busy_runs.py burst.json [--long 3]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

# What a busy sample is doing: the first of these found in its stack names it (message path
# first, so an arrival's work that is waiting on the writer is not counted twice).
KINDS = (
    ("MessageWriter._write", "message writer"),
    ("_Flush.run", "writing frames"),
    ("WebSocketsSansIOProtocol.data_received", "reading frames"),
    ("_reader", "a frame's command"),
    ("Inserts._flush", "arrivals' rows"),
    ("login", "sign-in"),
    ("set_status", "availability"),
    ("guest", "guest sign-in"),
    ("handle_websocket_upgrade", "handshake (HTTP)"),
    ("websocket_endpoint", "handshake (endpoint)"),
    ("RequestResponseCycle.run_asgi", "HTTP request (other)"),
    ("HttpToolsProtocol.data_received", "HTTP parsing"),
    ("connection_made", "connection made"),
    ("Sweeper", "sweeper"),
    ("Indexer", "search indexer"),
)
LOOP_RUN = "Runner.run"  # the frame below which a sample runs Python callbacks


def kind(stack: list[str]) -> str:
    for needle, name in KINDS:
        if any(needle in frame for frame in stack):
            return name
    return f"other: {stack[-1]}"


def busy_kinds(profile: dict[str, Any], frames: list[dict[str, Any]]) -> list[str | None]:
    """Per sample: None when idle, else what it is doing."""
    out: list[str | None] = []
    for sample in profile["samples"]:
        stack = [frames[i]["name"] for i in sample]
        if LOOP_RUN not in stack or stack[-1] == LOOP_RUN:
            out.append(None)
        else:
            out.append(kind(stack[stack.index(LOOP_RUN) + 1 :]))
    return out


def stretches(samples: list[str | None]) -> list[list[str]]:
    runs: list[list[str]] = []
    current: list[str] = []
    for s in samples:
        if s is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(s)
    if current:
        runs.append(current)
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("profile", help="py-spy --format speedscope --idle output")
    p.add_argument("--long", type=int, default=3, help="samples from which a stretch is long")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    data = json.loads(Path(args.profile).read_text())
    frames = data["shared"]["frames"]
    main_thread = next(
        (q for q in data["profiles"] if "MainThread" in q["name"]), data["profiles"][0]
    )
    samples = busy_kinds(main_thread, frames)
    busy = [s for s in samples if s is not None]
    runs = stretches(samples)
    long = [r for r in runs if len(r) >= args.long]
    share = 100 * len(busy) / max(1, len(samples))
    print(f"{len(samples)} samples of the loop's thread, busy {len(busy)} ({share:.1f} %)")
    lengths = sorted(Counter(len(r) for r in runs).items())
    print("busy stretches by length (samples: count):", ", ".join(f"{n}: {c}" for n, c in lengths))
    print(f"stretches of {args.long} or more: {len(long)}, {sum(map(len, long))} samples")
    for name, n in Counter(s for r in long for s in r).most_common(args.top):
        print(f"  {n:6d}  {name}")
    print("all busy samples:")
    for name, n in Counter(busy).most_common(args.top):
        print(f"  {n:6d}  {100 * n / max(1, len(busy)):5.1f} %  {name}")


if __name__ == "__main__":
    main()
