"""Business time: service-level clocks count only the queue's opening hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helpline.queues.hours import add_business_seconds, business_seconds_between

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_17: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_without_hours_every_second_counts() -> None:
    start = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    assert add_business_seconds(None, start, 600) == start + timedelta(minutes=10)
    assert business_seconds_between(None, start, start + timedelta(hours=2)) == 7200


def test_inside_opening_hours_time_runs_normally() -> None:
    start = berlin(2026, 12, 3, 10, 0)  # a Thursday
    assert add_business_seconds(WEEKDAYS_9_17, start, 1800) == berlin(2026, 12, 3, 10, 30)


def test_closed_night_is_skipped() -> None:
    # Thursday 16:50 + 30 minutes: 10 before closing, 20 after Friday's opening.
    start = berlin(2026, 12, 3, 16, 50)
    due = add_business_seconds(WEEKDAYS_9_17, start, 1800)
    assert due == berlin(2026, 12, 4, 9, 20)
    assert business_seconds_between(WEEKDAYS_9_17, start, due) == 1800


def test_started_while_closed_counts_from_the_opening() -> None:
    start = berlin(2026, 12, 3, 6, 0)
    assert add_business_seconds(WEEKDAYS_9_17, start, 60) == berlin(2026, 12, 3, 9, 1)


def test_weekend_is_skipped() -> None:
    start = berlin(2026, 12, 4, 16, 0)  # Friday
    assert add_business_seconds(WEEKDAYS_9_17, start, 2 * 3600) == berlin(2026, 12, 7, 10, 0)


def test_exception_day_closed_and_exception_hours() -> None:
    hours = {
        **WEEKDAYS_9_17,
        "exceptions": [
            {"date": "2026-12-24", "hours": []},  # Thursday: closed
            {"date": "2026-12-26", "hours": [["10:00", "12:00"]]},  # Saturday: open 2 h
        ],
    }
    start = berlin(2026, 12, 23, 16, 0)  # Wednesday
    # 1 h on Wednesday, Thursday closed, 8 h on Friday 25th, then 1 h into Saturday's 10-12.
    assert add_business_seconds(hours, start, 10 * 3600) == berlin(2026, 12, 26, 11, 0)


def test_several_ranges_a_day() -> None:
    hours = {"timezone": "UTC", "weekly": {"mon": [["14:00", "18:00"], ["08:00", "12:00"]]}}
    start = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # a Monday
    assert add_business_seconds(hours, start, 2 * 3600) == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_dst_spring_forward_day_has_23_hours() -> None:
    always = {
        "timezone": "Europe/Berlin",
        "weekly": {
            d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    }
    start = berlin(2027, 3, 28, 0, 0)  # clocks go 02:00 -> 03:00
    end = berlin(2027, 3, 29, 0, 0)
    assert business_seconds_between(always, start, end) == 23 * 3600
    # 3 hours after local midnight is 04:00 on the wall clock that day.
    assert add_business_seconds(always, start, 3 * 3600) == berlin(2027, 3, 28, 4, 0)


def test_dst_fall_back_inside_opening_hours() -> None:
    hours = {"timezone": "Europe/Berlin", "weekly": {"sun": [["01:00", "05:00"]]}}
    start = berlin(2026, 10, 25, 1, 0)  # clocks go 03:00 -> 02:00: the span lasts 5 hours
    assert business_seconds_between(hours, start, berlin(2026, 10, 25, 6, 0)) == 5 * 3600
    due = add_business_seconds(hours, start, 4.5 * 3600)
    assert due == datetime(2026, 10, 25, 3, 30, tzinfo=UTC)  # 04:30 local, CET


def test_dst_across_a_closed_night_keeps_wall_clock_opening() -> None:
    # The night of the spring change is closed: Monday still opens at 09:00 local (07:00 UTC).
    start = berlin(2027, 3, 26, 16, 30)  # Friday, CET
    due = add_business_seconds(WEEKDAYS_9_17, start, 3600)
    assert due == berlin(2027, 3, 29, 9, 30)
    assert due.astimezone(UTC) == datetime(2027, 3, 29, 7, 30, tzinfo=UTC)


def test_a_queue_that_never_opens_has_no_due_time() -> None:
    never = {"timezone": "UTC", "weekly": {}}
    assert add_business_seconds(never, datetime(2026, 12, 3, tzinfo=UTC), 60) is None


def test_between_is_zero_backwards_and_while_closed() -> None:
    a = berlin(2026, 12, 3, 18, 0)
    assert business_seconds_between(WEEKDAYS_9_17, a, a - timedelta(hours=1)) == 0
    assert business_seconds_between(WEEKDAYS_9_17, a, berlin(2026, 12, 4, 8, 0)) == 0
