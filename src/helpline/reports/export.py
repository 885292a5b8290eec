"""The table behind each report chart, as CSV: pure, no IO."""

from __future__ import annotations

import csv
import io
from typing import Any

from helpline.kit.csvcell import safe_cell
from helpline.reports.schemas import ExportTable

_COUNTS = ["chats", "solved", "cancelled", "expired", "open", "requests_raised"]
_SLA = [("sla_met", "sla_met"), ("sla_missed", "sla_missed"), ("sla_met_share", "sla_met_share")]
_REQUEST_SLA = [
    (c, c)
    for target in ("response", "resolution")
    for c in (f"request_{target}_met", f"request_{target}_missed", f"request_{target}_met_share")
]
_TIMES = ["wait_median_s", "wait_p90_s", "handle_median_s", "handle_p90_s"]

COLUMNS: dict[ExportTable, list[tuple[str, str]]] = {
    # (CSV header, key in the summary row)
    ExportTable.daily: [
        ("date", "date"),
        *((c, c) for c in _COUNTS),
        *((c, c) for c in _TIMES),
        ("ratings", "ratings"),
        ("rating_avg", "rating_avg"),
    ],
    ExportTable.queues: [
        ("queue_id", "id"),
        ("queue", "name"),
        *((c, c) for c in _COUNTS),
        *((c, c) for c in _TIMES),
        ("ratings", "ratings"),
        ("rating_avg", "rating_avg"),
        *_SLA,
        *_REQUEST_SLA,
    ],
    ExportTable.agents: [
        ("agent_id", "id"),
        ("agent", "name"),
        ("chats", "chats"),
        ("solved", "solved"),
        ("handle_median_s", "handle_median_s"),
        ("handle_p90_s", "handle_p90_s"),
        ("ratings", "ratings"),
        ("rating_avg", "rating_avg"),
        *_SLA,
        *_REQUEST_SLA,
    ],
    ExportTable.ratings: [("score", "score"), ("count", "count")],
    # Requests' service levels per priority, then "all".
    ExportTable.request_sla: [
        ("priority", "priority"),
        *(
            (f"{target}_{c}", f"{target}_{c}")
            for target in ("response", "resolution")
            for c in ("met", "missed", "met_share")
        ),
    ],
}


def rows(report: dict[str, Any], table: ExportTable) -> list[dict[str, Any]]:
    if table is ExportTable.ratings:
        return list(report["ratings"]["distribution"])
    if table is ExportTable.request_sla:
        sla = report["request_sla"]
        return [_flat(p) for p in sla["priorities"]] + [_flat({**sla, "priority": "all"})]
    return list(report[table.value])


def to_csv(report: dict[str, Any], table: ExportTable) -> str:
    columns = COLUMNS[table]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in columns])
    for row in rows(report, table):
        writer.writerow([safe_cell(row.get(key)) for _, key in columns])
    return out.getvalue()


def filename(report: dict[str, Any], table: ExportTable) -> str:
    return f"helpline-{table.value}-{report['from']}-to-{report['to']}.csv"


def _flat(shares: dict[str, Any]) -> dict[str, Any]:
    out = {"priority": shares["priority"]}
    for target in ("response", "resolution"):
        share = shares[target]
        out |= {
            f"{target}_met": share["met"],
            f"{target}_missed": share["missed"],
            f"{target}_met_share": share["share"],
        }
    return out
