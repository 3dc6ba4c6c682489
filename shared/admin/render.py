"""Findings and meetings for people: a table, CSV (with formula-injection guarded) or JSON."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

FINDING_COLUMNS = ("id", "week", "status", "severity", "rule", "subjectName", "subject", "meetingSubject",
                   "organiserName", "team", "start", "summary", "exemptionId", "hold", "clauses", "firstSeen",
                   "lastSeen")
MEETING_COLUMNS = ("id", "week", "start", "end", "subject", "organiserName", "team", "where", "inScope", "stages",
                   "staffCount", "pupilCount", "findingsCount", "compliant", "cancelled", "hold", "note")


def _local(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime("%a %d %b %H:%M")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    # A spreadsheet would run a cell starting with = + - @ as a formula: findings quote what people typed.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: TextIO, *, header: bool = True) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])


def write_json(rows: Any, out: TextIO) -> None:
    json.dump(rows, out, indent=1, ensure_ascii=False, default=str)
    out.write("\n")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def findings_table(rows: Sequence[dict[str, Any]], zone: ZoneInfo, out: TextIO, *, header: bool = True) -> None:
    width = max(100, min(200, shutil.get_terminal_size((160, 20)).columns))
    if header:
        out.write(f"{'ID':<49}  {'STATUS':<14}  {'SEVERITY':<8}  {'RULE':<27}  {'WHO':<20}  {'WHEN':<16}  SUMMARY\n")
    for r in rows:
        who = r.get("subjectName") or r.get("subject") or "-"
        line = (f"{r['id']:<49}  {r['status']:<14}  {r['severity']:<8}  {r['rule']:<27}  {_fit(who, 20):<20}  "
                f"{_local(r.get('start'), zone):<16}  ")
        out.write(line + _fit(str(r.get("summary", "")), max(20, width - len(line))) + "\n")


def meetings_table(rows: Sequence[dict[str, Any]], zone: ZoneInfo, out: TextIO, *, header: bool = True) -> None:
    if header:
        out.write(f"{'ID':<41}  {'WHEN':<16}  {'ORGANISER':<20}  {'WHERE':<16}  {'PUPILS':>6}  {'FINDINGS':>8}  "
                  "SUBJECT\n")
    for r in rows:
        scope = "" if r.get("inScope") else " (out of scope)"
        out.write(f"{r['id']:<41}  {_local(r.get('start'), zone):<16}  {_fit(r.get('organiserName') or '-', 20):<20}  "
                  f"{_fit(r.get('where') or '-', 16):<16}  {r.get('pupilCount') or 0:>6}  "
                  f"{r.get('findingsCount') or 0:>8}  {_fit(r.get('subject') or '-', 60)}{scope}\n")
