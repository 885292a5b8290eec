"""Order statistics for the reports: pure, no IO."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of an ascending sequence, interpolating linearly between the two
    nearest ranks, as PostgreSQL's percentile_cont does; None when empty."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Count, median and 90th percentile of durations in seconds (sorts `values` in place)."""
    values.sort()
    return {
        "count": len(values),
        "median_s": rounded(percentile(values, 0.5)),
        "p90_s": rounded(percentile(values, 0.9)),
    }


def average(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None
