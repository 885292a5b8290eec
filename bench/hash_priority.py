"""What the hashing pool's priority (decision 055) costs when every core is busy with other
work: `--hogs` processes of normal priority spin (one per core by default) while the event
loop runs a 5 ms timer and `--hashes` production-cost password checks go through the pool,
for each priority in turn. Prints per priority the hashes' wall times (median, slowest), how
many finished within `--limit` s, and the loop's lateness (p99, longest): a hashing thread
that holds the interpreter lock when it loses its core makes the loop wait until it runs again.

    python bench/hash_priority.py [--hashes 20] [--hogs 2] [--limit 20]

The busy host is the case `HELPLINE_PASSWORD_HASH_PRIORITY=low` is for; on a host with an idle
core both priorities hash in ~35 ms (scenario 5).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time

from helpline.accounts import passwords

TICK_S = 0.005


def _spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


async def _lateness(stop: asyncio.Event, out: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(TICK_S)
        out.append(loop.time() - start - TICK_S)


async def _one(priority: passwords.HashPriority, hashes: int, limit: float) -> str:
    pool = passwords.HashPool(priority=priority)  # one thread per core, as served
    stored = passwords.hash_password("correct horse")
    late: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_lateness(stop, late))
    times: list[float] = []

    async def check() -> None:
        start = time.perf_counter()
        await pool.run(lambda: passwords.verify_password(stored, "correct horse"))
        times.append(time.perf_counter() - start)

    tasks = [asyncio.create_task(check()) for _ in range(hashes)]
    _done, pending = await asyncio.wait(tasks, timeout=limit)
    stop.set()
    await ticker
    for task in pending:
        task.cancel()
    pool.shutdown()
    late.sort()
    p99 = late[int(0.99 * (len(late) - 1))] if late else 0.0
    median = statistics.median(times) if times else float("nan")
    return (
        f"{priority:>4}: {len(times)} of {hashes} hashes within {limit:.0f} s, "
        f"median {1000 * median:.0f} ms, slowest {1000 * max(times, default=0):.0f} ms; "
        f"loop late p99 {1000 * p99:.1f} ms, longest {1000 * (late[-1] if late else 0):.1f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hashes", type=int, default=20)
    p.add_argument("--hogs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--limit", type=float, default=20.0, help="seconds a priority may take")
    args = p.parse_args()
    print(f"{args.hogs} spinning processes of normal priority, {os.cpu_count()} cores")
    for priority in ("low", "idle"):
        # Past the limit, with a margin for the hashes' start: never left spinning.
        stop_at = time.monotonic() + args.limit + 2
        hogs = [
            multiprocessing.Process(target=_spin, args=(stop_at,), daemon=True)
            for _ in range(args.hogs)
        ]
        for hog in hogs:
            hog.start()
        time.sleep(0.5)  # the hogs on their cores
        try:
            print(asyncio.run(_one(priority, args.hashes, args.limit)), flush=True)
        finally:
            for hog in hogs:
                hog.terminate()
                hog.join()


if __name__ == "__main__":
    main()
