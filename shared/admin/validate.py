"""Validation of everything a person types (CLI options, HTTP query parameters and bodies): one-line errors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.engine import SEVERITY_RANK
from shared.policy.catalogue import catalogue
from shared.store.keys import WEEK, parse_finding_id

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
OCCURRENCE = re.compile(r"^[0-9a-f]{32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEXT_LIMIT = 256


class InvalidInput(ValueError):
    """Something a person typed is not acceptable. The message is one line and names the parameter."""


def rules() -> tuple[str, ...]:
    return tuple(catalogue())


def text(name: str, value: str | None, *, limit: int = TEXT_LIMIT, required: bool = False) -> str | None:
    """A free-text filter value: trimmed, bounded, no control characters. Quotes are fine: values are only
    ever passed to Table Storage as query parameters, never spliced into the filter."""
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"{name}: required")
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name}: longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{name}: contains control characters")
    return value


def comment(name: str, value: str | None, *, limit: int = 2000) -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"{name}: required (say why)")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name}: longer than {limit} characters")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise InvalidInput(f"{name}: contains control characters")
    return value


def week(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    m = WEEK.match(value)
    if not m:
        raise InvalidInput(f"{name}: '{value[:40]}' is not an ISO week; expected for example 2026-W47")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise InvalidInput(f"{name}: '{value}' is not a week of that year") from None
    if not EARLIEST <= monday <= LATEST:
        raise InvalidInput(f"{name}: {value} is out of range; expected a week from {EARLIEST.year} to {LATEST.year}")
    return value


# Dates the tool can mean: a school's records, annotations and consent forms. Outside, arithmetic on them (the
# day after, a week's bounds, a time zone's offset) would leave Python's calendar, so they are refused in one line.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


def day(name: str, value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidInput(f"{name}: '{value[:40]}' is not a date; expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: '{value}' is not a calendar date") from None
    if not EARLIEST <= parsed <= LATEST:
        raise InvalidInput(f"{name}: {value} is out of range; expected a date from {EARLIEST} to {LATEST}")
    return parsed


def choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip().lower()
    if value not in allowed:
        raise InvalidInput(f"{name}: '{value[:40]}' is not one of {', '.join(allowed)}")
    return value


def rule(name: str, value: str | None) -> str | None:
    return choice(name, value, rules())


def severity(name: str, value: str | None) -> str | None:
    return choice(name, value, tuple(SEVERITY_RANK))


def finding_id(value: str) -> tuple[str, str]:
    try:
        return parse_finding_id(value.strip())
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def meeting_id(value: str) -> tuple[str | None, str]:
    """``WEEK.OCCURRENCE`` as printed by ``vcaudit meetings``, or the bare 32-hex occurrence id."""
    value = value.strip()
    week_part, sep, occurrence = value.rpartition(".")
    if not sep:
        week_part, occurrence = "", value
    if not OCCURRENCE.fullmatch(occurrence) or (sep and not WEEK.match(week_part)):
        raise InvalidInput(f"'{value[:60]}' is not a meeting id; expected WEEK.OCCURRENCE as printed by "
                           "vcaudit meetings")
    return (week_part or None), occurrence


def pupil_id(value: str) -> str:
    value = value.strip()
    if not GUID.match(value):
        raise InvalidInput(f"'{value[:60]}' is not a pupil's user id; expected the directory object id (a GUID)")
    return value.lower()


def end_of_day(value: date, zone: ZoneInfo) -> datetime:
    """The moment a date given as "until" or "expires" lapses: midnight after it, in the school's time zone."""
    following = value + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone)


def limit(name: str, value: str | int | None, *, default: int, maximum: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name}: '{str(value)[:20]}' is not a whole number") from None
    if not 1 <= number <= maximum:
        raise InvalidInput(f"{name}: {number} is out of range; expected 1..{maximum}")
    return number


WEEK_NAME = WEEK
