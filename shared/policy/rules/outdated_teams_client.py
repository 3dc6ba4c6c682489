"""Staff and pupils on an out-of-date Teams client (S4).

A call record's segments carry each endpoint's user agent (``userAgent.headerValue``). Two Teams build formats
encode their release date: Teams 2.x ``YYDDD.x.x.x`` (year and day of year) and classic Teams ``1.Y.00.DDDxx``
(year 2017 + Y; the last field without its last two digits is the day of year). Every other agent (browsers
without a ``Teams/`` build, the iOS and Android apps, room systems, Skype for Business) cannot be dated: such
people are reported as coverage, never as findings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.evidence.meeting import Meeting, Person, Role
from shared.evidence.reader import obj, objects, text
from shared.evidence.times import TimeFormatError, parse_instant
from shared.policy.catalogue import Coverage, Draft, Param, rule
from shared.policy.rules import _example
from shared.policy.rules._text import meeting_name

# ``Teams/<build>`` (the desktop apps and Teams in a browser) or the classic Insider app's own token.
_TOKEN = re.compile(r"(?<![\w-])(?:MicrosoftTeams-Insider|Teams)/([0-9][0-9A-Za-z./]*)")
_NEW = re.compile(r"(\d{2})(\d{3})\.\d+\.\d+\.\d+")  # Teams 2.x: YYDDD.x.x.x
_CLASSIC = re.compile(r"1\.(\d{1,2})\.00\.(\d{3,5})")  # classic Teams: 1.Y.00.DDDxx
COVERAGE_KIND = "Teams client version"
COVERAGE_REASON = ("someone present used a client whose user agent does not date its build (a browser, the "
                   "mobile apps, a room system)")


@functools.lru_cache(maxsize=256)
def build_date(agent: str | None) -> tuple[str, date] | None:
    """The Teams build in a user agent and the date its number encodes; ``None`` when it cannot be dated."""
    for build in _TOKEN.findall(agent or ""):
        new = _NEW.fullmatch(build)
        if new:
            year, day = 2000 + int(new.group(1)), int(new.group(2))
        else:
            classic = _CLASSIC.fullmatch(build)
            if not classic:
                continue
            year, day = 2017 + int(classic.group(1)), int(classic.group(2)[:-2])
        last = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
        if 1 <= day <= last:
            return build, date(year, 1, 1) + timedelta(days=day - 1)
    return None


def _lesson_date(record: dict[str, Any], path: str) -> date | None:
    start = text(record, "startDateTime", path)
    if not start:
        return None
    try:
        return datetime.fromtimestamp(parse_instant(start), UTC).date()
    except TimeFormatError:
        return None


def example() -> dict[str, Any]:
    """Amelia joined from classic Teams 1.6.00.35756 (a build of 23 December 2023); Oliver from a browser."""
    bundle = _example.lesson()
    classic = "Microsoft Teams 1.6.00.35756 Teams/1.6.00.35756 Electron/19.1.8"
    browser = ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
               "Safari/537.36")
    bundle["callRecord"]["sessions"][1] = _example.session(_example.AMELIA, "09:00:05", "09:45:00", agent=classic)
    bundle["callRecord"]["sessions"][2] = _example.session(_example.OLIVER, "09:00:41", "09:45:00", agent=browser)
    return bundle


@rule("outdated-teams-client", "low", ("S4",), "A Teams client older than the policy allows", per_person=True,
      example=example,
      params={"max_age_days": Param(int, 90, "Oldest Teams client build accepted on the lesson's day (days)")},
      passes="""A client built within the maximum age of the lesson's date (default 90 days); agents that do not
      date a build (browsers without a `Teams/` build, iOS `Teams/6.1.1`, Android `Teams/1416/…`, rooms, Skype
      for Business), which are counted as coverage; people from outside the school and school accounts that are
      neither staff nor pupils.""",
      remediation="""Update Teams before the next lesson: in the Teams app select Settings and more (...) > Check
      for updates and restart Teams when asked; classic Teams (version 1.x) is no longer supported, so install
      the new Teams from the school's software centre or ask IT. Let parents know how to update the app on a
      pupil's home device, or to join from a browser instead.""",
      references=(
          "Microsoft Learn, *Teams update process*: desktop clients between one and three months old show an "
          "in-app alert; clients more than three months old show a blocking page. "
          "https://learn.microsoft.com/en-us/microsoftteams/teams-client-update",
          "Microsoft Learn, *userAgent resource type* (call records): `headerValue` is the user-agent header "
          "reported by the endpoint. https://learn.microsoft.com/en-us/graph/api/resources/callrecords-useragent",
          "Microsoft Learn, *clientUserAgent resource type*: `platform` and `productFamily` of a client endpoint. "
          "https://learn.microsoft.com/en-us/graph/api/resources/callrecords-clientuseragent",
          "The build-number formats, as explained by the maintainer of a public catalogue of Teams builds: Teams "
          "2.x `YYDDD.XXXX.XXXX.XXXX` (`24041.300.2689.9173`: 2024, day 41, 10 February 2024); classic Teams "
          "`1.X.00.DDDXX` with X the year since 2017 (`1.7.00.4065`: 2024, day 40, 9 February 2024). "
          "https://github.com/ItzLevvie/MicrosoftTeams-msinternal/issues/37",
          "The same catalogue lists builds with their publication dates, for example `26045.300.4388.9208` "
          "published on 14 February 2026 (day 45). "
          "https://raw.githubusercontent.com/ItzLevvie/MicrosoftTeams-msinternal/master/defconfig2",
          "Microsoft Learn, *Upgrade to new Teams for VDI*: a new-Teams version in this shape "
          "(`23306.3314.2555.9628`). https://learn.microsoft.com/en-us/microsoftteams/new-teams-vdi-requirements-deploy",
      ))
def outdated_teams_client(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft | Coverage]:
    """S4: staff "Ensure that they have the latest version of the app." Fires for each member of staff or pupil
    present whose Teams client (the user agent of their own endpoint in the call record's segments) was built
    more than the maximum age before the lesson's date; one finding per person, for their oldest client."""
    limit = params["max_age_days"]
    oldest: dict[str, tuple[int, str, str, date, date]] = {}  # person -> (age, agent, build, built, lesson day)
    seen: dict[str, Person] = {}
    days = [_lesson_date(record, f"callRecords[{i}]" if i else "callRecord")
            for i, record in enumerate(m.bundle.call_records)]
    for index, session, end, person in m.session_people:
        if person.role not in (Role.STAFF, Role.PUPIL):
            continue
        seen[person.key] = person
        day = days[index]
        path = f"callRecords[{index}].sessions" if index else "callRecord.sessions"
        for g, segment in enumerate(objects(session, "segments", path)):
            gpath = f"{path}.segments[{g}].{end}"  # the person's own endpoint in the segment
            agent = text(obj(obj(segment, end, gpath), "userAgent", gpath), "headerValue", f"{gpath}.userAgent")
            dated = build_date(agent) if agent else None
            if dated is None or day is None or agent is None:
                continue
            build, built = dated
            age = (day - built).days
            if person.key not in oldest or (age, agent) > oldest[person.key][:2]:
                oldest[person.key] = (age, agent, build, built, day)
    undated = sum(1 for key in seen if key not in oldest)
    if undated:
        yield Coverage(COVERAGE_KIND, COVERAGE_REASON, undated)
    for key, (age, agent, build, built, day) in oldest.items():
        if age <= limit:
            continue
        person = seen[key]
        who = "member of staff" if person.role is Role.STAFF else "pupil"
        yield Draft(f"{person.label} ({who}) joined {meeting_name(m)} from a Teams client built on "
                    f"{built:%-d %B %Y}, {age} days before the lesson; the policy asks for the latest version of "
                    "the app.",
                    {"person": {"id": person.key, "displayName": person.name, "role": person.role.value},
                     "userAgent": agent, "build": build, "buildDate": built.isoformat(),
                     "lessonDate": day.isoformat(), "ageDays": age, "maxAgeDays": limit},
                    person.key, person.name)
