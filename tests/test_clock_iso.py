"""`iso`, the timestamp text of every answer and event: the same text as the RFC 3339 format it
had (`strftime`), now built by `isoformat`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpline.kit.clock import iso


def _reference(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    "dt",
    [
        datetime(2026, 12, 4, 21, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 4, 21, 0, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 4, 21, 0, 0, 7, tzinfo=None),  # noqa: DTZ001 (naive: SQLite's)
        datetime(2026, 1, 1, 1, 30, 0, 500, tzinfo=timezone(timedelta(hours=2))),  # a year back
        datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 6, 1, 0, 0, 0, 999999, tzinfo=ZoneInfo("UTC")),  # UTC, another object
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # `%Y` does not pad such years
    ],
)
def test_iso_is_the_rfc3339_text_with_microseconds_and_a_z(dt: datetime) -> None:
    assert iso(dt) == _reference(dt)
    text = iso(dt)
    assert text is not None and text.endswith("Z")
    assert len(text) == (27 if dt.year >= 1000 else 26)  # microseconds always six digits


def test_iso_of_nothing_is_nothing() -> None:
    assert iso(None) is None
