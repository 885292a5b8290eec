"""CSV cells that a spreadsheet shows as text."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """`value` as a CSV cell. Text starting like a formula gets a leading apostrophe: names and
    details are typed by people, and a spreadsheet would run `=HYPERLINK(...)` (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text[:1] in FORMULA_START:
        return "'" + text
    return text
