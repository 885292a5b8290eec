"""Opening hours: pure functions, no IO."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_time(value: str) -> int:
    """Minutes since midnight; `24:00` is allowed as an end."""
    hh, sep, mm = value.partition(":")
    if not sep or len(hh) != 2 or len(mm) != 2 or not (hh.isdigit() and mm.isdigit()):
        raise ValueError(f"time {value!r} must be HH:MM")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) > 59 or minutes > 24 * 60:
        raise ValueError(f"time {value!r} is out of range")
    return minutes


def _check_ranges(ranges: Any, where: str) -> None:
    if not isinstance(ranges, list):
        raise ValueError(f"{where} must be a list of [start, end] pairs")
    spans: list[tuple[int, int]] = []
    for r in ranges:
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)):
            raise ValueError(f'{where} must be a list of ["HH:MM", "HH:MM"] pairs')
        start, end = _parse_time(r[0]), _parse_time(r[1])
        if start >= end:
            raise ValueError(f"{where}: {r[0]}–{r[1]} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end1), (start2, _) in zip(spans, spans[1:], strict=False):
        if start2 < end1:
            raise ValueError(f"{where}: ranges overlap")


def validate(hours: Any) -> dict[str, Any] | None:
    if hours is None:
        return None
    if not isinstance(hours, dict):
        raise ValueError("hours must be an object or null")
    unknown = set(hours) - {"timezone", "weekly", "exceptions"}
    if unknown:
        raise ValueError(f"unknown hours fields: {sorted(unknown)}")
    tz = hours.get("timezone")
    if not isinstance(tz, str):
        raise ValueError("hours.timezone is required")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc
    weekly = hours.get("weekly", {})
    if not isinstance(weekly, dict) or set(weekly) - set(DAYS):
        raise ValueError("hours.weekly keys are mon…sun")
    for day, ranges in weekly.items():
        _check_ranges(ranges, f"hours.weekly.{day}")
    exceptions = hours.get("exceptions", [])
    if not isinstance(exceptions, list):
        raise ValueError("hours.exceptions must be a list")
    for ex in exceptions:
        if not isinstance(ex, dict) or set(ex) != {"date", "hours"}:
            raise ValueError("each exception is {date, hours}")
        try:
            date.fromisoformat(ex["date"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad exception date {ex.get('date')!r}") from exc
        _check_ranges(ex["hours"], f"exception {ex['date']}")
    return {"timezone": tz, "weekly": weekly, "exceptions": exceptions}


def is_open(hours: dict[str, Any] | None, at: datetime) -> bool:
    if hours is None:
        return True
    local = at.astimezone(ZoneInfo(hours["timezone"]))
    today = local.date().isoformat()
    ranges: list[list[str]] | None = None
    for ex in hours.get("exceptions", []):
        if ex["date"] == today:
            ranges = ex["hours"]
    if ranges is None:
        ranges = hours.get("weekly", {}).get(DAYS[local.weekday()], [])
    minute = local.hour * 60 + local.minute
    return any(_parse_time(a) <= minute < _parse_time(b) for a, b in ranges)


# --- business time: service-level clocks run only while the queue is open ----------------------

# How far ahead a clock looks for opening hours before it gives up (a queue that never opens
# again has no due time).
HORIZON_DAYS = 400


def _ranges_on(hours: dict[str, Any], day: date) -> list[list[str]]:
    """The day's opening ranges: its exception when there is one, else its weekday's."""
    iso_day = day.isoformat()
    for ex in hours.get("exceptions", []):
        if ex["date"] == iso_day:
            return list(ex["hours"])
    return list(hours.get("weekly", {}).get(DAYS[day.weekday()], []))


def _open_spans(hours: dict[str, Any], day: date) -> list[tuple[datetime, datetime]]:
    """The day's open spans as aware UTC instants. Built from local wall times and converted,
    so a day with a DST change has its real length (a 00:00–24:00 day lasts 23 or 25 hours)."""
    tz = ZoneInfo(hours["timezone"])
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    spans = []
    for a, b in sorted(_ranges_on(hours, day), key=lambda r: _parse_time(r[0])):
        start_m, end_m = _parse_time(a), _parse_time(b)
        start = _local(midnight, start_m, tz)
        end = _local(midnight, end_m, tz)
        if end > start:
            spans.append((start.astimezone(UTC), end.astimezone(UTC)))
    return spans


def _local(midnight: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """Wall time `minutes` after local midnight (24:00 is the next midnight). zoneinfo reads a
    wall time in a spring-forward gap with the offset before it (02:30 becomes 03:30) and an
    ambiguous one as its first occurrence."""
    day = midnight.date() + timedelta(days=minutes // (24 * 60))
    hh, mm = divmod(minutes % (24 * 60), 60)
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)


def _spans_from(hours: dict[str, Any], start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans in order from `start` on (the first one clipped to it), up to the horizon."""
    tz = ZoneInfo(hours["timezone"])
    first = start.astimezone(tz).date() - timedelta(days=1)  # a span may start the day before
    for n in range(HORIZON_DAYS + 1):
        for a, b in _open_spans(hours, first + timedelta(days=n)):
            if b <= start:
                continue
            yield max(a, start), b


def add_business_seconds(
    hours: dict[str, Any] | None, start: datetime, seconds: float
) -> datetime | None:
    """The instant `seconds` of opening time after `start`: closed time (nights, weekends,
    exception days) does not count. Without hours the queue is always open. None when the
    queue does not open for long enough within the horizon."""
    start = start.astimezone(UTC)
    if hours is None:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=seconds)
    for a, b in _spans_from(hours, start):
        if b - a >= left:
            return a + left
        left -= b - a
    return None


def business_seconds_between(hours: dict[str, Any] | None, start: datetime, end: datetime) -> float:
    """Opening time between two instants (0 when `end` is not after `start`)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    total = 0.0
    for a, b in _spans_from(hours, start):
        if a >= end:
            break
        total += (min(b, end) - a).total_seconds()
    return total
