"""Opening hours: pure functions, no IO."""

from __future__ import annotations

from datetime import date, datetime
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
