"""Time zones and recurrence as Outlook serves them through Graph.

- ``dateTimeTimeZone`` values (an event's ``start``/``end``) name their zone in Windows form ("GMT Standard
  Time") or IANA form ("Europe/London"); :func:`to_utc` reads them, :func:`in_zone` writes them.
- :func:`expand` turns a series master (``recurrence`` = ``recurrencePattern`` + ``recurrenceRange``) into its
  occurrences between two instants, in the series' own time zone, so a 09:00 lesson stays at 09:00 local across
  the change to British Summer Time.

References (README of the simulator cites each):
https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern,
https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange,
https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone,
https://learn.microsoft.com/en-us/graph/api/resources/event.
"""

from __future__ import annotations

import base64
import calendar as _cal
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JSON = dict[str, Any]

# Windows zone names Outlook uses → IANA (CLDR windowsZones "001" territory). Enough for UK schools and the
# zones a test may name; an unknown name is an error, not a silent UTC.
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Calcutta",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEXES = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
MAX_OCCURRENCES = 999  # Outlook caps a numbered range at 999 occurrences


class CalendarError(ValueError):
    """A time zone or recurrence Graph would refuse."""


def zone(name: str | None) -> ZoneInfo:
    """The zone for a Windows or IANA name (``None``/empty → UTC)."""
    if not name:
        return ZoneInfo("UTC")
    iana = WINDOWS_ZONES.get(name.strip(), name.strip())
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


def _parse_local(text: str) -> datetime:
    """``2026-03-30T09:00:00.0000000`` (0–7 fractional digits, no offset) → naive datetime."""
    main, _, frac = text.strip().partition(".")
    digits = "".join(ch for ch in frac if ch.isdigit())
    value = datetime.fromisoformat(main)
    if value.tzinfo is not None:
        raise CalendarError(f"dateTime {text!r} carries an offset; Graph names the zone in timeZone")
    return value.replace(microsecond=int((digits + "000000")[:6]))


def to_utc(value: JSON) -> datetime:
    """A ``dateTimeTimeZone`` as an aware UTC datetime."""
    local = _parse_local(str(value["dateTime"]))
    return local.replace(tzinfo=zone(value.get("timeZone"))).astimezone(UTC)


def in_zone(value: datetime, name: str) -> JSON:
    """An instant as ``dateTimeTimeZone`` in zone ``name`` (Graph's 7 fractional digits, no offset)."""
    local = value.astimezone(zone(name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond:06d}0", "timeZone": name}


def event_window(event: JSON) -> tuple[datetime, datetime]:
    return to_utc(event["start"]), to_utc(event["end"])


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """Deterministic id of an occurrence: opaque like Graph's, decodable here (GET /events/{id} resolves it)."""
    raw = f"{master_id}|{original_start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}".encode()
    return "AAMkOCC" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_occurrence_id(event_id: str) -> tuple[str, datetime] | None:
    if not event_id.startswith("AAMkOCC"):
        return None
    body = event_id[len("AAMkOCC") :]
    try:
        master, _, stamp = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().rpartition("|")
        return master, datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (ValueError, UnicodeDecodeError):
        return None


def _weekday(name: str) -> int:
    try:
        return DAYS.index(name.lower())
    except ValueError as exc:
        raise CalendarError(f"unknown day of week {name!r}") from exc


def _add_months(day: date, months: int) -> tuple[int, int]:
    total = day.year * 12 + (day.month - 1) + months
    return total // 12, total % 12 + 1


def _nth_weekday(year: int, month: int, weekdays: list[int], index: int) -> date | None:
    """The ``index``-th (0-based; -1 = last) day in the month whose weekday is one of ``weekdays``."""
    days = [
        date(year, month, d)
        for d in range(1, _cal.monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() in weekdays
    ]
    if not days:
        return None
    if index == -1:
        return days[-1]
    return days[index] if index < len(days) else None


def pattern_dates(recurrence: JSON, until: date) -> list[date]:
    """Local dates of a series' occurrences from its range's ``startDate`` up to ``until`` (inclusive), honouring
    ``endDate`` and ``numberOfOccurrences`` (counted from the series start, not from ``until``)."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    kind = str(pattern.get("type", ""))
    interval = int(pattern.get("interval") or 1)
    if interval < 1:
        raise CalendarError("recurrence interval must be at least 1")
    start = date.fromisoformat(str(rng["startDate"]))
    range_type = str(rng.get("type", "noEnd"))
    last = until
    if range_type == "endDate":
        last = min(last, date.fromisoformat(str(rng["endDate"])))
    limit = int(rng.get("numberOfOccurrences") or 0) if range_type == "numbered" else MAX_OCCURRENCES * 10
    if range_type == "numbered" and limit < 1:
        raise CalendarError("a numbered range needs numberOfOccurrences ≥ 1")
    out: list[date] = []

    def take(day: date) -> bool:
        """Append if in range; False once the series is over."""
        if day > last or len(out) >= limit:
            return False
        if day >= start:
            out.append(day)
        return True

    if kind == "daily":
        day = start
        while take(day):
            day += timedelta(days=interval)
    elif kind == "weekly":
        weekdays = sorted(_weekday(d) for d in pattern.get("daysOfWeek") or [])
        if not weekdays:
            raise CalendarError("a weekly pattern needs daysOfWeek")
        first = _weekday(str(pattern.get("firstDayOfWeek") or "sunday"))
        week = start - timedelta(days=(start.weekday() - first) % 7)
        running = True
        while running and week <= last:
            for offset in range(7):
                day = week + timedelta(days=offset)
                if day.weekday() in weekdays and not take(day):
                    running = False
                    break
            week += timedelta(weeks=interval)
    elif kind in ("absoluteMonthly", "relativeMonthly"):
        n = 0
        while True:
            year, month = _add_months(start.replace(day=1), n * interval)
            if date(year, month, 1) > last:
                break
            n += 1
            if kind == "absoluteMonthly":
                dom = int(pattern.get("dayOfMonth") or 0)
                if not 1 <= dom <= 31:
                    raise CalendarError("an absoluteMonthly pattern needs dayOfMonth 1–31")
                if dom > _cal.monthrange(year, month)[1]:
                    continue  # no such day this month: no occurrence (choice documented in the README)
                found: date | None = date(year, month, dom)
            else:
                weekdays = [_weekday(d) for d in pattern.get("daysOfWeek") or []]
                if not weekdays:
                    raise CalendarError("a relativeMonthly pattern needs daysOfWeek")
                found = _nth_weekday(year, month, weekdays, INDEXES[str(pattern.get("index") or "first")])
            if found is not None and not take(found):
                break
    else:
        raise CalendarError(f"unsupported recurrence pattern type {kind!r}")
    return out


def series_zone(master: JSON) -> str:
    rng = (master.get("recurrence") or {}).get("range") or {}
    return str(rng.get("recurrenceTimeZone") or master["start"].get("timeZone") or "UTC")


def series_starts(master: JSON, window_end: datetime) -> list[datetime]:
    """UTC original starts of every occurrence of ``master`` that starts before ``window_end``."""
    tz_name = series_zone(master)
    tz = zone(tz_name)
    local_start = to_utc(master["start"]).astimezone(tz)
    until = (window_end.astimezone(tz) + timedelta(days=1)).date()
    starts = []
    for day in pattern_dates(master["recurrence"], until):
        local = datetime.combine(day, local_start.time().replace(tzinfo=None)).replace(tzinfo=tz)
        # A wall-clock time that does not exist (skipped at the spring change) moves forward, as Outlook does.
        utc = local.astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
            utc = local.replace(fold=1).astimezone(UTC)
        if utc < window_end:
            starts.append(utc)
    return starts
