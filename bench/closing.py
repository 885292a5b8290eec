"""What everyone leaving at once costs the server: `--customers` guests open a WebSocket each
(bench/shiftstart.py, within `--window` s), then all close together; prints the server
process's CPU from just before the close to 1.5 s after it (psutil: 10 ms ticks; that 1.5 s
of idle is in it, the same for any code measured). No message load: the close's own cost.

    python bench/closing.py [--customers 1000] [--window 15]

For an A/B, run it alternately with `PYTHONPATH=<other checkout>/src` (the server is started
with this environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Helpline, leave, start_burst


async def measure(customers: int, window: float) -> str:
    wd = Path(tempfile.mkdtemp(prefix="helpline-closing-"))
    with Helpline(wd) as hl:
        base = hl.prepare().serve()
        agents = wd / "agents.json"
        agents.write_text("[]")
        out = wd / "burst.json"
        driver = await start_burst(
            base,
            agents,
            "-",
            customers=customers,
            window=window,
            start_in=1.0,
            run_id=str(int(time.time())),
            out=out,
            hold=1.0,
        )
        await asyncio.sleep(window + 3.5)  # all arrived and settled
        server = psutil.Process(hl.pids[0])
        before = server.cpu_times()
        await leave(driver)
        if await driver.wait() != 0:
            raise RuntimeError("the driver failed (bench/shiftstart.py)")
        await asyncio.sleep(1.5)
        after = server.cpu_times()
        b = json.loads(out.read_text())
        user, system = after.user - before.user, after.system - before.system
        n = max(1, b["connected_at_end"])
        return (
            f"{b['connected_at_end']} WebSockets closed by the driver in {b['all_closed_in_s']} s;"
            f" server CPU {1000 * (user + system):.0f} ms (user {1000 * user:.0f}, system "
            f"{1000 * system:.0f}), {1e6 * (user + system) / n:.0f} µs a close"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--window", type=float, default=15.0, help="seconds for them to arrive")
    args = p.parse_args()
    print(asyncio.run(measure(args.customers, args.window)))


if __name__ == "__main__":
    main()
