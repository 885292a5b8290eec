"""Where the slowest messages waited: reads a `bench/run.py --trace DIR` run.

For each server process traced and each load it carried (loads are told apart by a pause of
over 2 s in the sending), the messages around the p99 (the 98.5th to 99.5th percentile of
latency; `--band`) and around the median are matched with what the server ran while each was
under way, from its send to the other side's receipt:

- the way of a message: send → handed to the writer → its batch starts → its batch ends →
  the next flush of the sockets' frames ends → received (means over the band);
- what the server ran meanwhile, by kind (the message writer, flushing frames, reading frames,
  each HTTP route, WebSocket handshakes, group commits, collections; under
  `HELPLINE_EVENT_LOOP=asyncio` also every handle of the loop), as the mean time per message
  that each overlapped its way; "nothing noted" is the rest: the loop idle or not on a CPU,
  or work no instrument covers;
- with `--steps`, every kind of step of the requests and handshakes in the busiest load: count,
  wall time and the loop thread's CPU time (p50, p90).

    python bench/run.py 5 --skip-relay --repeat 1 --trace /tmp/trace
    python bench/trace_messages.py /tmp/trace --steps
"""

from __future__ import annotations

import argparse
import bisect
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

GAP_S = 2.0  # a pause in the sending this long starts another load
WAY = ("sent → writer", "writer → batch", "batch", "batch → flushed", "flushed → received")


def _reads_frames(label: str, resumed: str | None, suspended: str | None) -> bool:
    """A connection's frames are read by one step each, between two waits in its inbox's `get`
    (function:line, compared by function)."""
    return (
        label.startswith("websocket")
        and resumed is not None
        and suspended is not None
        and resumed.partition(":")[0] == suspended.partition(":")[0] == "get"
    )


def _kind(label: str, resumed: str | None, suspended: str | None) -> str:
    kind, _, path = label.partition(" ")
    if kind == "websocket":
        return (
            "reading frames" if _reads_frames(label, resumed, suspended) else "websocket handshakes"
        )
    if kind == "http":
        return "http " + path.removeprefix("/api/v1")
    return label  # "batch <flush>"


def _call_kind(kind: str, label: str) -> str:
    # "handle ...": the asyncio loop's own handles (they contain the steps above: compare
    # them with each other, not with the rest)
    if kind == "flush":
        return "flushing frames"
    return label if kind == "handle" else "protocol " + kind


def _intervals(server: dict[str, Any]) -> list[tuple[float, float, str]]:
    out = [(t, t + wall, _kind(label, r, s)) for t, wall, _cpu, label, r, s in server["steps"]]
    for t, d, label in server["calls"]:
        kind = label.split(" ")[0]
        if label.startswith("ws data_received"):
            out.append((t, t + d, "reading frames"))
        else:
            out.append((t, t + d, "collections" if kind == "gc" else _call_kind(kind, label)))
    out += [(t, e, "the message writer") for t, e, _ in server["batches"]]
    out.sort()
    return out


def _loads(messages: list[list[Any]]) -> list[list[list[Any]]]:
    loads: list[list[list[Any]]] = [[]]
    for m in sorted(messages, key=lambda m: m[1]):
        if loads[-1] and m[1] - loads[-1][-1][1] > GAP_S:
            loads.append([])
        loads[-1].append(m)
    return [x for x in loads if x]


def _union(segments: list[tuple[float, float]]) -> float:
    total, cur = 0.0, None
    for s, e in sorted(segments):
        if cur is None or s > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [s, e]
        else:
            cur[1] = max(cur[1], e)
    return total + (cur[1] - cur[0] if cur is not None else 0.0)


def report(server: dict[str, Any], messages: list[list[Any]], band: tuple[float, float]) -> None:
    submitted = server["submitted"]
    batch_of = {cid: (t, e) for t, e, cids in server["batches"] for cid in cids}
    flush_ends = sorted(t + d for t, d, label in server["calls"] if label == "flush")
    intervals = _intervals(server)
    starts = [i[0] for i in intervals]
    longest = max((e - s for s, e, _ in intervals), default=0.0)
    for n, load in enumerate(_loads(messages), 1):
        load.sort(key=lambda m: m[2] - m[1])
        p50, p99 = (load[int(len(load) * p)] for p in (0.5, 0.99))
        print(f"\nload {n}: {len(load)} messages, p50 {1e3 * (p50[2] - p50[1]):.2f} ms, "
              f"p99 {1e3 * (p99[2] - p99[1]):.2f} ms")  # fmt: skip
        for name, (lo, hi) in (("around the p99", band), ("around the median", (0.45, 0.55))):
            group = load[int(len(load) * lo) : int(len(load) * hi)]
            if not group:
                continue
            ways: list[list[float]] = []
            cover: Counter[str] = Counter()
            covered = latency = 0.0
            for cid, sent, got in group:
                latency += got - sent
                if cid in submitted and cid in batch_of:
                    b0, b1 = batch_of[cid]
                    i = bisect.bisect_left(flush_ends, b1)
                    flushed = flush_ends[i] if i < len(flush_ends) else got
                    sub = submitted[cid]
                    ways.append([sub - sent, b0 - sub, b1 - b0, flushed - b1, got - flushed])
                segments = []
                j = bisect.bisect_left(starts, sent - longest)
                while j < len(intervals) and intervals[j][0] < got:
                    s, e, kind = intervals[j]
                    s, e = max(s, sent), min(e, got)
                    if e > s:
                        cover[kind] += e - s
                        segments.append((s, e))
                    j += 1
                covered += _union(segments)
            k = len(group)
            print(f"  {name} ({k} messages): mean latency {1e3 * latency / k:.2f} ms")
            if ways:
                means = [1e3 * sum(w[i] for w in ways) / len(ways) for i in range(len(WAY))]
                print(
                    "    way: " + ", ".join(f"{w} {m:.2f}" for w, m in zip(WAY, means, strict=True))
                )
            print(f"    ran meanwhile (ms a message; noted work in all {1e3 * covered / k:.2f}, "
                  f"nothing noted {1e3 * (latency - covered) / k:.2f}):")  # fmt: skip
            for kind, t in cover.most_common(30):
                print(f"      {1e3 * t / k:6.3f}  {kind}")


def steps(server: dict[str, Any], messages: list[list[Any]]) -> None:
    loads = _loads(messages)
    if not loads:
        return
    busiest = max(loads, key=len)
    lo, hi = busiest[0][1], max(m[2] for m in busiest)
    by: dict[tuple[str, str | None, str | None], list[tuple[float, float]]] = defaultdict(list)
    for t, wall, cpu, label, r, s in server["steps"]:
        if lo <= t <= hi and not _reads_frames(label, r, s):
            by[(label, r, s)].append((wall, cpu))

    def q(values: list[float], p: float) -> float:
        return 1e3 * sorted(values)[min(len(values) - 1, int(p * len(values)))]

    print(f"\nsteps of requests and handshakes during the busiest load ({len(busiest)} messages)")
    print("  count  wall p50   p90  cpu p50   p90  step")
    for (label, r, s), v in sorted(by.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:25]:
        walls, cpus = [w for w, _ in v], [c for _, c in v]
        print(f"  {len(v):5d}  {q(walls, .5):8.2f} {q(walls, .9):5.2f}  {q(cpus, .5):7.2f} "
              f"{q(cpus, .9):5.2f}  {label} [{r} → {s}]")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dir", type=Path)
    p.add_argument("--band", type=float, nargs=2, default=(0.985, 0.995), metavar=("LO", "HI"))
    p.add_argument("--steps", action="store_true", help="the requests' and handshakes' steps")
    args = p.parse_args()
    messages = json.loads((args.dir / "generator.json").read_text())
    for path in sorted(args.dir.glob("server.*.json")):
        server = json.loads(path.read_text())
        times = [s[0] for s in server["steps"]] + [c[0] for c in server["calls"]]
        if not times:
            continue
        lo, hi = min(times), max(times)
        mine = [m for m in messages if lo <= m[1] <= hi]
        print(f"== {path.name}: {len(mine)} messages measured while it ran")
        report(server, mine, tuple(args.band))
        if args.steps:
            steps(server, mine)


if __name__ == "__main__":
    main()
