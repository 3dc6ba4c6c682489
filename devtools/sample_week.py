"""Writes the demo's sample evidence bundles: one week of Teams lessons at Elmgrove Primary School.

`samples/elmgrove-week/` gets one bundle per meeting occurrence of Monday 16 to Friday 20 November 2026
(`2026-11-16-0900-year5-maths.json` …), beside each its `NAME.expected.json` (the sorted `[rule, subject]`
pairs that `docs/rules.md` requires), and a README with one line per bundle saying why.

The payloads imitate Microsoft Graph v1.0 as the gateway stores it (see `docs/evidence-bundle.md` and
`docs/graph-facts.md`): calendar events, onlineMeetings, call records with sessions, segments and media, attendance
reports, recordings. Everything is derived from names and fixed times, so two runs write identical files.
The expected findings are written by hand from the rule catalogue, never computed by the rule engine: the
samples are an independent reading of the contract.

    python -m devtools.sample_week [--out samples/elmgrove-week]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import itertools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
Finding = tuple[str, str | None]

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
DOMAIN = "elmgrove.sch.uk"
GRAPH = "https://graph.microsoft.com/v1.0"
NAMESPACE = uuid.UUID("2f0c8a57-4e1b-4d3a-9c6e-5b7d1e0a3f92")  # fixed, so every derived id is stable
OUT_DEFAULT = Path(__file__).resolve().parent.parent / "samples" / "elmgrove-week"

CHANNEL_UNSUPPORTED = "channel meetings are not supported"


def derived_uuid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def derived_hex(name: str, length: int = 32) -> str:
    return hashlib.sha256(f"{NAMESPACE}:{name}".encode()).hexdigest()[:length]


def derived_digits(name: str, length: int) -> str:
    return str(int(derived_hex(name, 24), 16))[:length]


def b64(text: str, *, strip: bool = False) -> str:
    out = base64.b64encode(text.encode()).decode()
    return out.rstrip("=") if strip else out


# --------------------------------------------------------------------------------------------------------------
# Times


def at(day: int, hms: str) -> datetime:
    """A UTC instant in the sample week (November is GMT in the UK, so school time is UTC)."""
    clock, _, frac = hms.partition(".")
    h, m, s = (int(x) for x in clock.split(":"))
    micro = int((frac or "0").ljust(6, "0")[:6])
    return datetime(2026, 11, day, h, m, s, micro, tzinfo=UTC)


def graph_time(t: datetime) -> str:
    """Graph's usual form: seven fractional digits and `Z`."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def short_time(t: datetime) -> str:
    """The shorter forms attendance reports also use (no or few fractional digits)."""
    if t.microsecond == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}".rstrip("0") + "Z"


def calendar_time(t: datetime, zone: str = "UTC") -> JSON:
    """Calendar events: no offset, the zone named beside it (GMT Standard Time equals UTC in November)."""
    return {"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


# --------------------------------------------------------------------------------------------------------------
# The school's directory


@dataclass(frozen=True)
class Person:
    """A directory user. `kind` is staff, pupil, neither (an adult outside the staff group, a device) or guest."""

    display: str
    upn: str
    mail: str
    kind: str
    year: int | None = None
    consent: bool = True
    aliases: tuple[str, ...] = ()
    fixed_id: str | None = None
    job: str = ""

    @property
    def id(self) -> str:
        return self.fixed_id or derived_uuid(f"user:{self.upn}")

    @property
    def tenant(self) -> str:
        return TENANT

    def directory_entry(self) -> JSON:
        proxies = [f"SMTP:{self.mail}"] + [f"smtp:{a}" for a in (self.upn, *self.aliases) if a != self.mail]
        if self.kind != "guest":
            proxies.append(f"smtp:{self.mail.split('@')[0]}@elmgrove.onmicrosoft.com")
        entry: JSON = {
            "displayName": self.display,
            "userPrincipalName": self.upn,
            "mail": self.mail,
            "userType": "Guest" if self.kind == "guest" else "Member",
            "proxyAddresses": proxies,
        }
        if self.job:
            entry["jobTitle"] = self.job
        return entry


@dataclass(frozen=True)
class Outsider:
    """Someone who is not in the directory: another tenant's user, an anonymous joiner, a phone caller."""

    display: str
    user_id: str | None = None
    tenant: str | None = None
    upn: str | None = None
    anonymous_id: str | None = None
    phone: str | None = None

    @property
    def id(self) -> str | None:
        return self.user_id


Someone = Person | Outsider


def staff(display: str, upn_local: str, job: str, fixed_id: str | None = None) -> Person:
    mail = display.lower().replace(" ", ".") + f"@{DOMAIN}"
    return Person(display, f"{upn_local}@{DOMAIN}", mail, "staff", fixed_id=fixed_id, job=job)


def pupil(
    display: str,
    year: int,
    *,
    consent: bool = True,
    upn_local: str | None = None,
    aliases: tuple[str, ...] = (),
    fixed_id: str | None = None,
) -> Person:
    local = display.lower().replace(" ", ".").replace("'", "").replace("-", "")
    mail = f"{local}@{DOMAIN}"
    upn = f"{upn_local}@{DOMAIN}" if upn_local else mail
    return Person(
        display,
        upn,
        mail,
        "pupil",
        year=year,
        consent=consent,
        aliases=aliases,
        fixed_id=fixed_id,
        job=f"Year {year} pupil",
    )


# Staff group (directory.staff). Three keep the ids they have in the shared example scenarios.
HEAD = staff("Helen Okafor", "h.okafor", "Head Teacher", "bedf68c5-be1f-4abd-8215-0bd020c1c70e")
PATEL = staff("Sarah Patel", "s.patel", "Year 5 Class Teacher", "e995966a-ce95-4262-9671-04eb4ce9f070")
HUGHES = staff("David Hughes", "d.hughes", "Year 6 Class Teacher", "17d17053-906f-43f5-a8b2-0aab056888b1")
WHITFIELD = staff("Emma Whitfield", "e.whitfield", "Year 3 Class Teacher")
MENSAH = staff("James Mensah", "j.mensah", "Year 4 Class Teacher")
SHARMA = staff("Priya Sharma", "p.sharma", "SENCo")
ASHWORTH = staff("Tom Ashworth", "t.ashworth", "Deputy Head Teacher")
DOYLE = staff("Karen Doyle", "k.doyle", "School Business Manager and Clerk to the Governors")
STAFF = (HEAD, PATEL, HUGHES, WHITFIELD, MENSAH, SHARMA, ASHWORTH, DOYLE)

# School accounts that are neither staff nor pupils.
BARNES = Person(
    "Lucy Barnes", f"l.barnes@{DOMAIN}", f"lucy.barnes@{DOMAIN}", "neither", job="Teaching Assistant (Year 3)"
)
IPAD = Person(
    "Year 5 Class iPad",
    f"y5.ipad@{DOMAIN}",
    f"y5.ipad@{DOMAIN}",
    "neither",
    fixed_id="9513fd0a-a2fa-431e-8391-4eb77dbc6c08",
    job="Shared device",
)
# A guest account: a parent governor, and the father of a Year 4 pupil.
MORGAN = Person(
    "Alex Morgan (Guest)",
    "alex.morgan_outlook.com#EXT#@elmgrove.onmicrosoft.com",
    "alex.morgan@outlook.com",
    "guest",
    fixed_id="58f8723c-cb97-4432-84d8-c124d45f5c5d",
)

Y3 = (
    pupil("Maisie Holt", 3),
    pupil("Arjun Mehta", 3),
    pupil("Poppy Langford", 3),
    pupil("Finley Shaw", 3),
    pupil("Hana Kowalska", 3),
    pupil("Reggie Osei", 3),
    pupil("Lily-Mae Turner", 3),
)
Y4 = (
    pupil("Evie Morgan", 4),
    pupil("Harrison Price", 4),
    pupil("Sofia Rossi", 4),
    pupil("Jacob Wright", 4),
    pupil("Aisha Begum", 4),
    pupil("Theo Kaminski", 4),
    pupil("Grace O'Neill", 4),
    pupil("Max Durand", 4),
)
Y5 = (
    pupil("Amelia Clarke", 5, fixed_id="4b5e50c3-b3a6-4aa7-b54d-74965cd16755"),
    pupil("Oliver Bennett", 5, fixed_id="9ab9df51-3ec9-489b-a120-ae8b73526283"),
    pupil("Isla Novak", 5, fixed_id="5c91b4a2-f32b-4b15-897b-7ae812034e1a"),
    pupil("Zain Ahmed", 5, upn_local="2019zahmed", fixed_id="a9ffaf33-42dd-4e6a-a94f-d5a44014da10"),
    pupil("Ellie Robinson", 5),
    pupil("Kai Thompson", 5),
    pupil("Mia Fernandes", 5),
    pupil("Samuel Adeyemi", 5),
)
Y6 = (
    pupil("Freya Wilson", 6, fixed_id="6eb69ccb-6c1d-4051-b573-261659f7bc02"),
    pupil(
        "Noah Okoro", 6, consent=False, aliases=(f"n.okoro@{DOMAIN}",), fixed_id="77e7f0ce-44cb-4689-afd9-4ce7df980741"
    ),
    pupil("Ruby Sinclair", 6, fixed_id="c6381df0-c904-4ff8-aca3-105a281f6ff1"),
    pupil("Leo Fraser", 6, consent=False, fixed_id="038eecf8-9c94-4b2d-9dd7-2eacdf5b943b"),
    pupil("Jack Harper", 6),
    pupil("Chloe Nguyen", 6),
    pupil("Ibrahim Khan", 6),
    pupil("Daisy Fletcher", 6),
)
PUPILS = Y3 + Y4 + Y5 + Y6
USERS = (*STAFF, BARNES, IPAD, MORGAN, *PUPILS)


def find(display: str) -> Person:
    for person in USERS:
        if person.display == display:
            return person
    raise KeyError(display)


@dataclass(frozen=True)
class ClassTeam:
    year: int
    teacher: Person
    extra_members: tuple[Person, ...]
    other_channels: tuple[str, ...]

    @property
    def id(self) -> str:
        return derived_uuid(f"team:year{self.year}")

    @property
    def general(self) -> str:
        return f"19:{derived_hex(f'channel:year{self.year}:General')}@thread.tacv2"

    @property
    def address(self) -> str:
        return f"year{self.year}@{DOMAIN}"

    @property
    def pupils(self) -> tuple[Person, ...]:
        return tuple(p for p in PUPILS if p.year == self.year)

    def members(self) -> list[Person]:
        return [self.teacher, *self.extra_members, *self.pupils]

    def directory_entry(self) -> JSON:
        return {
            "id": self.id,
            "displayName": f"Year {self.year}",
            "description": f"Class team for Year {self.year}, 2026-27",
            "generalChannelId": self.general,
            "channelIds": [self.general]
            + [f"19:{derived_hex(f'channel:year{self.year}:{name}')}@thread.tacv2" for name in self.other_channels],
            "members": [p.id for p in self.members()],
        }


TEAMS = {
    3: ClassTeam(3, WHITFIELD, (HEAD, SHARMA, BARNES), ("Phonics", "Homework")),
    4: ClassTeam(4, MENSAH, (HEAD, SHARMA), ("Maths", "Homework")),
    5: ClassTeam(5, PATEL, (HEAD,), ("Maths", "Science")),
    6: ClassTeam(6, HUGHES, (HEAD, ASHWORTH), ("SATs revision", "Homework")),
}


def directory() -> JSON:
    groups: dict[str, list[str]] = {
        team.address: [team.teacher.id, *(p.id for p in team.pupils)] for team in TEAMS.values()
    }
    # The all-staff mailing list includes the teaching assistant; the staff security group does not.
    groups[f"allstaff@{DOMAIN}"] = [p.id for p in STAFF] + [BARNES.id]
    groups[f"governors@{DOMAIN}"] = [HEAD.id, DOYLE.id, MORGAN.id]
    return {
        "tenantId": TENANT,
        "staff": [p.id for p in STAFF],
        "pupils": [p.id for p in PUPILS],
        "users": {p.id: p.directory_entry() for p in USERS},
        "groups": groups,
        "classTeams": [team.directory_entry() for team in TEAMS.values()],
        "consent": [p.id for p in PUPILS if p.consent],
    }


# --------------------------------------------------------------------------------------------------------------
# Meetings: links, the calendar event, the onlineMeeting


LOCKED: JSON = {
    "allowAttendeeToEnableMic": False,
    "allowMeetingChat": "disabled",
    "allowedPresenters": "organizer",
    "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
    "recordAutomatically": False,
    "allowRecording": False,
    "allowTranscription": False,
}
TEAMS_DEFAULTS: JSON = {
    "allowAttendeeToEnableMic": True,
    "allowMeetingChat": "enabled",
    "allowedPresenters": "everyone",
    "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
    "recordAutomatically": False,
    "allowRecording": True,
    "allowTranscription": True,
}


@dataclass(frozen=True)
class Meeting:
    """One scheduled Teams meeting occurrence: where it lives (a channel or a private chat) and its join link."""

    key: str
    organiser: Person
    subject: str
    start: datetime
    end: datetime
    created: datetime
    team: ClassTeam | None = None

    @property
    def thread_id(self) -> str:
        if self.team:
            return self.team.general
        return f"19:meeting_{b64(derived_uuid(f'thread:{self.key}'), strip=True)}@thread.v2"

    @property
    def message_id(self) -> str:
        return str(int(self.created.timestamp() * 1000)) if self.team else "0"

    @property
    def join_url(self) -> str:
        thread = self.thread_id.replace(":", "%3a").replace("@", "%40")
        context = f"%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{self.organiser.id}%22%7d"
        return f"https://teams.microsoft.com/l/meetup-join/{thread}/{self.message_id}?context={context}"

    @property
    def options_url(self) -> str:
        thread = self.thread_id.replace("19:", "19_", 1)
        return (
            f"https://teams.microsoft.com/meetingOptions/?organizerId={self.organiser.id}&tenantId={TENANT}"
            f"&threadId={thread}&messageId={self.message_id}&language=en-GB"
        )

    @property
    def online_meeting_id(self) -> str:
        return b64(f"1*{self.organiser.id}*0**{self.thread_id}")

    @property
    def join_meeting_id(self) -> str:
        return derived_digits(f"joinid:{self.key}", 13)

    @property
    def passcode(self) -> str:
        return b64(derived_hex(f"passcode:{self.key}", 8))[:6]


def teams_body(meeting: Meeting, intro_html: str) -> JSON:
    join_id = meeting.join_meeting_id
    spaced_id = " ".join(join_id[i : i + 3] for i in range(0, 12, 3)) + join_id[12:]
    options = meeting.options_url.replace("&", "&amp;")
    rule = '<div style="width:100%">' + "_" * 80 + "</div>"
    content = (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n'
        f"{intro_html}<br>\r\n{rule}"
        '<div class="me-email-text" lang="en-GB" style="color:#242424;font-family:\'Segoe UI\',\'Helvetica Neue\','
        'Helvetica,Arial,sans-serif"><div style="margin-top:24px;margin-bottom:20px"><span style="font-size:24px;'
        'color:#252424">Microsoft Teams</span> <a href="https://aka.ms/JoinTeamsMeeting?omkt=en-GB" '
        'class="me-email-link" style="font-size:14px;text-decoration:underline;color:#5B5FC7">Need help?</a></div>'
        f'<div style="margin-bottom:20px"><a href="{meeting.join_url}" class="me-email-headline" '
        'style="font-size:20px;font-weight:600;text-decoration:underline;color:#5B5FC7">Join the meeting now</a>'
        '</div><div style="margin-bottom:20px;margin-top:20px"><div style="margin-bottom:4px"><span '
        'class="me-email-text-secondary" style="font-size:14px;color:#616161">Meeting ID: </span><span '
        f'class="me-email-text" style="font-size:14px;color:#242424">{spaced_id}</span></div>'
        '<div style="margin-bottom:20px"><span class="me-email-text-secondary" style="font-size:14px;'
        'color:#616161">Passcode: </span><span class="me-email-text" style="font-size:14px;color:#242424">'
        f'{meeting.passcode}</span></div></div><div><span class="me-email-text-secondary" '
        'style="font-size:14px;color:#616161">For organisers: </span>'
        f'<a href="{options}" class="me-email-link" style="font-size:14px;text-decoration:underline;'
        'color:#5B5FC7">Meeting options</a></div></div>'
        f"{rule}\r\n</body>\r\n</html>\r\n"
    )
    return {"contentType": "html", "content": content}


def address_of(who: Person | ClassTeam | str) -> JSON:
    if isinstance(who, ClassTeam):
        return {"name": f"Year {who.year}", "address": f"Year{who.year}@{DOMAIN}"}
    if isinstance(who, str):
        return {"name": who, "address": who}
    return {"name": who.display, "address": who.mail}


def event(
    meeting: Meeting,
    attendees: Sequence[Person | ClassTeam | str | JSON],
    intro: str,
    *,
    zone: str = "UTC",
    series: bool = False,
    extra_html: str = "",
) -> JSON:
    organiser = meeting.organiser
    event_id = "AAMkAGI1ZTE5ZWZlNDQ4MDVkZWE5OWMwZDY3ZWVl" + b64(derived_hex(f"event:{meeting.key}", 24))
    ical = "040000008200E00074C5B7101A82E00800000000" + derived_hex(f"ical:{meeting.key}", 72).upper()
    intro_html = f"<div>{intro}</div>{extra_html}"
    preview = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", intro_html)).split())
    people = []
    for who in attendees:
        address = who if isinstance(who, dict) else address_of(who)
        people.append(
            {
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": address,
            }
        )
    teams_location = {
        "displayName": "Microsoft Teams Meeting",
        "locationType": "default",
        "uniqueId": "Microsoft Teams Meeting",
        "uniqueIdType": "private",
    }
    return {
        "@odata.context": f"{GRAPH}/$metadata#users('{organiser.id}')/events/$entity",
        "@odata.etag": f'W/"{b64(derived_hex(f"etag:{meeting.key}", 21), strip=True)}"',
        "id": event_id,
        "createdDateTime": graph_time(meeting.created),
        "lastModifiedDateTime": graph_time(meeting.created + timedelta(seconds=24, microseconds=740123)),
        "changeKey": b64(derived_hex(f"changekey:{meeting.key}", 18), strip=True),
        "categories": [],
        "transactionId": derived_uuid(f"transaction:{meeting.key}"),
        "originalStartTimeZone": "GMT Standard Time",
        "originalEndTimeZone": "GMT Standard Time",
        "iCalUId": ical,
        "uid": ical,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": meeting.subject,
        "bodyPreview": preview,
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": True,
        "seriesMasterId": ("AAMkAGI1ZTE5ZWZlNDQ4MDVkZWE5OWMwZDY3ZWVl" + b64(derived_hex(f"series:{meeting.key}", 24)))
        if series
        else None,
        "showAs": "busy",
        "type": "occurrence" if series else "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={event_id.replace('=', '%3D')}&exvsurl=1"
        "&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "allowNewTimeProposals": True,
        "occurrenceId": None,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": teams_body(meeting, intro_html),
        "start": calendar_time(meeting.start, zone),
        "end": calendar_time(meeting.end, zone),
        "location": teams_location,
        "locations": [teams_location],
        "recurrence": None,
        "attendees": people,
        "organizer": {"emailAddress": {"name": organiser.display, "address": organiser.upn}},
        "onlineMeeting": {"joinUrl": meeting.join_url},
    }


def meeting_participant(person: Person, role: str) -> JSON:
    return {
        "upn": person.upn,
        "role": role,
        "identity": {
            "application": None,
            "device": None,
            "user": {"id": person.id, "displayName": None, "tenantId": person.tenant, "identityProvider": "AAD"},
        },
    }


def online_meeting(
    meeting: Meeting, settings: JSON, *, attendees: Sequence[tuple[Person, str]] = (), meeting_type: str = "scheduled"
) -> JSON:
    organiser = meeting.organiser
    link = f'<p>Microsoft Teams meeting</p><p><a href="{meeting.join_url}">Join the meeting now</a></p>'
    return {
        "@odata.context": f"{GRAPH}/$metadata#users('{organiser.id}')/onlineMeetings/$entity",
        "id": meeting.online_meeting_id,
        "creationDateTime": graph_time(meeting.created + timedelta(seconds=23, microseconds=517392)),
        "startDateTime": graph_time(meeting.start),
        "endDateTime": graph_time(meeting.end),
        "expiryDateTime": graph_time(meeting.end + timedelta(days=60)),
        "subject": meeting.subject,
        "meetingType": meeting_type,
        "joinWebUrl": meeting.join_url,
        "meetingOptionsWebUrl": meeting.options_url,
        "externalId": None,
        "meetingTemplateId": None,
        "isBroadcast": False,
        "broadcastSettings": None,
        "isEntryExitAnnounced": True,
        "isEndToEndEncryptionEnabled": False,
        "allowAttendeeToEnableCamera": True,
        "allowTeamworkReactions": True,
        "allowParticipantsToChangeName": False,
        "allowBreakoutRooms": False,
        "allowCopyingAndSharingMeetingContent": False,
        "allowLiveShare": "disabled",
        "allowPowerPointSharing": True,
        "allowWhiteboard": True,
        "allowedLobbyAdmitters": "organizerAndCoOrganizers",
        "shareMeetingChatHistoryDefault": "none",
        "meetingSpokenLanguageTag": "en-GB",
        "videoTeleconferenceId": None,
        "audioConferencing": None,
        "sensitivityLabelAssignment": None,
        "chatRestrictions": {"allowTextOnly": False},
        "watermarkProtection": {"isEnabledForContentSharing": False, "isEnabledForVideo": False},
        "joinMeetingIdSettings": {
            "isPasscodeRequired": True,
            "joinMeetingId": meeting.join_meeting_id,
            "passcode": meeting.passcode,
        },
        "joinInformation": {
            "content": "data:text/html," + quote(link, safe="/:?=,"),
            "contentType": "html",
        },
        "chatInfo": {"threadId": meeting.thread_id, "messageId": meeting.message_id, "replyChainMessageId": None},
        "participants": {
            "organizer": meeting_participant(organiser, "presenter"),
            "attendees": [meeting_participant(p, role) for p, role in attendees],
        },
        **json.loads(json.dumps(settings)),
    }


# --------------------------------------------------------------------------------------------------------------
# What happened: call records and attendance reports


@dataclass(frozen=True)
class Stint:
    """One continuous connection of one person: a call-record session (and an attendance interval)."""

    who: Someone
    start: datetime
    end: datetime
    platform: str = "windows"
    shares: tuple[tuple[datetime, datetime], ...] = ()  # windows in which this person sends a screen share
    views: tuple[tuple[datetime, datetime], ...] = ()  # windows in which this person watches someone's share


@dataclass
class RecordStyle:
    """How a call record spells things: current (`_v2`, associatedIdentity) or deprecated identity shapes."""

    deprecated: bool = False
    odata_prefix: str = "#microsoft.graph"
    counter: list[int] = field(default_factory=lambda: [0])

    def next_stream(self) -> str:
        self.counter[0] += 1
        return str(1500000000 + self.counter[0])


USER_AGENTS = {
    "windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0 Teams/26300.605.3225.8804",
    "web": "Mozilla/5.0 (X11; CrOS x86_64 16033.58.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "iOS": "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Teams/6.22.1",
    "macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Teams/26300.605.3225.8804",
    "android": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1416/1.0.0.2024",
}


def identity_set(who: Someone) -> JSON:
    """Deprecated identitySet (call record `organizer` / `participants`, session `caller.identity`)."""
    if isinstance(who, Person):
        return {
            "application": None,
            "device": None,
            "guest": None,
            "phone": None,
            "user": {"id": who.id, "displayName": who.display, "tenantId": who.tenant},
        }
    if who.phone:
        return {
            "application": None,
            "device": None,
            "guest": None,
            "user": None,
            "phone": {"id": who.phone, "displayName": who.display},
        }
    if who.anonymous_id:
        return {
            "application": None,
            "device": None,
            "user": None,
            "phone": None,
            "guest": {"id": who.anonymous_id, "displayName": who.display, "tenantId": None},
        }
    return {
        "application": None,
        "device": None,
        "guest": None,
        "phone": None,
        "user": {"id": who.user_id, "displayName": who.display, "tenantId": who.tenant},
    }


def communications_identity(who: Someone) -> JSON:
    """Current communicationsIdentitySet (`participants_v2[].identity`, `organizer_v2.identity`)."""
    if isinstance(who, Person):
        return {
            "user": {"id": who.id, "displayName": who.display, "tenantId": who.tenant, "userPrincipalName": who.upn}
        }
    if who.phone:
        return {"phone": {"id": who.phone, "displayName": who.display}}
    if who.anonymous_id:
        return {"guest": {"id": who.anonymous_id, "displayName": who.display, "tenantId": None}}
    return {
        "user": {"id": who.user_id, "displayName": who.display, "tenantId": who.tenant, "userPrincipalName": who.upn}
    }


def associated_identity(who: Someone) -> JSON:
    if isinstance(who, Person):
        return {"id": who.id, "displayName": who.display, "tenantId": who.tenant, "userPrincipalName": who.upn}
    return {
        "id": who.user_id or who.phone or who.anonymous_id,
        "displayName": who.display,
        "tenantId": who.tenant,
        "userPrincipalName": who.upn,
    }


def participant_endpoint(stint: Stint, style: RecordStyle) -> JSON:
    who = stint.who
    name_seed = who.id if isinstance(who, Person) else who.display
    at_school = isinstance(who, Person) and who.kind in ("staff", "neither")
    device = (
        f"ELMGROVE-{derived_hex(f'device:{name_seed}', 6).upper()}"
        if at_school
        else f"DESKTOP-{derived_hex(f'home:{name_seed}', 7).upper()}"
    )
    endpoint: JSON = {
        "@odata.type": f"{style.odata_prefix}.callRecords.participantEndpoint",
        "name": device,
        "cpuName": None,
        "cpuCoresCount": 4,
        "cpuProcessorSpeedInMhz": 2400,
        "userAgent": {
            "@odata.type": f"{style.odata_prefix}.callRecords.clientUserAgent",
            "headerValue": USER_AGENTS[stint.platform],
            "platform": stint.platform,
            "productFamily": "teams",
            "azureADAppId": None,
            "communicationServiceId": None,
        },
        "feedback": None,
    }
    if style.deprecated:
        endpoint["identity"] = identity_set(who)
    else:
        endpoint["associatedIdentity"] = associated_identity(who)
    return endpoint


def service_endpoint(style: RecordStyle, role: str = "skypeForBusinessAudioVideoMcu") -> JSON:
    return {
        "@odata.type": f"{style.odata_prefix}.callRecords.serviceEndpoint",
        "userAgent": {
            "@odata.type": f"{style.odata_prefix}.callRecords.serviceUserAgent",
            "headerValue": None,
            "role": role,
        },
    }


def stream(style: RecordStyle, direction: str) -> JSON:
    return {
        "streamId": style.next_stream(),
        "streamDirection": direction,
        "averageAudioDegradation": None,
        "averageJitter": "PT0.009S",
        "maxJitter": "PT0.034S",
        "averagePacketLossRate": 0.0011,
        "maxPacketLossRate": 0.0187,
        "averageRoundTripTime": "PT0.041S",
        "maxRoundTripTime": "PT0.126S",
        "packetUtilization": 17902,
        "wasMediaBypassed": False,
        "averageBandwidthEstimate": 7804211,
    }


def media(stint: Stint, style: RecordStyle, share: str | None) -> list[JSON]:
    seed = stint.who.id if isinstance(stint.who, Person) else stint.who.display
    octet = int(derived_hex(f"ip:{seed}", 2), 16) % 200 + 20
    out: list[JSON] = [
        {
            "label": "main-audio",
            "callerNetwork": {
                "ipAddress": f"192.168.1.{octet}",
                "subnet": "192.168.1.0",
                "linkSpeed": 300000000,
                "connectionType": "wifi",
                "port": 50000 + octet,
                "reflexiveIPAddress": f"81.2.69.{octet}",
                "relayIPAddress": "52.115.63.4",
                "relayPort": 3478,
                "macAddress": "00-00-00-00-00-00",
                "dnsSuffix": None,
                "sentQualityEventRatio": 0,
                "receivedQualityEventRatio": 0.01,
                "delayEventRatio": 0,
                "bandwidthLowEventRatio": 0,
            },
            "callerDevice": {
                "captureDeviceName": "Microphone Array (Realtek(R) Audio)",
                "renderDeviceName": "Speakers (Realtek(R) Audio)",
                "receivedSignalLevel": -18,
                "receivedNoiseLevel": -71,
                "micGlitchRate": 12,
                "speakerGlitchRate": 40,
            },
            "streams": [stream(style, "callerToCallee"), stream(style, "calleeToCaller")],
        },
        {"label": "main-video", "streams": [stream(style, "callerToCallee"), stream(style, "calleeToCaller")]},
    ]
    if share:
        out.append({"label": "applicationsharing-video", "streams": [stream(style, share)]})
    return out


def cut_points(stint: Stint) -> list[tuple[datetime, datetime, str | None]]:
    """Splits a stint into segments at the edges of its screen-sharing windows."""
    marks = {stint.start, stint.end}
    windows = [(a, b, "callerToCallee") for a, b in stint.shares] + [(a, b, "calleeToCaller") for a, b in stint.views]
    for a, b, _ in windows:
        marks.update(t for t in (a, b) if stint.start < t < stint.end)
    ordered = sorted(marks)
    pieces = []
    for a, b in itertools.pairwise(ordered):
        direction = next((d for ws, we, d in windows if ws <= a and b <= we), None)
        pieces.append((a, b, direction))
    return pieces


def group_session(record_id: str, stint: Stint, style: RecordStyle) -> JSON:
    seed = stint.who.id if isinstance(stint.who, Person) else stint.who.display
    session_id = derived_uuid(f"session:{record_id}:{seed}:{stint.start.isoformat()}")
    modalities = ["audio", "video"] + (["screenSharing"] if stint.shares or stint.views else [])
    caller = participant_endpoint(stint, style)
    segments = []
    for index, (a, b, share) in enumerate(cut_points(stint)):
        role = "skypeForBusinessApplicationSharingMcu" if share else "skypeForBusinessAudioVideoMcu"
        segments.append(
            {
                "startDateTime": graph_time(a),
                "endDateTime": graph_time(b),
                "id": session_id if index == 0 else derived_uuid(f"segment:{session_id}:{index}"),
                "failureInfo": None,
                "caller": caller,
                "callee": service_endpoint(style, role),
                "media": media(stint, style, share),
            }
        )
    return {
        "modalities": modalities,
        "startDateTime": graph_time(stint.start),
        "endDateTime": graph_time(stint.end),
        "id": session_id,
        "isTest": False,
        "failureInfo": None,
        "caller": caller,
        "callee": service_endpoint(style),
        "segments@odata.context": f"{GRAPH}/$metadata#communications/callRecords('{record_id}')/sessions"
        f"('{session_id}')/segments",
        "segments": segments,
    }


def distinct_people(stints: Sequence[Stint]) -> list[Someone]:
    seen: list[Someone] = []
    for stint in sorted(stints, key=lambda s: s.start):
        if stint.who not in seen:
            seen.append(stint.who)
    return seen


def call_record(
    key: str,
    organiser: Person,
    stints: Sequence[Stint],
    *,
    join_url: str | None,
    style: RecordStyle | None = None,
    call_type: str = "groupCall",
) -> JSON:
    style = style or RecordStyle()
    record_id = derived_uuid(f"callrecord:{key}")
    start = min(s.start for s in stints)
    end = max(s.end for s in stints)
    people = distinct_people(stints)
    modalities = ["audio", "video"] + (["screenSharing"] if any(s.shares for s in stints) else [])
    context = f"{GRAPH}/$metadata#communications/callRecords('{record_id}')"
    record: JSON = {
        "@odata.context": f"{GRAPH}/$metadata#communications/callRecords(sessions(segments()))/$entity",
        "@odata.type": f"{style.odata_prefix}.callRecords.callRecord",
        "version": 2,
        "type": call_type,
        "modalities": modalities,
        "lastModifiedDateTime": graph_time(end.replace(hour=23, minute=12, second=9, microsecond=331123)),
        "startDateTime": graph_time(start),
        "endDateTime": graph_time(end),
        "id": record_id,
    }
    if join_url:
        record["joinWebUrl"] = join_url
    if style.deprecated:
        record["organizer"] = identity_set(organiser)
        record["participants"] = [identity_set(p) for p in people]
    else:
        record["organizer_v2@odata.context"] = f"{context}/organizer_v2/$entity"
        record["organizer_v2"] = {
            "id": organiser.id,
            "identity": communications_identity(organiser),
            "administrativeUnitInfos": [],
        }
        record["participants_v2@odata.context"] = f"{context}/participants_v2"
        record["participants_v2"] = [
            {
                "id": p.id or derived_uuid(f"participant:{record_id}:{p.display}"),
                "identity": communications_identity(p),
                "administrativeUnitInfos": [],
            }
            for p in people
        ]
    record["sessions@odata.context"] = f"{context}/sessions(segments())"
    record["sessions"] = [group_session(record_id, s, style) for s in sorted(stints, key=lambda s: s.start)]
    return record


def peer_to_peer_record(key: str, caller: Stint, callee: Person) -> JSON:
    """A 1:1 call from the Teams chat: one session, both ends participant endpoints, no join link."""
    style = RecordStyle(odata_prefix="#Microsoft.Graph")
    record_id = derived_uuid(f"callrecord:{key}")
    session_id = derived_uuid(f"session:{record_id}")
    caller_end = participant_endpoint(caller, style)
    callee_end = participant_endpoint(Stint(callee, caller.start, caller.end, platform="web"), style)
    segment = {
        "startDateTime": graph_time(caller.start),
        "endDateTime": graph_time(caller.end),
        "id": session_id,
        "failureInfo": None,
        "caller": caller_end,
        "callee": callee_end,
        "media": media(caller, style, None),
    }
    context = f"{GRAPH}/$metadata#communications/callRecords('{record_id}')"
    organiser = caller.who
    assert isinstance(organiser, Person)
    return {
        "@odata.context": f"{GRAPH}/$metadata#communications/callRecords(sessions(segments()))/$entity",
        "@odata.type": "#Microsoft.Graph.callRecords.callRecord",
        "version": 1,
        "type": "peerToPeer",
        "modalities": ["audio", "video"],
        "lastModifiedDateTime": graph_time(caller.end + timedelta(minutes=41, seconds=7, microseconds=113400)),
        "startDateTime": graph_time(caller.start),
        "endDateTime": graph_time(caller.end),
        "id": record_id,
        "organizer_v2@odata.context": f"{context}/organizer_v2/$entity",
        "organizer_v2": {
            "id": organiser.id,
            "identity": communications_identity(organiser),
            "administrativeUnitInfos": [],
        },
        "participants_v2@odata.context": f"{context}/participants_v2",
        "participants_v2": [
            {"id": p.id, "identity": communications_identity(p), "administrativeUnitInfos": []}
            for p in (organiser, callee)
        ],
        "sessions@odata.context": f"{context}/sessions(segments())",
        "sessions": [
            {
                "modalities": ["audio", "video"],
                "startDateTime": graph_time(caller.start),
                "endDateTime": graph_time(caller.end),
                "id": session_id,
                "isTest": False,
                "failureInfo": None,
                "caller": caller_end,
                "callee": callee_end,
                "segments@odata.context": f"{context}/sessions('{session_id}')/segments",
                "segments": [segment],
            }
        ],
    }


def attendance_report(key: str, organiser: Person, intervals: Sequence[Stint]) -> JSON:
    """One meetingAttendanceReport with its records expanded; intervals are admitted attendance."""
    records = []
    for who in distinct_people(intervals):
        assert isinstance(who, Person)
        mine = [s for s in intervals if s.who == who]
        seconds = [int((s.end - s.start).total_seconds()) for s in mine]
        spans = [
            {"joinDateTime": short_time(s.start), "leaveDateTime": short_time(s.end), "durationInSeconds": n}
            for s, n in zip(mine, seconds, strict=True)
        ]
        records.append(
            {
                "id": derived_uuid(f"attendance:{key}:{who.id}"),
                "emailAddress": who.mail if who.kind != "guest" else None,
                "totalAttendanceInSeconds": sum(seconds),
                "role": "Organizer" if who == organiser else "Attendee",
                "registrationId": None,
                "identity": {
                    "@odata.type": "#microsoft.graph.communicationsUserIdentity",
                    "id": who.id,
                    "displayName": who.display,
                    "tenantId": None,
                },
                "attendanceIntervals": spans,
            }
        )
    return {
        "id": derived_uuid(f"attendancereport:{key}"),
        "totalParticipantCount": len(records),
        "meetingStartDateTime": short_time(min(s.start for s in intervals)),
        "meetingEndDateTime": short_time(max(s.end for s in intervals)),
        "externalEventInformation": [],
        "attendanceRecords": records,
    }


def channel_gaps() -> list[JSON]:
    """What the gateway cannot read for a channel meeting: recordings and transcripts (a Graph limitation)."""
    return [
        {"kind": "recordings", "reason": CHANNEL_UNSUPPORTED, "unsupported": True},
        {"kind": "transcripts", "reason": CHANNEL_UNSUPPORTED, "unsupported": True},
    ]


def recording(meeting: Meeting, call_id: str, created: datetime, ended: datetime, *, transcript: bool) -> JSON:
    kind = "transcript" if transcript else "recording"
    item_id = b64(f"{kind}:{derived_hex(f'{kind}:{meeting.key}', 40)}")
    base = f"{GRAPH}/users/{meeting.organiser.id}/onlineMeetings/{meeting.online_meeting_id}"
    item: JSON = {
        "@odata.type": f"#microsoft.graph.call{kind.capitalize()}",
        "id": item_id,
        "meetingId": meeting.online_meeting_id,
        "callId": call_id,
        "contentCorrelationId": derived_uuid(f"correlation:{meeting.key}"),
        "createdDateTime": graph_time(created),
        "endDateTime": graph_time(ended),
        "meetingOrganizer": {
            "application": None,
            "device": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": meeting.organiser.id,
                "displayName": None,
                "userIdentityType": "aadUser",
                "tenantId": TENANT,
            },
        },
    }
    if transcript:
        item["transcriptContentUrl"] = f"{base}/transcripts/{item_id}/content"
    else:
        item["recordingContentUrl"] = f"{base}/recordings/{item_id}/content"
    return item


# --------------------------------------------------------------------------------------------------------------
# The week


@dataclass(frozen=True)
class Sample:
    name: str
    story: str
    build: Callable[[], JSON]
    expected: tuple[Finding, ...]


def lesson_stints(
    people: Sequence[Person],
    day: int,
    joins: Sequence[str],
    leaves: Sequence[str],
    platforms: Sequence[str] = ("windows", "web", "iOS", "web", "windows", "android", "web", "macOS"),
    views: tuple[tuple[datetime, datetime], ...] = (),
) -> list[Stint]:
    return [
        Stint(p, at(day, j), at(day, left), platforms[i % len(platforms)], views=views)
        for i, (p, j, left) in enumerate(zip(people, joins, leaves, strict=True))
    ]


def pupils_of(year: int, *names: str) -> list[Person]:
    chosen = [find(n) for n in names]
    assert all(p.year == year for p in chosen)
    return chosen


def staff_briefing() -> JSON:
    m = Meeting(
        "staff-briefing",
        HEAD,
        "Staff briefing – safeguarding update and Year 6 residential",
        at(16, "08:15:00"),
        at(16, "08:35:00"),
        at(12, "16:40:12.118"),
    )
    stints = lesson_stints(
        [HEAD, ASHWORTH, PATEL, WHITFIELD, HUGHES, SHARMA, DOYLE, BARNES, MENSAH],
        16,
        [
            "08:13:40.118",
            "08:14:10.502",
            "08:14:55.000",
            "08:15:02.771",
            "08:15:20.004",
            "08:15:31.9",
            "08:15:50.25",
            "08:16:05.61",
            "08:16:44.0",
        ],
        [
            "08:36:02.5",
            "08:35:30.0",
            "08:35:10.3",
            "08:34:59.91",
            "08:35:12.0",
            "08:35:07.45",
            "08:33:00.0",
            "08:35:05.2",
            "08:35:00.0",
        ],
    )
    stints[0] = Stint(HEAD, stints[0].start, stints[0].end, shares=((at(16, "08:17:30"), at(16, "08:24:10")),))
    record = call_record(m.key, HEAD, stints, join_url=m.join_url)
    return {
        "directory": directory(),
        "event": event(m, [f"allstaff@{DOMAIN}"], "Monday briefing. Recorded for colleagues on PPA or part-time."),
        "onlineMeeting": online_meeting(m, TEAMS_DEFAULTS),
        "callRecord": record,
        "recordings": [recording(m, record["id"], at(16, "08:16:31.2"), at(16, "08:35:20.9"), transcript=False)],
        "transcripts": [recording(m, record["id"], at(16, "08:16:31.2"), at(16, "08:35:20.9"), transcript=True)],
    }


def year5_maths_monday() -> JSON:
    team = TEAMS[5]
    m = Meeting(
        "y5-maths-mon",
        PATEL,
        "Year 5 Maths – adding fractions",
        at(16, "09:00:00"),
        at(16, "09:45:00"),
        at(2, "17:05:41.774"),
        team,
    )
    pupils = pupils_of(
        5,
        "Amelia Clarke",
        "Oliver Bennett",
        "Mia Fernandes",
        "Ellie Robinson",
        "Zain Ahmed",
        "Kai Thompson",
        "Samuel Adeyemi",
        "Isla Novak",
    )
    stints = lesson_stints(
        pupils,
        16,
        [
            "08:57:41.203",
            "08:58:30.118",
            "09:00:05.0",
            "09:00:40.4",
            "09:01:03.0",
            "09:02:12.87",
            "09:03:30.5",
            "09:00:15.302",
        ],
        [
            "09:44:58.9",
            "09:45:10.0",
            "09:45:20.0",
            "09:44:50.2",
            "09:45:30.5",
            "09:45:01.0",
            "09:44:40.0",
            "09:20:11.0",
        ],
    )
    stints.append(Stint(find("Isla Novak"), at(16, "09:21:05.25"), at(16, "09:45:02.004"), "windows"))
    stints.append(Stint(PATEL, at(16, "08:58:50.441"), at(16, "09:46:10.12")))
    stints.append(Stint(IPAD, at(16, "09:05:00.0"), at(16, "09:40:00.0"), "iOS"))
    return {
        "directory": directory(),
        "event": event(
            m,
            [team],
            "Year 5 live lesson. Please join from a quiet space with your microphone off "
            "until Mrs Patel asks you to speak.",
            series=True,
        ),
        "onlineMeeting": online_meeting(m, LOCKED, meeting_type="recurring"),
        "callRecord": call_record(m.key, PATEL, stints, join_url=m.join_url),
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


def year4_spelling_default_settings() -> JSON:
    grace, max_ = find("Grace O'Neill"), find("Max Durand")
    m = Meeting(
        "y4-spelling-mon", MENSAH, "Spelling catch-up", at(16, "11:00:00"), at(16, "11:30:00"), at(13, "15:22:09.61")
    )
    stints = [
        Stint(MENSAH, at(16, "10:58:20.2"), at(16, "11:31:05.0")),
        Stint(grace, at(16, "11:00:30.7"), at(16, "11:29:40.0"), "web"),
        Stint(max_, at(16, "11:01:15.0"), at(16, "11:30:02.3"), "iOS"),
    ]
    return {
        "directory": directory(),
        "event": event(m, [grace, max_], "Spelling catch-up for Grace and Max: bring your word list."),
        "onlineMeeting": online_meeting(m, TEAMS_DEFAULTS),
        "callRecord": call_record(m.key, MENSAH, stints, join_url=m.join_url),
        "attendanceReports": [attendance_report(m.key, MENSAH, stints)],
        "recordings": [],
        "transcripts": [],
    }


def year3_phonics() -> JSON:
    team = TEAMS[3]
    m = Meeting(
        "y3-phonics-mon",
        WHITFIELD,
        "Year 3 Phonics – split digraphs",
        at(16, "13:30:00"),
        at(16, "14:00:00"),
        at(9, "12:31:02.5"),
        team,
    )
    pupils = pupils_of(3, "Maisie Holt", "Arjun Mehta", "Poppy Langford", "Finley Shaw", "Hana Kowalska", "Reggie Osei")
    stints = lesson_stints(
        [WHITFIELD, BARNES, *pupils],
        16,
        [
            "13:27:10.0",
            "13:28:00.0",
            "13:29:05.3",
            "13:29:40.0",
            "13:30:12.8",
            "13:31:00.0",
            "13:29:55.1",
            "13:33:20.0",
        ],
        [
            "14:01:30.0",
            "14:00:30.0",
            "13:59:50.0",
            "14:00:05.2",
            "13:58:40.0",
            "14:00:10.0",
            "13:59:58.7",
            "14:00:00.0",
        ],
    )
    return {
        "directory": directory(),
        "event": event(m, [team], "Phonics with Miss Whitfield. Mrs Barnes will be there too."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, WHITFIELD, stints, join_url=m.join_url),
        "attendanceReports": [attendance_report(m.key, WHITFIELD, stints)],
        "unavailable": channel_gaps(),
    }


def year6_english_screen_share() -> JSON:
    team = TEAMS[6]
    jack = find("Jack Harper")
    m = Meeting(
        "y6-english-tue",
        HUGHES,
        "Year 6 English – persuasive writing",
        at(17, "09:00:00"),
        at(17, "09:50:00"),
        at(10, "16:02:44.0"),
        team,
    )
    share = ((at(17, "09:20:05.31"), at(17, "09:31:40.0")),)
    viewers = pupils_of(6, "Ruby Sinclair", "Freya Wilson", "Chloe Nguyen", "Ibrahim Khan", "Daisy Fletcher")
    stints = lesson_stints(
        viewers,
        17,
        ["09:00:10.0", "09:00:31.5", "09:01:02.0", "09:01:40.6", "09:02:05.0"],
        ["09:49:30.0", "09:49:12.1", "09:49:50.0", "09:48:59.0", "09:49:41.7"],
        views=share,
    )
    stints.append(Stint(HUGHES, at(17, "08:58:02.0"), at(17, "09:51:00.4"), views=share))
    stints.append(Stint(jack, at(17, "09:00:20.9"), at(17, "09:49:10.0"), "windows", shares=share))
    return {
        "directory": directory(),
        "event": event(m, [team], "Bring your persuasive letter draft. Jack will show his to the class."),
        "onlineMeeting": online_meeting(
            m, {**LOCKED, "allowedPresenters": "roleIsPresenter"}, attendees=[(jack, "presenter")]
        ),
        "callRecord": call_record(m.key, HUGHES, stints, join_url=m.join_url),
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


SOFIAS_MUM = Outsider("Sofia's mum", anonymous_id="8:teamsvisitor:3c1f0b9a27e84d55a6b2c9d01e7f4a38")


def year4_science_parents() -> JSON:
    team = TEAMS[4]
    m = Meeting(
        "y4-science-tue",
        MENSAH,
        "Year 4 Science – states of matter",
        at(17, "10:30:00"),
        at(17, "11:15:00"),
        at(11, "09:12:55.3"),
        team,
    )
    stints = lesson_stints(
        [MENSAH, *team.pupils],
        17,
        [
            "10:28:40.0",
            "10:29:30.5",
            "10:30:02.0",
            "10:30:15.8",
            "10:30:44.0",
            "10:31:10.2",
            "10:31:35.0",
            "10:32:00.9",
            "10:33:12.0",
        ],
        [
            "11:16:00.0",
            "11:14:58.0",
            "11:15:02.4",
            "11:14:40.0",
            "11:15:10.0",
            "11:14:51.6",
            "11:15:00.0",
            "11:14:30.0",
            "11:15:05.5",
        ],
    )
    stints.append(Stint(MORGAN, at(17, "10:41:12.447"), at(17, "10:49:30.0"), "android"))
    stints.append(Stint(SOFIAS_MUM, at(17, "10:52:05.0"), at(17, "10:55:40.8"), "web"))
    style = RecordStyle(deprecated=True)
    return {
        "directory": directory(),
        "event": event(m, [team], "Science live lesson: have a glass of water and an ice cube ready."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, MENSAH, stints, join_url=m.join_url, style=style),
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


def year6_homework_help_pupil_organised() -> JSON:
    freya, ruby, jack = find("Freya Wilson"), find("Ruby Sinclair"), find("Jack Harper")
    m = Meeting(
        "y6-homework-tue", freya, "homework help", at(17, "16:00:00"), at(17, "16:30:00"), at(17, "12:41:19.02")
    )
    stints = [
        Stint(freya, at(17, "16:01:30.0"), at(17, "16:24:10.6"), "web"),
        Stint(ruby, at(17, "16:02:45.3"), at(17, "16:24:00.0"), "iOS"),
        Stint(jack, at(17, "16:05:10.0"), at(17, "16:20:30.2"), "windows"),
    ]
    return {
        "directory": directory(),
        "event": event(m, [ruby, jack], "maths homework q4-7"),
        "onlineMeeting": online_meeting(m, LOCKED, attendees=[(ruby, "attendee"), (jack, "attendee")]),
        "callRecord": call_record(m.key, freya, stints, join_url=m.join_url),
        "recordings": [],
        "transcripts": [],
    }


def year5_english_other_class() -> JSON:
    team = TEAMS[5]
    harrison = find("Harrison Price")
    m = Meeting(
        "y5-english-wed",
        PATEL,
        "Year 5 English – Kensuke's Kingdom ch. 6",
        at(18, "09:00:00"),
        at(18, "09:45:00"),
        at(11, "17:20:30.9"),
        team,
    )
    stints = lesson_stints(
        [PATEL, *team.pupils],
        18,
        [
            "08:58:15.0",
            "09:00:20.0",
            "09:00:45.2",
            "09:01:10.0",
            "09:01:30.7",
            "09:02:00.0",
            "09:02:33.4",
            "09:03:01.0",
            "09:04:12.9",
        ],
        [
            "09:46:00.0",
            "09:45:00.0",
            "09:44:30.0",
            "09:45:10.1",
            "09:44:55.0",
            "09:45:02.6",
            "09:44:48.0",
            "09:45:15.0",
            "09:44:20.3",
        ],
    )
    stints.append(Stint(harrison, at(18, "09:06:20.5"), at(18, "09:31:00.0"), "web"))
    return {
        "directory": directory(),
        "event": event(m, [team], "Reading lesson: have your copy of Kensuke's Kingdom open at chapter 6."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, PATEL, stints, join_url=m.join_url),
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


def year3_maths_teacher_left() -> JSON:
    team = TEAMS[3]
    m = Meeting(
        "y3-maths-wed",
        WHITFIELD,
        "Year 3 Maths – telling the time",
        at(18, "10:30:00"),
        at(18, "11:15:00"),
        at(13, "08:44:00.25"),
        team,
    )
    pupils = pupils_of(
        3,
        "Maisie Holt",
        "Arjun Mehta",
        "Poppy Langford",
        "Finley Shaw",
        "Hana Kowalska",
        "Reggie Osei",
        "Lily-Mae Turner",
    )
    stints = lesson_stints(
        [WHITFIELD, BARNES, *pupils],
        18,
        [
            "10:28:30.0",
            "10:29:10.0",
            "10:30:05.5",
            "10:30:40.0",
            "10:31:02.1",
            "10:31:30.0",
            "10:32:11.8",
            "10:32:40.0",
            "10:33:05.0",
        ],
        [
            "11:05:00.0",
            "11:15:20.0",
            "11:14:40.0",
            "11:15:05.0",
            "11:14:52.3",
            "11:13:30.0",
            "11:14:59.9",
            "11:14:10.0",
            "11:12:45.0",
        ],
    )
    style = RecordStyle(odata_prefix="#Microsoft.Graph")
    return {
        "directory": directory(),
        "event": event(m, [team], "Have a clock with hands (or the paper one from your pack) ready."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, WHITFIELD, stints, join_url=m.join_url, style=style),
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


def year6_sats_recorded() -> JSON:
    pupils = pupils_of(6, "Jack Harper", "Chloe Nguyen", "Ibrahim Khan", "Daisy Fletcher", "Ruby Sinclair")
    m = Meeting(
        "y6-sats-wed",
        HUGHES,
        "Year 6 SATs revision – reading papers",
        at(18, "14:00:00"),
        at(18, "14:45:00"),
        at(16, "18:02:17.4"),
    )
    stints = lesson_stints(
        [HUGHES, *pupils],
        18,
        ["13:58:40.0", "14:00:12.2", "14:00:30.0", "14:01:05.9", "14:01:44.0", "14:02:10.0"],
        ["14:46:20.0", "14:45:00.0", "14:44:51.0", "14:45:10.4", "14:44:30.0", "14:45:05.0"],
    )
    record = call_record(m.key, HUGHES, stints, join_url=m.join_url)
    settings = {**LOCKED, "allowRecording": True, "allowTranscription": True}
    return {
        "directory": directory(),
        "event": event(m, pupils, "SATs reading revision. I will record this so you can watch it again."),
        "onlineMeeting": online_meeting(m, settings),
        "callRecord": record,
        "attendanceReports": [attendance_report(m.key, HUGHES, stints)],
        "recordings": [recording(m, record["id"], at(18, "14:03:02.5"), at(18, "14:44:58.0"), transcript=False)],
        "transcripts": [recording(m, record["id"], at(18, "14:03:02.5"), at(18, "14:44:58.0"), transcript=True)],
    }


def year3_sen_reading() -> JSON:
    arjun = find("Arjun Mehta")
    m = Meeting(
        "y3-sen-wed", SHARMA, "Reading support – Arjun", at(18, "15:30:00"), at(18, "15:50:00"), at(4, "10:15:00.0")
    )
    intervals = [
        Stint(SHARMA, at(18, "15:29:10"), at(18, "15:51:40")),
        Stint(arjun, at(18, "15:30:05.4"), at(18, "15:50:20")),
    ]
    return {
        "directory": directory(),
        "event": event(m, [arjun], "Reading support session (agreed in Arjun's SEN support plan)."),
        "onlineMeeting": online_meeting(m, LOCKED, attendees=[(arjun, "attendee")]),
        "attendanceReports": [attendance_report(m.key, SHARMA, intervals)],
        "recordings": [],
        "transcripts": [],
    }


def year4_maths_restarted() -> JSON:
    team = TEAMS[4]
    m = Meeting(
        "y4-maths-thu",
        MENSAH,
        "Year 4 Maths – column subtraction",
        at(19, "09:00:00"),
        at(19, "09:45:00"),
        at(2, "08:10:37.0"),
        team,
    )
    share = ((at(19, "09:05:00"), at(19, "09:15:00")),)
    pupils = pupils_of(
        4, "Evie Morgan", "Harrison Price", "Sofia Rossi", "Jacob Wright", "Aisha Begum", "Theo Kaminski", "Max Durand"
    )
    first = lesson_stints(
        pupils,
        19,
        ["08:59:10.0", "08:59:45.3", "09:00:20.0", "09:00:51.0", "09:01:12.6", "09:01:40.0", "09:02:05.0"],
        ["09:20:03.0", "09:20:30.0", "09:20:11.4", "09:20:06.0", "09:20:25.5", "09:20:00.0", "09:20:18.0"],
        views=share,
    )
    first.append(Stint(MENSAH, at(19, "08:58:10.0"), at(19, "09:20:05.2"), shares=share))
    second = lesson_stints(
        pupils,
        19,
        ["09:21:40.0", "09:21:52.4", "09:22:10.0", "09:22:31.0", "09:22:45.9", "09:23:02.0", "09:23:30.0"],
        ["09:44:50.0", "09:45:01.0", "09:44:40.7", "09:44:55.0", "09:45:03.0", "09:44:30.0", "09:44:58.8"],
    )
    second.append(Stint(MENSAH, at(19, "09:21:10.0"), at(19, "09:46:00.0")))
    body_extra = (
        '<div>Warm-up before the lesson: <a href="https://www.bbc.co.uk/bitesize/topics/zsxhfg8">'
        "BBC Bitesize – subtraction</a></div>"
    )
    return {
        "directory": directory(),
        "event": event(
            m,
            [team],
            "Year 4 maths. Whiteboard and pen please.",
            zone="GMT Standard Time",
            series=True,
            extra_html=body_extra,
        ),
        "onlineMeeting": online_meeting(m, LOCKED, meeting_type="recurring"),
        "callRecord": call_record(f"{m.key}:1", MENSAH, first, join_url=m.join_url),
        "callRecords": [call_record(f"{m.key}:2", MENSAH, second, join_url=m.join_url)],
        "attendanceReports": [],
        "unavailable": channel_gaps(),
    }


def year6_reading_group_consent() -> JSON:
    chloe, daisy = find("Chloe Nguyen"), find("Daisy Fletcher")
    m = Meeting(
        "y6-reading-thu", HUGHES, "Year 6 reading group", at(19, "11:00:00"), at(19, "11:30:00"), at(17, "15:48:03.2")
    )
    stints = [
        Stint(HUGHES, at(19, "10:59:00.0"), at(19, "11:31:00.0")),
        Stint(chloe, at(19, "11:00:30.5"), at(19, "11:30:00.0"), "web"),
        Stint(daisy, at(19, "11:01:10.0"), at(19, "11:29:40.9"), "iOS"),
    ]
    # Mr Hughes typed Noah's old alias: it resolves only through proxyAddresses.
    noah_by_alias = {"name": "Noah Okoro", "address": f"N.Okoro@{DOMAIN}"}
    return {
        "directory": directory(),
        "event": event(m, [noah_by_alias, chloe, daisy], "Reading group: we start Holes this week."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, HUGHES, stints, join_url=m.join_url),
        "attendanceReports": [attendance_report(m.key, HUGHES, stints)],
        "recordings": [],
        "transcripts": [],
    }


def year4_teacher_calls_pupil() -> JSON:
    theo = find("Theo Kaminski")
    caller = Stint(MENSAH, at(19, "15:46:12.118"), at(19, "15:52:40.905"))
    return {"directory": directory(), "callRecord": peer_to_peer_record("y4-call-thu", caller, theo)}


WHITAKER = Outsider(
    "Graham Whitaker",
    user_id="0d6e4b2a-8f31-4c7e-9a15-3b72e1c4d5f6",
    tenant="a4c2e8f0-1b3d-4e5f-8a9b-0c1d2e3f4a5b",
    upn="g.whitaker@northshire.gov.uk",
)
DIAL_IN = Outsider("+44 7700 900123", phone="+447700900123")


def governors() -> JSON:
    m = Meeting(
        "governors-thu",
        HEAD,
        "Full Governing Board – autumn term",
        at(19, "18:30:00"),
        at(19, "19:45:00"),
        at(2, "19:01:44.9"),
    )
    stints = [
        Stint(HEAD, at(19, "18:26:30.0"), at(19, "19:52:10.3")),
        Stint(DOYLE, at(19, "18:27:45.2"), at(19, "19:51:58.0")),
        Stint(MORGAN, at(19, "18:29:10.0"), at(19, "19:49:02.0"), "macOS"),
        Stint(WHITAKER, at(19, "18:31:03.7"), at(19, "19:50:00.0")),
        Stint(DIAL_IN, at(19, "18:34:20.0"), at(19, "19:20:15.0"), "web"),
    ]
    return {
        "directory": directory(),
        "event": event(
            m,
            [f"governors@{DOMAIN}", {"name": "Graham Whitaker", "address": "g.whitaker@northshire.gov.uk"}],
            "Agenda and papers are in the Governors team. Dial-in details below for anyone travelling.",
        ),
        "onlineMeeting": online_meeting(
            m,
            {
                **TEAMS_DEFAULTS,
                "lobbyBypassSettings": {"scope": "organizationAndFederated", "isDialInBypassEnabled": True},
            },
        ),
        "callRecord": call_record(m.key, HEAD, stints, join_url=m.join_url),
        "attendanceReports": [],
        "recordings": [],
        "transcripts": [],
    }


def year5_science_attendance_403() -> JSON:
    team = TEAMS[5]
    m = Meeting(
        "y5-science-fri",
        PATEL,
        "Year 5 Science – Earth and space",
        at(20, "09:00:00"),
        at(20, "09:45:00"),
        at(12, "16:55:20.0"),
        team,
    )
    stints = lesson_stints(
        [PATEL, *team.pupils],
        20,
        [
            "08:58:44.0",
            "09:00:09.0",
            "09:00:41.2",
            "09:01:00.0",
            "09:01:22.5",
            "09:01:58.0",
            "09:02:20.3",
            "09:02:59.0",
            "09:03:40.0",
        ],
        [
            "09:45:50.0",
            "09:44:59.0",
            "09:45:05.0",
            "09:44:41.0",
            "09:45:12.2",
            "09:44:50.0",
            "09:45:00.0",
            "09:45:20.6",
            "09:44:35.0",
        ],
    )
    gaps = [
        {
            "kind": "attendanceReports",
            "reason": "403 Forbidden: Authorization_RequestDenied: Insufficient privileges to complete the operation.",
        },
        *channel_gaps(),
    ]
    return {
        "directory": directory(),
        "event": event(m, [team], "Science: we are modelling the planets, so have a ball and some fruit ready."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, PATEL, stints, join_url=m.join_url),
        "unavailable": gaps,
    }


def year4_times_tables_zoom() -> JSON:
    pupils = pupils_of(4, "Evie Morgan", "Jacob Wright", "Aisha Begum", "Theo Kaminski")
    m = Meeting(
        "y4-ttrs-fri", MENSAH, "Times tables club", at(20, "10:30:00"), at(20, "11:00:00"), at(18, "12:20:40.0")
    )
    safelink = (
        "https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us%2Fj%2F"
        "84512093377%3Fpwd%3DdGltZXN0YWJsZXNjbHVi&amp;data=05%7C02%7Cj.mensah%40elmgrove.sch.uk%7C"
        "5b0e3a41c2d84f16%7C7c3e2a915b8d4f0e%7C0%7C0%7C638671234567890123&amp;sdata=q8Zr3%2BkVx1"
        "N0aTfM%3D&amp;reserved=0"
    )
    extra = f'<div>If Teams plays up we will carry on in Zoom: <a href="{safelink}">join the club on Zoom</a></div>'
    return {
        "directory": directory(),
        "event": event(m, pupils, "Times tables club – bring your best Rock Star name!", extra_html=extra),
        "onlineMeeting": online_meeting(m, LOCKED),
        "recordings": [],
        "transcripts": [],
    }


def year6_maths_friday() -> JSON:
    team = TEAMS[6]
    m = Meeting(
        "y6-maths-fri",
        HUGHES,
        "Year 6 Maths – ratio problems",
        at(20, "13:00:00"),
        at(20, "13:45:00"),
        at(13, "15:30:12.8"),
        team,
    )
    pupils = pupils_of(
        6, "Freya Wilson", "Ruby Sinclair", "Jack Harper", "Chloe Nguyen", "Ibrahim Khan", "Daisy Fletcher"
    )
    stints = lesson_stints(
        pupils,
        20,
        ["12:59:40.0", "13:00:05.5", "13:00:22.0", "13:01:10.0", "13:01:31.2", "13:02:00.0"],
        ["13:44:52.0", "13:45:41.0", "13:44:30.0", "13:45:20.8", "13:44:58.0", "13:45:03.0"],
    )
    # The teacher's laptop dropped for 12 s; the last pupil left 41 s after him: 53 s in all, under the 60 s limit.
    stints.append(Stint(HUGHES, at(20, "12:58:30.0"), at(20, "13:21:14.5")))
    stints.append(Stint(HUGHES, at(20, "13:21:26.5"), at(20, "13:45:00.0")))
    return {
        "directory": directory(),
        "event": event(m, [team], "Ratio problems: have squared paper ready."),
        "onlineMeeting": online_meeting(m, LOCKED),
        "callRecord": call_record(m.key, HUGHES, stints, join_url=m.join_url),
        "attendanceReports": [attendance_report(m.key, HUGHES, stints)],
        "unavailable": channel_gaps(),
    }


def week() -> list[Sample]:
    jack, harrison, noah = find("Jack Harper").id, find("Harrison Price").id, find("Noah Okoro").id
    private_extras: tuple[Finding, ...] = (("not-in-class-team-general", None),)
    return [
        Sample(
            "2026-11-16-0815-staff-briefing",
            "Staff briefing, Teams default settings, recorded, teaching assistant present. Out of scope (no pupil "
            "invited or present, not a class-team channel meeting, organiser is staff; the TA is neither and "
            "never brings a meeting into scope), so no findings at all.",
            staff_briefing,
            (),
        ),
        Sample(
            "2026-11-16-0900-year5-maths",
            "Compliant recurring channel lesson in Year 5 General, settings locked. Amelia and Oliver join "
            "before Mrs Patel (lobby: organiser-only scope, staff organiser, so not unsupervised time); Isla "
            "reconnects; the class iPad (a school account, neither staff nor pupil, not a team member) is never "
            "uninvited. Recordings/transcripts unsupported for channel meetings: coverage, not a finding.",
            year5_maths_monday,
            (),
        ),
        Sample(
            "2026-11-16-1100-year4-spelling-catch-up",
            "Private calendar meeting with Teams default settings (mic on, chat enabled, presenters everyone, "
            "lobby scope organization, recording and transcription allowed): attendee-mic-allowed, "
            "meeting-chat-enabled, attendees-can-present, lobby-bypass-too-broad, recording-allowed, "
            "not-in-class-team-general. Both pupils invited individually and consented; teacher there "
            "throughout.",
            year4_spelling_default_settings,
            (
                ("attendee-mic-allowed", None),
                ("attendees-can-present", None),
                ("lobby-bypass-too-broad", None),
                ("meeting-chat-enabled", None),
                ("recording-allowed", None),
                *private_extras,
            ),
        ),
        Sample(
            "2026-11-16-1330-year3-phonics",
            "Compliant Year 3 General lesson with the teaching assistant present (a school account, never "
            "uninvited) and an attendance report beside the call record (call record decides presence). No "
            "findings.",
            year3_phonics,
            (),
        ),
        Sample(
            "2026-11-17-0900-year6-english",
            "Year 6 General lesson, presenters roleIsPresenter with Jack made a presenter "
            "(attendees-can-present); Jack sends an applicationsharing-video stream callerToCallee "
            "(pupil-screen-shared for Jack). Classmates and the teacher only view the share (screenSharing "
            "modality, calleeToCaller stream): no finding for them.",
            year6_english_screen_share,
            (("attendees-can-present", None), ("pupil-screen-shared", jack)),
        ),
        Sample(
            "2026-11-17-1030-year4-science",
            "Year 4 General lesson, older call record (deprecated organizer/participants identity sets, "
            "caller.identity). Evie's father joins with his guest account (userType Guest, #EXT#) and an "
            "anonymous 'Sofia's mum' joins: two uninvited-attendee findings (the guest by user id, the anonymous "
            "joiner by display name).",
            year4_science_parents,
            (("uninvited-attendee", MORGAN.id), ("uninvited-attendee", SOFIAS_MUM.display)),
        ),
        Sample(
            "2026-11-17-1600-year6-homework-help",
            "Freya (a pupil) organises a private meeting with Ruby and Jack: organiser-not-staff, "
            "not-in-class-team-general, and pupils-unsupervised (no staff at all; the lobby allowance needs a "
            "staff organiser).",
            year6_homework_help_pupil_organised,
            (("organiser-not-staff", None), ("pupils-unsupervised", None), *private_extras),
        ),
        Sample(
            "2026-11-18-0900-year5-english",
            "Year 5 General lesson; Harrison from Year 4 joins with a forwarded link. He is a pupil, not a Year 5 "
            "team member nor in the invited group: uninvited-attendee for Harrison (he has consent).",
            year5_english_other_class,
            (("uninvited-attendee", harrison),),
        ),
        Sample(
            "2026-11-18-1030-year3-maths",
            "Year 3 General lesson; Miss Whitfield leaves at 11:05, ten minutes early; the teaching assistant "
            "stays but does not count as supervision, so pupils are unsupervised about 605 s "
            "(> 60 s): pupils-unsupervised. Endpoint @odata.type values use #Microsoft.Graph casing.",
            year3_maths_teacher_left,
            (("pupils-unsupervised", None),),
        ),
        Sample(
            "2026-11-18-1400-year6-sats-revision",
            "Private meeting recorded and transcribed by the teacher: recording-allowed (allowRecording and "
            "allowTranscription true), session-recorded (a recording and a transcript), "
            "not-in-class-team-general.",
            year6_sats_recorded,
            (("recording-allowed", None), ("session-recorded", None), *private_extras),
        ),
        Sample(
            "2026-11-18-1530-year3-sen-reading",
            "1:1 SEN reading session, SENCo and Arjun, evidence from the attendance report only (call record not "
            "in yet): one-to-one-with-pupil (advisory) and not-in-class-team-general.",
            year3_sen_reading,
            (("one-to-one-with-pupil", None), *private_extras),
        ),
        Sample(
            "2026-11-19-0900-year4-maths",
            "Compliant recurring Year 4 General lesson (event in GMT Standard Time) that restarted: two call "
            "records merged; the pupils outlast the teacher by at most 24.8 s when Teams dropped. The teacher "
            "shares his screen, pupils only view. A BBC Bitesize link is not a video-conferencing platform. "
            "No findings.",
            year4_maths_restarted,
            (),
        ),
        Sample(
            "2026-11-19-1100-year6-reading-group",
            "Private reading group; Noah, who has no consent, is invited individually by an old alias that "
            "matches only his proxyAddresses (he does not join): consent-missing for Noah, "
            "not-in-class-team-general.",
            year6_reading_group_consent,
            (("consent-missing", noah), *private_extras),
        ),
        Sample(
            "2026-11-19-1545-year4-teacher-call",
            "Mr Mensah calls Theo from the Teams chat: a peerToPeer call record with no join link and no "
            "meeting: unscheduled-call-with-pupil. Nothing else can be judged (no onlineMeeting).",
            year4_teacher_calls_pupil,
            (("unscheduled-call-with-pupil", None),),
        ),
        Sample(
            "2026-11-19-1830-governors",
            "Governors' meeting with a guest parent governor, a governor from the county council's tenant and a "
            "phone dial-in, permissive settings. Out of scope (no pupil invited or present, organiser staff, not "
            "a class channel): no findings at all.",
            governors,
            (),
        ),
        Sample(
            "2026-11-20-0900-year5-science",
            "Otherwise compliant Year 5 General lesson whose attendance reports could not be read (403): "
            "evidence-unavailable. The unsupported recordings/transcripts entries raise nothing.",
            year5_science_attendance_403,
            (("evidence-unavailable", None),),
        ),
        Sample(
            "2026-11-20-1030-year4-times-tables-club",
            "Private meeting whose invite carries a Zoom link wrapped in Outlook Safe Links, pupils invited "
            "individually: unapproved-platform, not-in-class-team-general. Not held in Teams (no call record).",
            year4_times_tables_zoom,
            (("unapproved-platform", None), *private_extras),
        ),
        Sample(
            "2026-11-20-1300-year6-maths",
            "Compliant Year 6 General lesson: the teacher's laptop drops for 12 s and the last pupil leaves 41 s "
            "after him, 53 s unsupervised in all (not over 60 s). Pupils without consent (Noah, Leo) are team "
            "members but do not join. No findings.",
            year6_maths_friday,
            (),
        ),
    ]


def sorted_findings(findings: Sequence[Finding]) -> list[list[str | None]]:
    return [[rule, subject] for rule, subject in sorted(findings, key=lambda f: (f[0], f[1] or ""))]


def subject_label(subject: str) -> str:
    names = {p.id: p.display for p in USERS}
    return f"{names[subject]}, `{subject}`" if subject in names else f"`{subject}`"


def readme(samples: Sequence[Sample]) -> str:
    d = directory()
    lines = [
        "# Elmgrove Primary School: one week of Teams meetings (16–20 November 2026)",
        "",
        "Sample evidence bundles for `vcaudit evaluate`, written by `python -m devtools.sample_week` (do not edit",
        "by hand: change the generator and run it again). Each `NAME.json` is one meeting occurrence;",
        "`NAME.expected.json` is the sorted list of `[rule, subject]` pairs that `docs/rules.md` requires for it",
        "(subject null for meeting-level rules). Evaluate the bundles only, not the expected files:",
        "`vcaudit evaluate $(ls samples/elmgrove-week/*.json | grep -v expected) --format table`. The tests compare",
        "them (`tests/test_scenarios.py`).",
        "",
        f"Directory (the same in every bundle): tenant `{TENANT}`, {len(d['staff'])} staff (head teacher, four",
        "class teachers, SENCo, deputy head, business manager), a teaching assistant and a class iPad that are",
        f"school accounts but neither staff nor pupils, a guest parent governor, {len(d['pupils'])} pupils in Years",
        "3–6, a class team per year (General channel plus two others), a mail-enabled group per year, an",
        "all-staff list (which includes the teaching assistant), and a consent register without Noah Okoro and",
        "Leo Fraser. Times are UTC (GMT in November).",
        "",
        "| bundle | expected findings | what happens and why |",
        "|---|---|---|",
    ]
    for sample in samples:
        found = (
            ", ".join(f"`{r}`" + (f" ({subject_label(s)})" if s else "") for r, s in sorted_findings(sample.expected))
            or "none"
        )
        lines.append(f"| `{sample.name}` | {found} | {sample.story} |")
    lines.append("")
    return "\n".join(lines)


def write_week(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    written = []
    samples = week()
    for sample in samples:
        bundle_path = out / f"{sample.name}.json"
        bundle_path.write_text(json.dumps(sample.build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        expected_path = out / f"{sample.name}.expected.json"
        expected_path.write_text(json.dumps(sorted_findings(sample.expected), indent=1) + "\n", encoding="utf-8")
        written += [bundle_path, expected_path]
    readme_path = out / "README.md"
    readme_path.write_text(readme(samples), encoding="utf-8")
    return [*written, readme_path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DEFAULT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    written = write_week(args.out)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
