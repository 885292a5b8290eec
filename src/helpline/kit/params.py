"""Bounds for the numbers callers send in URLs and frames.

Every integer a caller chooses ends up compared with an `Integer` column or used as an OFFSET,
and the backends refuse numbers past their integer types (SQLite: 64-bit, PostgreSQL `integer`:
32-bit) with an error that would surface as a 500 or a 503. Bounding them where they are parsed
makes such values a 422 like any other out-of-range value, and shows the bound in OpenAPI.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator, StringConstraints

MAX_INT = 2**31 - 1  # PostgreSQL `integer`, the narrowest column such a number meets

BoundedInt = Annotated[int, Ge(0), Le(MAX_INT)]
"""A non-negative integer that fits every integer column (`after`, a `seq`, an offset)."""

Cursor = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
"""A list's `next`, sent back as `?cursor=`: opaque to clients, a position to the server.
Nine digits always fit `BoundedInt`."""


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_only(value: object) -> object:
    # Pydantic would also take "2026-03-10T00:00:00Z" as a date; the contract says YYYY-MM-DD.
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("expected a UTC day as YYYY-MM-DD")
    return value


# Room at both ends of the calendar for a range's default start (reports: 29 days back) and
# its end (the day after the last); nothing Helpline records is older than the Unix epoch.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 30)
Day = Annotated[date, BeforeValidator(_day_only), Ge(FIRST_DAY), Le(LAST_DAY)]
"""A UTC day in a URL, YYYY-MM-DD only (`from=` and `to=` of reports and search)."""


def cursor_offset(cursor: str | None) -> int:
    return int(cursor) if cursor else 0


def reject_nul(data: object) -> object:
    """Refuses a NUL character anywhere in request data (strings, list items, keys): PostgreSQL
    cannot store one in text, and no name, message or id has one."""
    if _has_nul(data):
        raise ValueError("Text may not contain NUL characters.")
    return data


def _has_nul(data: object) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if isinstance(data, list | tuple):
        return any(_has_nul(v) for v in data)
    return False
