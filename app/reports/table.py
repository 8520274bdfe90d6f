"""The summary as a CSV table for a spreadsheet: one row per group, then the total, flat columns.

UTF-8 with a byte-order mark: without it Excel reads the file as the machine's legacy code page and garbles
Chinese store and department names. Column names are the JSON members joined with ``_``
(``clocks_written_reply_on_time_rate``); remedies get a count and an amount column for every kind.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from app.complaints.models import RemedyKind
from app.reports.schemas import Summary, SummaryRow

BOM = "\ufeff"


def to_csv(summary: Summary) -> str:
    rows = [("group", row) for row in summary.groups] + [("total", summary.total)]
    flat = [{"row": kind, **_flatten(row)} for kind, row in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(flat[-1]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(flat)
    return BOM + out.getvalue()


def _flatten(row: SummaryRow) -> dict[str, Any]:
    data = row.model_dump(mode="json", exclude={"remedies"})
    flat = dict(_items("", data))
    granted = {remedy.kind: remedy for remedy in row.remedies}
    for kind in RemedyKind:
        remedy = granted.get(kind)
        flat[f"remedies_{kind}_count"] = remedy.count if remedy else 0
        flat[f"remedies_{kind}_amount"] = str(remedy.amount) if remedy else "0.00"
    return flat


def _items(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in _items(f"{prefix}{key}_", inner)]
    return [(prefix.rstrip("_"), "" if value is None else safe_cell(value))]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``, ``@SUM(...)``) is prefixed
    with ``'`` so that Excel and LibreOffice show it as text (OWASP, CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
