"""The benchmark's stall notes (bench/run.py `RunStalls`): a run's note must count what the
server did while the load sent — the window its latencies come from — and give the arrival of
its connections a line of its own. Fed /metrics histograms as `scrape_stalls` parses them (no
server needed to run this)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import run

pytestmark = pytest.mark.asyncio

LAG = "helpline_event_loop_lag_seconds"
FULL = "helpline_gc_pause_seconds[gen 2]"


def histogram(under_10ms: int, under_50ms: int, total: int) -> dict[float, float]:
    """Cumulative counts at some of the stall buckets' bounds, as /metrics gives them."""
    return {0.005: under_10ms, 0.01: under_10ms, 0.05: under_50ms, 0.1: total, math.inf: total}


async def test_a_runs_note_counts_its_sending_and_its_arrivals_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scrapes = iter(
        [
            {LAG: histogram(100, 100, 100), FULL: histogram(5, 5, 5)},  # before it connects
            {LAG: histogram(130, 132, 133), FULL: histogram(5, 7, 9)},  # when it starts sending
            {LAG: histogram(930, 932, 933), FULL: histogram(5, 7, 9)},  # after
        ]
    )
    sent: list[str] = []

    async def scrape(base: str) -> dict[str, dict[float, float]]:
        assert base == "http://127.0.0.1:8000"
        return next(scrapes)

    async def sending() -> None:
        sent.append("now")

    monkeypatch.setattr(run, "scrape_stalls", scrape)
    stalls = run.RunStalls(["http://127.0.0.1:8000"], sending)
    await stalls.start()
    await stalls.ready()
    assert sent == ["now"]  # the load's own callback, after the scrape
    during, arriving = await stalls.notes()

    assert during.startswith("server stalls while sending: ")
    assert "event_loop_lag 800, >10 ms 0, p99 <= 5.0, max <= 5.0 ms" in during
    assert "gc_pause_seconds[gen 2] 0, >10 ms 0" in during
    assert arriving == (
        "server while connecting: loop lag > 10 ms 3 of 33 (max <= 100.0 ms); "
        "full collections 4 (max <= 100.0 ms)"
    )
