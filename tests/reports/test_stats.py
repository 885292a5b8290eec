from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from helpline.errors import Invalid
from helpline.kit.clock import FrozenClock, set_clock
from helpline.reports.service import period
from helpline.reports.stats import average, percentile, spread


def test_median_and_p90_interpolate_between_ranks() -> None:
    assert percentile([10.0, 20.0, 30.0], 0.5) == 20.0
    assert percentile([10.0, 20.0, 30.0], 0.9) == pytest.approx(28.0)
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_spread_sorts_and_rounds() -> None:
    assert spread([30.0, 10.0, 20.04]) == {"count": 3, "median_s": 20.0, "p90_s": 28.0}
    assert spread([]) == {"count": 0, "median_s": None, "p90_s": None}
    assert average(11, 3) == 3.67 and average(0, 0) is None


def test_default_period_is_the_last_30_utc_days() -> None:
    set_clock(FrozenClock(datetime(2026, 3, 1, 0, 30, tzinfo=UTC)))
    p = period(None, None)
    assert (p.start, p.end, p.days) == (date(2026, 1, 31), date(2026, 3, 1), 30)
    p = period(None, date(2026, 1, 10))
    assert (p.start, p.end) == (date(2025, 12, 12), date(2026, 1, 10))
    assert period(date(2026, 2, 20), None).end == date(2026, 3, 1)


def test_one_day_and_366_days_are_allowed() -> None:
    assert period(date(2026, 1, 1), date(2026, 1, 1)).days == 1
    p = period(date(2024, 1, 1), date(2024, 12, 31))  # a leap year: 366 days
    assert p.days == 366 and len(p.dates()) == 366


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (date(2026, 1, 2), date(2026, 1, 1), "invalid_range"),
        (date(2025, 1, 1), date(2026, 1, 2), "range_too_long"),
        (date(2023, 1, 1), date(2024, 1, 2), "range_too_long"),  # 367 days
    ],
)
def test_inverted_or_too_long_ranges_are_refused(start: date, end: date, code: str) -> None:
    with pytest.raises(Invalid) as err:
        period(start, end)
    assert err.value.code == code
