"""``findings.csv``: every finding of the week, safe to open in a spreadsheet.

Spreadsheet formula injection is neutralised: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return (a meeting subject or a guest's display name is anyone's text) gets a leading apostrophe, so
Excel and LibreOffice show it as text and never evaluate it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from shared.digest.model import SEVERITY_RANK, FindingView

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("finding_id", "week", "date", "time", "meeting", "where", "organiser", "severity", "rule", "who",
          "subject_id", "clauses", "summary", "machine_state", "status")
BOM = "\ufeff"  # Excel opens UTF-8 CSV correctly only with it


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _row(view: FindingView) -> list[str]:
    date = f"{view.start:%Y-%m-%d}" if view.start else ""
    time = f"{view.start:%H:%M}" if view.start else ""
    return [neutralise(cell) for cell in (
        view.id, view.week, date, time, view.meeting, view.where, view.organiser, view.severity, view.rule, view.who,
        view.subject, view.clause_ids, view.summary, view.machine_state, view.status or "open")]


def priority(views: Sequence[FindingView]) -> list[FindingView]:
    """The order rows are kept in when not all fit: safeguarding concerns first, then by date."""
    return sorted(views, key=lambda v: (SEVERITY_RANK.get(v.severity, 9), v.start.timestamp() if v.start else 0.0))


def findings_csv(views: Sequence[FindingView]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for view in views:
        writer.writerow(_row(view))
    return (BOM + out.getvalue()).encode("utf-8")


def fitting_csv(views: Sequence[FindingView], max_bytes: int) -> tuple[bytes, int]:
    """The CSV of as many findings as fit in ``max_bytes`` (in :func:`priority` order): (bytes, rows kept)."""
    ordered = priority(views)
    whole = findings_csv(ordered)
    if len(whole) <= max_bytes:
        return whole, len(ordered)
    used = len(findings_csv([]))
    kept = 0
    for view in ordered:  # each row's size on its own: rows are independent in CSV
        size = len(findings_csv([view])) - len(findings_csv([]))
        if used + size > max_bytes:
            break
        used += size
        kept += 1
    return findings_csv(ordered[:kept]), kept
