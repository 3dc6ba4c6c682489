"""Table keys: weeks in the school's time zone, and hashed row keys no character or length can break."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_of(epoch: float, zone: ZoneInfo) -> str:
    """The ISO week (``2026-W47``) of a moment, in the school's time zone."""
    local = datetime.fromtimestamp(epoch, tz=UTC).astimezone(zone)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 and the next Monday 00:00 of an ISO week, in the school's time zone."""
    m = WEEK.match(week)
    if not m:
        raise ValueError(f"'{week}' is not an ISO week; expected for example 2026-W48")
    monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)


def previous_weeks(week: str, count: int) -> list[str]:
    """``count`` weeks ending with ``week``, oldest first."""
    m = WEEK.match(week)
    if not m:
        raise ValueError(f"'{week}' is not an ISO week")
    monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    out = []
    for back in range(count - 1, -1, -1):
        year, number, _ = (monday - timedelta(days=7 * back)).isocalendar()
        out.append(f"{year}-W{number:02d}")
    return out


def finding_row_key(occurrence_id: str, rule: str, subject: str | None) -> str:
    """Deterministic: the same occurrence, rule and subject always give the same row (a redelivery rewrites)."""
    material = f"{occurrence_id}\x1f{rule}\x1f{subject if subject is not None else ''}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def finding_id(week: str, row_key: str) -> str:
    """The id people use for a finding (CLI, HTTP): week and row key, safe in a URL."""
    return f"{week}.{row_key}"


def parse_finding_id(value: str) -> tuple[str, str]:
    week, sep, row = value.partition(".")
    if not sep or not WEEK.match(week) or not re.fullmatch(r"[0-9a-f]{40}", row):
        raise ValueError(f"'{value[:60]}' is not a finding id; expected WEEK.ROWKEY as printed by vcaudit findings")
    return week, row
