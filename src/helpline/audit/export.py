"""The audit log as CSV rows: pure, no IO."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from helpline.audit.schemas import AuditEntryOut
from helpline.kit.clock import iso
from helpline.kit.csvcell import safe_cell

HEADER = [
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "ip",
    "details",
]


def lines(entries: Iterable[AuditEntryOut], *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    for e in entries:
        writer.writerow(
            [
                safe_cell(e.id),
                safe_cell(iso(e.at)),
                safe_cell(e.actor.id if e.actor else None),
                safe_cell(e.actor.name if e.actor else None),
                safe_cell(e.action),
                safe_cell(e.target.type),
                safe_cell(e.target.id),
                safe_cell(e.ip),
                # JSON text starts with "{": never a formula, but checked like every cell.
                safe_cell(json.dumps(e.details, ensure_ascii=False, sort_keys=True)),
            ]
        )
    return out.getvalue()
