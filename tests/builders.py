"""Builders for evidence bundles shaped exactly as Microsoft Graph v1.0 sends them.

Written from the contract (``docs/rules.md``, ``docs/evidence-bundle.md``, ``docs/graph-facts.md``), not from
the engine.
Every bundle starts from a fully compliant lesson; a test changes one thing and looks at what fires.

The school: Elmgrove Primary. Mrs Patel (staff) teaches Year 5 in the Year 5 class team; Mr Hughes (staff)
teaches Year 6; Ms Shah is a teaching assistant who is not in the staff group (an unclassified adult). Year 5
pupils Amelia, Oliver and Isla have consent; Noah (Year 5) has none. Ruby is a Year 6 pupil. Alex Morgan is a
B2B guest (``#EXT#``), Tom Clarke a parent with a consumer account in another tenant.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.engine import Evaluation, Finding, evaluate_raw
from shared.policy.policyfile import Policy

JSON = dict[str, Any]

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
OTHER_TENANT = "3a1f7d52-0c4e-4b8a-9d6f-8e2b5c7a1f90"
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
DAY = "2026-03-10"

PARTICIPANT_ENDPOINT = "#microsoft.graph.callRecords.participantEndpoint"
SERVICE_ENDPOINT = "#microsoft.graph.callRecords.serviceEndpoint"


# --------------------------------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Person:
    """A user account. ``tenant`` is what Graph payloads carry as the identity's tenantId."""

    id: str
    name: str
    upn: str
    mail: str
    tenant: str | None = TENANT
    user_type: str = "Member"
    proxies: tuple[str, ...] = ()

    def at_tenant(self, tenant: str | None) -> Person:
        return Person(self.id, self.name, self.upn, self.mail, tenant, self.user_type, self.proxies)


@dataclass(frozen=True)
class NonUser:
    """A participant without a user account: ``kind`` is ``guest`` (anonymous joiner) or ``phone``."""

    kind: str
    id: str
    name: str | None


TEACHER = Person("e995966a-ce95-4262-9671-04eb4ce9f070", "Sarah Patel", "s.patel@elmgrove.sch.uk",
                 "sarah.patel@elmgrove.sch.uk")
HEAD = Person("17d17053-906f-43f5-a8b2-0aab056888b1", "David Hughes", "d.hughes@elmgrove.sch.uk",
              "david.hughes@elmgrove.sch.uk")
TA = Person("2f0b8d3e-61a4-4c57-b2e9-5d3c1a7f4e62", "Priya Shah", "p.shah@elmgrove.sch.uk",
            "priya.shah@elmgrove.sch.uk")
AMELIA = Person("4b5e50c3-b3a6-4aa7-b54d-74965cd16755", "Amelia Clarke", "amelia.clarke@elmgrove.sch.uk",
                "amelia.clarke@elmgrove.sch.uk")
OLIVER = Person("9ab9df51-3ec9-489b-a120-ae8b73526283", "Oliver Bennett", "2019obennett@elmgrove.sch.uk",
                "oliver.bennett@elmgrove.sch.uk",
                proxies=("SMTP:oliver.bennett@elmgrove.sch.uk", "smtp:O.Bennett@Elmgrove.sch.uk"))
ISLA = Person("5c91b4a2-f32b-4b15-897b-7ae812034e1a", "Isla Novak", "isla.novak@elmgrove.sch.uk",
              "isla.novak@elmgrove.sch.uk")
NOAH = Person("77e7f0ce-44cb-4689-afd9-4ce7df980741", "Noah Okoro", "noah.okoro@elmgrove.sch.uk",
              "noah.okoro@elmgrove.sch.uk")
RUBY = Person("c6381df0-c904-4ff8-aca3-105a281f6ff1", "Ruby Sinclair", "ruby.sinclair@elmgrove.sch.uk",
              "ruby.sinclair@elmgrove.sch.uk")
GUEST = Person("58f8723c-cb97-4432-84d8-c124d45f5c5d", "Alex Morgan (Guest)",
               "alex.morgan_outlook.com#EXT#@elmgrove.onmicrosoft.com", "alex.morgan@outlook.com",
               tenant=TENANT, user_type="Guest")
PARENT = Person("c1a56a26-e361-457a-b070-5b96c04eba0f", "Tom Clarke", "tom.clarke1984@outlook.com",
                "tom.clarke1984@outlook.com", tenant=CONSUMER_TENANT)
OTHER_TEACHER = Person("0d4c2b1a-7e6f-4a3b-9c8d-1e2f3a4b5c6d", "Jo Reed", "j.reed@oakfield.sch.uk",
                       "j.reed@oakfield.sch.uk", tenant=OTHER_TENANT)
ANONYMOUS = NonUser("guest", "8:teamsvisitor:3f9a0c7e2b5d4e1f", "Grandad Clarke (Unverified)")
CALLER = NonUser("phone", "+447700900123", None)

STAFF = (TEACHER, HEAD)
PUPILS = (AMELIA, OLIVER, ISLA, NOAH, RUBY)
CONSENT = (AMELIA, OLIVER, ISLA, RUBY)

YEAR5_TEAM_ID = "ea57ab51-28d9-45e1-a59b-0ae84be0632e"
YEAR5_GENERAL = "19:8d2f6c1a4b7e4e0f9c3a5b1d7e9f2c4a@thread.tacv2"
YEAR5_SCIENCE = "19:0f3b9e7a5c2d4b6a8e1f3c5d7b9a2e4c@thread.tacv2"
YEAR6_TEAM_ID = "2e39f9b9-dd0e-45dc-9989-bb8827b94226"
YEAR6_GENERAL = "19:2b7e151628aed2a6abf7158809cf4f3c@thread.skype"
PRIVATE_THREAD = "19:meeting_ZTU3NmY4ZjItYjFlMi00ZGRhLWE4ZTItMTIzNDU2Nzg5MGFi@thread.v2"
STAFFROOM_THREAD = "19:meeting_OWMxZGEyYjQtNDk4Ny00ZTI1LWI2ZjMtYmQ0OGE3NTFjMmQ4@thread.v2"

YEAR5_GROUP = "year5@elmgrove.sch.uk"
STAFF_GROUP = "allstaff@elmgrove.sch.uk"


def join_url(thread: str, organiser: Person = TEACHER, message: str = "1773151559742") -> str:
    """A Teams join link the way Graph returns it (thread id URL-encoded, context JSON escaped)."""
    encoded = thread.replace(":", "%3a").replace("@", "%40")
    context = "%7b%22Tid%22%3a%22" + TENANT + "%22%2c%22Oid%22%3a%22" + organiser.id + "%22%7d"
    if thread.startswith("19:meeting_"):
        message = "0"
    return f"https://teams.microsoft.com/l/meetup-join/{encoded}/{message}?context={context}"


# ------------------------------------------------------------------------------------------------ directory


def user_entry(person: Person) -> JSON:
    entry: JSON = {"displayName": person.name, "userPrincipalName": person.upn, "mail": person.mail,
                   "userType": person.user_type}
    if person.proxies:
        entry["proxyAddresses"] = list(person.proxies)
    return entry


def class_team(team_id: str, name: str, general: str, members: list[Person],
               channels: list[str] | None = None) -> JSON:
    team: JSON = {"id": team_id, "displayName": name, "generalChannelId": general,
                  "members": [m.id for m in members]}
    if channels is not None:
        team["channelIds"] = channels
    return team


def directory() -> JSON:
    """The school's directory facts: staff, pupils, an unclassified TA, a guest, two class teams, consent."""
    users = [TEACHER, HEAD, TA, *PUPILS, GUEST]
    return {
        "tenantId": TENANT,
        "staff": [p.id for p in STAFF],
        "pupils": [p.id for p in PUPILS],
        "users": {p.id: user_entry(p) for p in users},
        "groups": {
            YEAR5_GROUP: [TEACHER.id, TA.id, AMELIA.id, OLIVER.id, ISLA.id, NOAH.id],
            STAFF_GROUP: [TEACHER.id, HEAD.id],
        },
        "classTeams": [
            class_team(YEAR5_TEAM_ID, "Year 5", YEAR5_GENERAL, [TEACHER, TA, AMELIA, OLIVER, ISLA, NOAH],
                       channels=[YEAR5_GENERAL, YEAR5_SCIENCE]),
            class_team(YEAR6_TEAM_ID, "Year 6", YEAR6_GENERAL, [HEAD, RUBY]),
        ],
        "consent": [p.id for p in CONSENT],
    }


# ---------------------------------------------------------------------------------------------------- times


def at(clock: str, day: str = DAY) -> str:
    """``"09:00:15.302"`` -> ``"2026-03-10T09:00:15.3020000Z"`` (Graph's seven fractional digits)."""
    hms, _, frac = clock.partition(".")
    if hms.count(":") == 1:
        hms += ":00"
    return f"{day}T{hms}.{frac.ljust(7, '0')}Z"


def event_time(clock: str, day: str = DAY) -> JSON:
    """A calendar event's start or end: no offset, the zone named beside it."""
    hms = clock if clock.count(":") == 2 else clock + ":00"
    return {"dateTime": f"{day}T{hms}.0000000", "timeZone": "UTC"}


# -------------------------------------------------------------------------------------------------- identity


def identity_user(person: Person, *, upn: bool = False) -> JSON:
    user: JSON = {"id": person.id, "displayName": person.name, "tenantId": person.tenant}
    if upn:
        user["userPrincipalName"] = person.upn
    return user


def identity_set(who: Person | NonUser, *, upn: bool = False) -> JSON:
    """An identitySet / communicationsIdentitySet: ``user`` for accounts, ``guest`` or ``phone`` otherwise."""
    if isinstance(who, Person):
        return {"application": None, "device": None, "user": identity_user(who, upn=upn)}
    return {"application": None, "device": None, "user": None,
            who.kind: {"id": who.id, "displayName": who.name, "tenantId": None}}


def associated_identity(who: Person | NonUser) -> JSON:
    if isinstance(who, Person):
        return {"id": who.id, "displayName": who.name, "tenantId": who.tenant, "userPrincipalName": who.upn}
    return {"id": who.id, "displayName": who.name, "tenantId": None, "userPrincipalName": None}


def participant_endpoint(who: Person | NonUser, *, deprecated: bool = False,
                         odata_type: str = PARTICIPANT_ENDPOINT) -> JSON:
    """A call-record participantEndpoint; ``deprecated`` gives the old ``identity`` identitySet instead."""
    endpoint: JSON = {"@odata.type": odata_type, "name": "ELMGROVE-" + (who.id[-6:].upper()),
                      "userAgent": {"@odata.type": "#microsoft.graph.callRecords.clientUserAgent",
                                    "platform": "windows", "productFamily": "teams"},
                      "feedback": None}
    if deprecated or isinstance(who, NonUser):
        endpoint["identity"] = identity_set(who)
    else:
        endpoint["associatedIdentity"] = associated_identity(who)
    return endpoint


def service_endpoint(odata_type: str = SERVICE_ENDPOINT) -> JSON:
    return {"@odata.type": odata_type,
            "userAgent": {"@odata.type": "#microsoft.graph.callRecords.serviceUserAgent", "headerValue": None,
                          "role": "skypeForBusinessAudioVideoMcu"}}


# ------------------------------------------------------------------------------------------------ call records

_stream_ids = iter(range(1_500_000_000, 2_000_000_000))


def media(label: str, *directions: str) -> JSON:
    """One media entry of a segment; each direction is a stream (``callerToCallee`` / ``calleeToCaller``)."""
    return {"label": label, "streams": [{"streamId": str(next(_stream_ids)), "streamDirection": d,
                                         "averageJitter": "PT0.008S", "averagePacketLossRate": 0.0012}
                                        for d in directions]}


def av_media() -> list[JSON]:
    both = ("callerToCallee", "calleeToCaller")
    return [media("main-audio", *both), media("main-video", *both)]


def screen_share(direction: str = "callerToCallee") -> JSON:
    return media("applicationsharing-video", direction)


def session(caller: Person | NonUser | JSON, start: str, end: str, *, callee: Person | NonUser | None = None,
            modalities: tuple[str, ...] = ("audio", "video"), media_list: list[JSON] | None = None,
            segments: list[JSON] | None = None, deprecated: bool = False,
            callee_type: str = SERVICE_ENDPOINT) -> JSON:
    """A session from ``start`` to ``end`` (clock times of the day). In a group call the callee is the
    conference service; pass ``callee`` for a peer-to-peer call. One segment spans the session unless given."""
    caller_ep = caller if isinstance(caller, dict) else participant_endpoint(caller, deprecated=deprecated)
    callee_ep = (participant_endpoint(callee, deprecated=deprecated) if callee is not None
                 else service_endpoint(callee_type))
    sid = str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([caller_ep, callee_ep, start, end], sort_keys=True)))
    if segments is None:
        segments = [{"startDateTime": at(start), "endDateTime": at(end), "id": sid, "failureInfo": None,
                     "caller": caller_ep, "callee": callee_ep,
                     "media": av_media() if media_list is None else media_list}]
    return {"modalities": list(modalities), "startDateTime": at(start), "endDateTime": at(end), "id": sid,
            "isTest": False, "failureInfo": None, "caller": caller_ep, "callee": callee_ep,
            "segments": segments}


def participant_v2(who: Person | NonUser) -> JSON:
    return {"id": who.id, "identity": identity_set(who, upn=True), "administrativeUnitInfos": []}


def _people_of(sessions: list[JSON]) -> list[Person | NonUser]:
    """Everyone the builders put into these sessions (read back from the session endpoints)."""
    seen: dict[str, Person | NonUser] = {}
    for s in sessions:
        for end in (s["caller"], s["callee"]):
            key = _endpoint_key(end)
            who = _WHO.get(key)
            if isinstance(who, Person):
                ident = end.get("associatedIdentity") or (end.get("identity") or {}).get("user") or {}
                who = who.at_tenant(ident.get("tenantId"))
            if who is not None:
                seen.setdefault(key, who)
    return list(seen.values())


def _endpoint_key(endpoint: JSON) -> str:
    if "associatedIdentity" in endpoint:
        return str(endpoint["associatedIdentity"]["id"])
    identity = endpoint.get("identity") or {}
    for kind in ("user", "guest", "phone"):
        if identity.get(kind):
            return str(identity[kind]["id"])
    return ""


_WHO: dict[str, Person | NonUser] = {}


def _remember(*people: Person | NonUser) -> None:
    for p in people:
        _WHO.setdefault(p.id, p)


_remember(TEACHER, HEAD, TA, AMELIA, OLIVER, ISLA, NOAH, RUBY, GUEST, PARENT, OTHER_TEACHER, ANONYMOUS, CALLER)


def call_record(sessions: list[JSON], *, organizer: Person | None = TEACHER,
                participants: list[Person | NonUser] | None = None, call_type: str = "groupCall",
                join_web_url: str | None = "default", deprecated: bool = False,
                record_id: str = "d363a317-804c-4a37-b66c-efa3172ade0f") -> JSON:
    """A callRecord with sessions (and segments) expanded. Participants default to the people in the sessions.
    ``deprecated`` gives the old ``organizer`` / ``participants`` identitySets instead of the ``_v2`` ones."""
    if participants is None:
        participants = _people_of(sessions)
    starts = [s["startDateTime"] for s in sessions] or [at("09:00")]
    ends = [s["endDateTime"] for s in sessions] or [at("09:45")]
    record: JSON = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#communications/callRecords"
                          "(sessions(segments()))/$entity",
        "@odata.type": "#microsoft.graph.callRecords.callRecord",
        "version": 2, "type": call_type,
        "modalities": sorted({m for s in sessions for m in s["modalities"]}) or ["audio"],
        "lastModifiedDateTime": at("23:12:09.3311234"),
        "startDateTime": min(starts), "endDateTime": max(ends),
        "id": record_id,
        "joinWebUrl": join_url(YEAR5_GENERAL) if join_web_url == "default" else join_web_url,
    }
    if deprecated:
        record["organizer"] = None if organizer is None else identity_set(organizer)
        record["participants"] = [identity_set(p) for p in participants]
    else:
        if organizer is not None:
            record["organizer_v2"] = {"id": organizer.id, "identity": identity_set(organizer),
                                      "administrativeUnitInfos": []}
        record["participants_v2"] = [participant_v2(p) for p in participants]
    record["sessions"] = sessions
    return record


# --------------------------------------------------------------------------------------------- online meeting

STRICT_SETTINGS: JSON = {
    "allowAttendeeToEnableMic": False,
    "allowMeetingChat": "disabled",
    "allowedPresenters": "organizer",
    "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
    "recordAutomatically": False,
    "allowRecording": False,
    "allowTranscription": False,
}

ABSENT = object()  # pass as a setting's value to leave the property out of the payload


def participant_info(person: Person, role: str = "attendee") -> JSON:
    return {"upn": person.upn, "role": role,
            "identity": {"application": None, "device": None,
                         "user": {"id": person.id, "displayName": None, "tenantId": person.tenant,
                                  "identityProvider": "AAD"}}}


def online_meeting(*, thread: str = YEAR5_GENERAL, organizer: Person = TEACHER,
                   attendees: tuple[Person | tuple[Person, str], ...] = (), meeting_type: str | None = "scheduled",
                   **settings: Any) -> JSON:
    """An onlineMeeting with the school's strict settings; keyword arguments override them (``ABSENT`` drops)."""
    url = join_url(thread, organizer)
    meeting: JSON = {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{organizer.id}')/onlineMeetings"
                          "/$entity",
        "id": "MSplOTk1OTY2YS1jZTk1LTQyNjItOTY3MS0wNGViNGNlOWYwNzAqMCoqMTk6OGQyZjZjMWE0YjdlNGUwZjlj",
        "creationDateTime": "2026-03-07T07:42:18.5173921Z",
        "startDateTime": at("09:00"), "endDateTime": at("09:45"),
        "expiryDateTime": "2026-05-10T09:45:00.0000000Z",
        "subject": "Year 5 Maths – fractions of amounts",
        "meetingType": meeting_type,
        "joinWebUrl": url,
        "isEntryExitAnnounced": True, "allowAttendeeToEnableCamera": True, "allowBreakoutRooms": False,
        "allowedLobbyAdmitters": "organizerAndCoOrganizers",
        "chatInfo": {"threadId": thread, "messageId": "0" if "meeting_" in thread else "1773151559742",
                     "replyChainMessageId": None},
        "participants": {
            "organizer": participant_info(organizer, "presenter"),
            "attendees": [participant_info(*a) if isinstance(a, tuple) else participant_info(a)
                          for a in attendees],
        },
        **copy.deepcopy(STRICT_SETTINGS),
    }
    if meeting_type is None:
        del meeting["meetingType"]
    for key, value in settings.items():
        if value is ABSENT:
            meeting.pop(key, None)
        else:
            meeting[key] = value
    return meeting


# ----------------------------------------------------------------------------------------------------- event


def event_attendee(who: Person | str, name: str | None = None) -> JSON:
    address = who.mail if isinstance(who, Person) else who
    display = who.name if isinstance(who, Person) else (name or who.split("@")[0])
    return {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": display, "address": address}}


def teams_body(url: str, extra: str = "") -> JSON:
    """An HTML body with the Teams join block Outlook adds (a Teams link and an aka.ms help link)."""
    return {"contentType": "html",
            "content": "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
                       "\r\n</head>\r\n<body>\r\n<div>Year 5 live lesson. Please join from a quiet space.</div>"
                       f"{extra}<br>\r\n<div><a href=\"https://aka.ms/JoinTeamsMeeting?omkt=en-GB\">Need help?</a>"
                       f"</div><div><a href=\"{url}\">Join the meeting now</a></div>\r\n</body>\r\n</html>\r\n"}


def event(*, organizer: Person | str = TEACHER, attendees: tuple[Person | str, ...] = (YEAR5_GROUP,),
          thread: str = YEAR5_GENERAL, subject: str = "Year 5 Maths – fractions of amounts",
          body_extra: str = "", location: str = "Microsoft Teams Meeting", online_meeting_url: str | None = None,
          ) -> JSON:
    """A calendar event for the Teams meeting on ``thread``; attendees by address or group address."""
    url = join_url(thread, organizer if isinstance(organizer, Person) else TEACHER)
    org_address = organizer.upn if isinstance(organizer, Person) else organizer
    org_name = organizer.name if isinstance(organizer, Person) else organizer.split("@")[0]
    loc = {"displayName": location, "locationType": "default", "uniqueId": location, "uniqueIdType": "private"}
    return {
        "@odata.etag": "W/\"NTNkZDEyMjk2NWY3OWI0ZjY5NGYy\"",
        "id": "AAMkAGI1ZTE5ZWZlNDQ4MDVkZWE5OWMwZDY3ZWVlMDg1ZTE5YjM0YzIxZjMyMDYyNg==AAA=",
        "createdDateTime": "2026-03-07T07:41:55.0312456Z",
        "originalStartTimeZone": "GMT Standard Time", "originalEndTimeZone": "GMT Standard Time",
        "subject": subject,
        "bodyPreview": "Year 5 live lesson. Please join from a quiet space.",
        "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
        "onlineMeetingUrl": online_meeting_url,
        "type": "singleInstance", "isOrganizer": True, "isCancelled": False,
        "body": teams_body(url, body_extra),
        "start": event_time("09:00"), "end": event_time("09:45"),
        "location": loc, "locations": [dict(loc)],
        "attendees": [event_attendee(a) for a in attendees],
        "organizer": {"emailAddress": {"name": org_name, "address": org_address}},
        "onlineMeeting": {"joinUrl": url},
    }


# -------------------------------------------------------------------------------------- attendance, artefacts


def attendance_record(who: Person | NonUser, *intervals: tuple[str, str], role: str = "Attendee",
                      email: str | None = "default") -> JSON:
    """An attendanceRecord; intervals are (join, leave) clock times. School users come with tenantId null."""
    from datetime import datetime

    def seconds(a: str, b: str) -> int:
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
        return int((datetime.strptime(at(b)[:-2] + "Z", fmt) - datetime.strptime(at(a)[:-2] + "Z", fmt))
                   .total_seconds())

    if email == "default":
        email = who.mail if isinstance(who, Person) else None
    spans = [{"joinDateTime": at(a), "leaveDateTime": at(b), "durationInSeconds": seconds(a, b)}
             for a, b in intervals]
    return {"id": who.id, "emailAddress": email, "role": role,
            "totalAttendanceInSeconds": sum(s["durationInSeconds"] for s in spans),
            "identity": {"@odata.type": "#microsoft.graph.communicationsUserIdentity", "id": who.id,
                         "displayName": who.name, "tenantId": None},
            "attendanceIntervals": spans}


def attendance_report(*records: JSON, start: str = "09:00", end: str = "09:45",
                      report_id: str = "c9b6db1c-d5eb-427d-a5c0-20088d9b22d7") -> JSON:
    return {"id": report_id, "totalParticipantCount": len(records), "meetingStartDateTime": at(start),
            "meetingEndDateTime": at(end), "attendanceRecords": list(records)}


def _artefact(kind: str, organiser: Person) -> JSON:
    content = "recordingContentUrl" if kind == "callRecording" else "transcriptContentUrl"
    return {"@odata.type": f"#microsoft.graph.{kind}", "id": "VmpJamFhNDUzYzU0MTliMTFlODM2NWVjMDUxMjYxNzZl",
            "meetingId": "MSplOTk1OTY2YS1jZTk1LTQyNjItOTY3MS0wNGViNGNlOWYwNzAqMCoqMTk6OGQyZjZjMWE0YjdlNGUwZjlj",
            "callId": "eeb78bb2-f299-470a-baea-a8b6c0dea2fe",
            "contentCorrelationId": "d4696e2b-c785-43d3-bbb7-4fee14b77cbb",
            "createdDateTime": at("09:03"), "endDateTime": at("09:45"),
            "meetingOrganizer": {"application": None, "device": None,
                                 "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity",
                                          "id": organiser.id, "displayName": None, "userIdentityType": "aadUser",
                                          "tenantId": TENANT}},
            content: f"https://graph.microsoft.com/v1.0/users/{organiser.id}/onlineMeetings/x/recordings/y/content"}


def recording(organiser: Person = TEACHER) -> JSON:
    return _artefact("callRecording", organiser)


def transcript(organiser: Person = TEACHER) -> JSON:
    return _artefact("callTranscript", organiser)


def unavailable(kind: str, reason: str, *, unsupported: bool = False) -> JSON:
    entry: JSON = {"kind": kind, "reason": reason}
    if unsupported:
        entry["unsupported"] = True
    return entry


# --------------------------------------------------------------------------------------------------- bundles

LESSON_PUPILS = (AMELIA, OLIVER, ISLA)


def lesson_sessions(teacher: Person = TEACHER, pupils: tuple[Person, ...] = LESSON_PUPILS) -> list[JSON]:
    """The teacher from 08:58 to 09:46; each pupil joins a little after 09:00 and leaves at 09:45."""
    out = [session(teacher, "08:58:02.441", "09:46:10.12")]
    for i, pupil in enumerate(pupils):
        out.append(session(pupil, f"09:00:{15 + i * 7:02d}.302", "09:45:00.5"))
    return out


def channel_lesson() -> JSON:
    """A fully compliant Year 5 lesson: a General-channel meeting of the class team, strict settings,
    the class group invited, the teacher present throughout, three consented pupils present."""
    return {
        "directory": directory(),
        "event": event(),
        "onlineMeeting": online_meeting(),
        "callRecord": call_record(lesson_sessions()),
        "recordings": [],
        "transcripts": [],
    }


def private_lesson(*pupils: Person) -> JSON:
    """The same lesson as a private calendar meeting (``19:meeting_…@thread.v2``), pupils invited one by one
    on the event and present. It is otherwise compliant, so only ``not-in-class-team-general`` fires."""
    pupils = pupils or (AMELIA, OLIVER)
    bundle = channel_lesson()
    bundle["event"] = event(thread=PRIVATE_THREAD, attendees=pupils)
    bundle["onlineMeeting"] = online_meeting(thread=PRIVATE_THREAD)
    bundle["callRecord"] = call_record(lesson_sessions(pupils=pupils), join_web_url=join_url(PRIVATE_THREAD))
    return bundle


def staff_briefing(**settings: Any) -> JSON:
    """A staff-only private meeting (out of scope), with whatever settings are given."""
    return {
        "directory": directory(),
        "event": event(thread=STAFFROOM_THREAD, attendees=(HEAD, STAFF_GROUP), subject="Staff briefing"),
        "onlineMeeting": online_meeting(thread=STAFFROOM_THREAD, attendees=(HEAD,), **settings),
        "callRecord": call_record([session(TEACHER, "16:00", "16:30"), session(HEAD, "16:01", "16:30")],
                                  join_web_url=join_url(STAFFROOM_THREAD)),
    }


def peer_to_peer(caller: Person, callee: Person, *, media_list: list[JSON] | None = None,
                 modalities: tuple[str, ...] = ("audio", "video")) -> JSON:
    """A directory and a peer-to-peer call record, nothing else (no meeting)."""
    s = session(caller, "15:30:12.118", "15:34:40.905", callee=callee, media_list=media_list,
                modalities=modalities)
    return {"directory": directory(),
            "callRecord": call_record([s], organizer=caller, call_type="peerToPeer", join_web_url=None)}


# --------------------------------------------------------------------------------------------- reading results


def evaluate(bundle: JSON, policy: Policy | None = None) -> Evaluation:
    """Evaluate a JSON round-trip of the bundle, as the gateway would hand it over."""
    return evaluate_raw(json.loads(json.dumps(bundle)), policy)


def pairs(evaluation: Evaluation) -> set[tuple[str, str | None]]:
    return {(f.rule, f.subject) for f in evaluation.findings}


def rules(evaluation: Evaluation) -> set[str]:
    return {f.rule for f in evaluation.findings}


def finding(evaluation: Evaluation, rule: str, subject: str | None = None) -> Finding:
    matches = [f for f in evaluation.findings if f.rule == rule and f.subject == subject]
    assert matches, f"no {rule} finding for {subject!r}; findings: {sorted(pairs(evaluation), key=str)}"
    assert len(matches) == 1, f"{len(matches)} {rule} findings for {subject!r}"
    return matches[0]


def subjects(evaluation: Evaluation, rule: str) -> set[str | None]:
    return {f.subject for f in evaluation.findings if f.rule == rule}


def evidence_text(f: Finding) -> str:
    return json.dumps(f.evidence, sort_keys=True, default=str)


def evidence_values(f: Finding) -> list[Any]:
    """Every leaf value in the finding's evidence (nested dicts and lists flattened)."""
    out: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)
        else:
            out.append(node)

    walk(f.evidence)
    return out


@dataclass
class PolicyFile:
    """Writes a school policy TOML into a temporary folder and loads it."""

    folder: Any
    written: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> Policy:
        from shared.policy.policyfile import load_policy

        path = self.folder / f"policy{len(self.written)}.toml"
        path.write_text(text, encoding="utf-8")
        self.written.append(str(path))
        return load_policy(path)
