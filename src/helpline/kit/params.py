"""Bounds for the numbers callers send in URLs and frames.

Every integer a caller chooses ends up compared with an `Integer` column or used as an OFFSET,
and the backends refuse numbers past their integer types (SQLite: 64-bit, PostgreSQL `integer`:
32-bit) with an error that would surface as a 500 or a 503. Bounding them where they are parsed
makes such values a 422 like any other out-of-range value, and shows the bound in OpenAPI.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import StringConstraints

MAX_INT = 2**31 - 1  # PostgreSQL `integer`, the narrowest column such a number meets

BoundedInt = Annotated[int, Ge(0), Le(MAX_INT)]
"""A non-negative integer that fits every integer column (`after`, a `seq`, an offset)."""

Cursor = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
"""A list's `next`, sent back as `?cursor=`: opaque to clients, a position to the server.
Nine digits always fit `BoundedInt`."""


def cursor_offset(cursor: str | None) -> int:
    return int(cursor) if cursor else 0
