"""What a shift's arrivals and everyone leaving at once cost the server, with no message load:
`--agents` sign in (production password hash) and become available, `--customers` guests
sign in, each opens a WebSocket (bench/shiftstart.py, within `--window` s); then all close
together. Prints, for each phase, the server process's CPU and its event loop thread's alone
(psutil: 10 ms ticks), in all and per arrival or close:

- arriving: from just before the first arrival to 2 s after the last, less what the idle
  server spends in as long (its timers; measured for 3 s before);
- leaving: from just before the close to 1.5 s after it.

    python bench/closing.py [--agents 0] [--customers 1000] [--window 15] [--profile DIR]

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
from typing import Any

import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import HelplineSetup
from run import Helpline, leave, profiling, shift_agents, start_burst

IDLE_S = 3.0


def _cpu(server: Any) -> tuple[float, float]:
    """(process, event loop thread) CPU seconds; the loop runs on the main thread."""
    times = server.cpu_times()
    loop = next((t for t in server.threads() if t.id == server.pid), None)
    return times.user + times.system, (loop.user_time + loop.system_time) if loop else 0.0


def _line(
    what: str,
    n: int,
    before: tuple[float, float],
    after: tuple[float, float],
    idle: tuple[float, float] = (0.0, 0.0),
) -> str:
    cpu, loop = after[0] - before[0] - idle[0], after[1] - before[1] - idle[1]
    n = max(1, n)
    return (
        f"{what}: server CPU {1000 * cpu:.0f} ms, its event loop {1000 * loop:.0f} ms; "
        f"a {'close' if what.startswith('leaving') else 'arrival'}: "
        f"{1000 * cpu / n:.2f} ms, loop {1000 * loop / n:.2f} ms"
    )


async def measure(args: argparse.Namespace) -> list[str]:
    agents, customers, window = args.agents, args.customers, args.window
    wd = Path(tempfile.mkdtemp(prefix="helpline-closing-"))
    with Helpline(wd) as hl:
        base = hl.prepare().serve()
        setup = HelplineSetup(base, base, per_agent=3)
        try:
            emails, password = await shift_agents(hl, setup, agents)
        finally:
            await setup.aclose()
        agents_file = wd / "agents.json"
        agents_file.write_text(json.dumps(emails))
        out = wd / "burst.json"
        server = psutil.Process(hl.pids[0])
        await asyncio.sleep(1.0)  # the set-up's requests are done
        quiet = _cpu(server)
        await asyncio.sleep(IDLE_S)
        idle_rate = [(b - a) / IDLE_S for a, b in zip(quiet, _cpu(server), strict=True)]
        start_in = 1.0
        driver = await start_burst(
            base,
            agents_file,
            password,
            customers=customers,
            window=window,
            start_in=start_in,
            run_id=setup.run_id,
            out=out,
            hold=1.0,
        )
        # The driver's own start-up (before its first arrival) costs the server nothing.
        await asyncio.sleep(start_in - 0.2)
        with profiling(args, "arriving", [server.pid], duration=window):
            arriving, t = _cpu(server), time.perf_counter()
            await asyncio.sleep(window + 0.2 + 2.0)  # all arrived and settled
            arrived, took = _cpu(server), time.perf_counter() - t
        idle = (idle_rate[0] * took, idle_rate[1] * took)
        leaving = _cpu(server)
        await leave(driver)
        if await driver.wait() != 0:
            raise RuntimeError("the driver failed (bench/shiftstart.py)")
        await asyncio.sleep(1.5)
        left = _cpu(server)
        b = json.loads(out.read_text())
        n_in = sum(b[k]["ok"] for k in ("agent_ws", "customer_ws"))
        return [
            f"{agents} agents and {customers} customers arrived in {window:g} s "
            f"({n_in} WebSockets open; sign-in p99 {b['login']['ms'].get('p99')} ms, guest p99 "
            f"{b['guest']['ms'].get('p99')} ms)",
            f"the idle server: {1000 * idle_rate[0]:.0f} ms of CPU a second, its event loop "
            f"{1000 * idle_rate[1]:.0f} ms",
            _line("arriving, less the idle server's", agents + customers, arriving, arrived, idle),
            f"{b['connected_at_end']} WebSockets closed by the driver in {b['all_closed_in_s']} s",
            _line("leaving", b["connected_at_end"], leaving, left),
        ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--agents", type=int, default=0, help="agents signing in (production hash)")
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--window", type=float, default=15.0, help="seconds for them to arrive")
    p.add_argument("--profile", metavar="DIR", help="py-spy the server while they arrive")
    args = p.parse_args()
    for line in asyncio.run(measure(args)):
        print(line)


if __name__ == "__main__":
    main()
