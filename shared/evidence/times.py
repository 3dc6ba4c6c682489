"""Graph's times: ISO 8601 with 0-7 fractional digits, and calendar events' zone-less dateTime + timeZone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)

# Windows zone names Graph may put beside an event's dateTime (Outlook's own zones), mapped to IANA.
# Graph answers in UTC unless a `Prefer: outlook.timezone` header asks otherwise; the gateway never asks.
WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kyiv",
    "gtb standard time": "Europe/Bucharest",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "pacific standard time": "America/Los_Angeles",
    "india standard time": "Asia/Kolkata",
    "aus eastern standard time": "Australia/Sydney",
}


class TimeFormatError(ValueError):
    pass


def parse_instant(text: str) -> float:
    """Seconds since the epoch (UTC) of an ISO 8601 time; a time without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeFormatError(f"'{text[:40]}' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def zone_for(name: str | None) -> ZoneInfo:
    """An IANA zone for a Graph ``timeZone`` value (IANA or Windows name); unknown names raise."""
    if not name:
        return ZoneInfo("UTC")
    mapped = WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    try:
        return ZoneInfo(mapped)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeFormatError(f"'{name[:40]}' is not a time zone Graph uses") from None


def parse_event_time(date_time: str, time_zone: str | None) -> float:
    """An event's ``{dateTime, timeZone}`` (no offset in dateTime; zone named beside it) as epoch seconds."""
    m = _ISO.match(date_time.strip())
    if not m:
        raise TimeFormatError(f"'{date_time[:40]}' is not an ISO 8601 time")
    if m.group(8):
        return parse_instant(date_time)
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = m.group(7) or ""
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone_for(time_zone))
    except ValueError:
        raise TimeFormatError(f"'{date_time[:40]}' is not a valid date and time") from None
    return local.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time with whole seconds, as shown in evidence."""
    return datetime.fromtimestamp(round(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
