"""When did the slow messages happen? Reads what a load wrote with `BENCH_DUMP_LATENCIES`
(each measured message's send time and latency) and prints, per `--bin` ms of send time, the
bins holding the run's slowest messages: a p99 made of a few stalls shows as a few dense
bins, queueing spread over the run as many thin ones.

    BENCH_DUMP_LATENCIES=/tmp/lat python bench/run.py 5 --skip-relay
    python bench/timeline.py /tmp/lat.<time>.json [--over p99|MS] [--bin 100]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dump", help="a file written by a load run with BENCH_DUMP_LATENCIES")
    p.add_argument("--over", default="p99", help="'p99', 'p999' or a latency in ms")
    p.add_argument("--bin", type=float, default=100.0, help="bin width, ms of send time")
    args = p.parse_args()
    d = json.loads(Path(args.dump).read_text())
    rows: list[tuple[float, float]] = sorted(
        zip((a - d["t0"] for a in d["at"]), (1000 * v for v in d["lat"]), strict=True)
    )
    if not rows:
        raise SystemExit("no measured messages in this dump")
    ordered: list[float] = sorted(v for _, v in rows)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    quantiles = {"p99": 0.99, "p999": 0.999}
    limit = rank(quantiles[args.over]) if args.over in quantiles else float(args.over)
    bins: dict[int, list[float]] = defaultdict(list)
    for at, lat in rows:
        bins[int(1000 * at // args.bin)].append(lat)
    slow = {k: sum(1 for v in vs if v >= limit) for k, vs in bins.items()}
    total = sum(slow.values())
    print(
        f"{len(rows)} messages, p50 {rank(0.5):.2f} ms, p99 {rank(0.99):.2f} ms; "
        f"{total} at or over {limit:.2f} ms, in {sum(1 for v in slow.values() if v)} of "
        f"{len(bins)} bins of {args.bin:g} ms"
    )
    print(f"{'from s':>8} {'msgs':>5} {'slow':>5} {'p50 ms':>7} {'max ms':>7}")
    for k in sorted(k for k, v in slow.items() if v):
        vs = sorted(bins[k])
        print(
            f"{k * args.bin / 1000:>8.1f} {len(vs):>5} {slow[k]:>5} {vs[len(vs) // 2]:>7.1f} "
            f"{vs[-1]:>7.1f} " + "#" * min(60, slow[k])
        )
    dense = sorted(slow.values(), reverse=True)
    for n in (1, 5, 20):
        share = sum(dense[:n]) / total if total else 0.0
        print(f"the {n} densest bins hold {100 * share:.0f} % of them")


if __name__ == "__main__":
    main()
