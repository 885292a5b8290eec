"""Time. Everything asks `clock.now()`, so tests can move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


clock: Clock = Clock()


def now() -> datetime:
    return clock.now()


def set_clock(c: Clock) -> None:
    global clock
    clock = c


def iso(dt: datetime | None) -> str | None:
    """RFC 3339 with microseconds and a Z, as the event envelope has it."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    if dt.year < 1000:  # `isoformat` pads such years, `%Y` does not: the text stays as it was
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # `isoformat` (in C) rather than `strftime`: a waiting queue's offers shape thousands of
    # these per handshake (docs/performance.md). Same text: "+00:00" becomes the "Z".
    return dt.isoformat(timespec="microseconds")[:-6] + "Z"


def aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
