"""Deterministic generator of school tenants and weeks of Teams lessons, with the violations a real week has.

``primary_school(seed)``: one primary school — 40 staff, 400 pupils, 14 class teams, about 150 meeting
occurrences in one week. ``trust(seed)``: ten such schools in one tenant. ``school_week(...)``: any size.
Every occurrence is recorded in ``tenant.occurrences`` with what it was planted to show (``planted``: rule ids)
and the ids of its evidence; ``tenant.expected_bundle(key, ...)`` gives the complete bundle.

CLI: ``python -m devtools.graphsim.generate --school primary --out tenant.json``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from devtools.graphsim.tenant import JSON, Tenant, event_time, graph_time


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "Amelia Oliver Isla Noah Freya Leo Ruby Zain Ava Jack Mia Harry Grace George Ella Oscar Lily Arthur "
    "Sophia Muhammad Evie Theo Poppy Alfie Ivy Jacob Rosie Henry Willow Thomas Daisy Charlie Florence "
    "Finley Aria Archie Sienna Reuben Hannah Yusuf Maya Ethan Zara Joshua Layla Samuel Chloe Max Eliza "
    "Adam Nia Rory Phoebe Kai Esme Louis Amira Toby"
)
LAST = _words(
    "Clarke Bennett Novak Ahmed Wilson Okoro Sinclair Fraser Patel Hughes Okafor Smith Jones Taylor Brown "
    "Davies Evans Thomas Roberts Walker Wright Robinson Thompson White Hall Green Wood Harris Martin "
    "Jackson Khan Lewis Begum Ali Kowalski Murphy Campbell Kelly Reid Morgan Price Shah Hussain Young "
    "King Scott Baker Adams Mitchell Turner Cooper"
)
CLASSES = (
    "Reception Oak",
    "Reception Ash",
    "Year 1 Oak",
    "Year 1 Ash",
    "Year 2 Oak",
    "Year 2 Ash",
    "Year 3 Oak",
    "Year 3 Ash",
    "Year 4 Oak",
    "Year 4 Ash",
    "Year 5 Oak",
    "Year 5 Ash",
    "Year 6 Oak",
    "Year 6 Ash",
)
SUBJECTS = ("Maths", "Phonics", "Reading", "Writing", "Science", "History", "Geography", "Art", "Music", "PE at home")
SLOTS = ((9, 0), (10, 0), (11, 15), (13, 15), (14, 15))
OTHER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # consumer / other organisation


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int = 32) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def b64(self, n: int) -> str:
        return base64.b64encode(self.rng.randbytes(n)).decode()


def teams_quote(text: str) -> str:
    """Percent-encode as Teams join links do: lower-case hex escapes (``%3a``, ``%40``, ``%7b%22``)."""
    encoded = quote(text, safe="")
    out, i = "", 0
    while i < len(encoded):
        if encoded[i] == "%":
            out += "%" + encoded[i + 1 : i + 3].lower()
            i += 3
        else:
            out += encoded[i]
            i += 1
    return out


class SchoolWeek:
    """Builds one tenant; each ``_add_*`` method adds one kind of occurrence with its evidence."""

    def __init__(self, seed: int, schools: int, week_start: date, domain: str, lessons_per_class_day: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.week_start = week_start
        # Teams 2.x builds start with their release date, YYDDD: clients here were released three weeks before.
        released = week_start - timedelta(days=21)
        self._client_build = f"{released:%y}{released.timetuple().tm_yday:03d}"
        self.lessons_per_class_day = lessons_per_class_day
        self.tenant = Tenant(tenant_id=self.ids.uuid(), domain=domain)
        self.schools = schools
        self.staff: list[str] = []
        self.pupils: list[str] = []
        self.no_consent: list[str] = []
        self.class_teams: list[JSON] = []  # {id, name, teacher, assistant, pupils, general, channels, mail}
        self.upns: set[str] = set()
        self.streams = 1500000000
        self.message_ids = 1773151559000

    # ------------------------------------------------------------------ directory
    def _user(self, first: str, last: str, role: str, upn_style: str, user_type: str = "Member") -> str:
        uid = self.ids.uuid()
        base = f"{first[0].lower()}.{last.lower()}" if upn_style == "staff" else f"{first.lower()}.{last.lower()}"
        upn, n = f"{base}@{self.tenant.domain}", 1
        while upn in self.upns:
            n += 1
            upn = f"{base}{n}@{self.tenant.domain}"
        self.upns.add(upn)
        mail = (
            upn if upn_style != "staff" else f"{first.lower()}.{last.lower()}{'' if n == 1 else n}@{self.tenant.domain}"
        )
        self.tenant.users[uid] = {
            "id": uid,
            "displayName": f"{first} {last}",
            "userPrincipalName": upn,
            "mail": mail,
            "userType": user_type,
            "proxyAddresses": [f"SMTP:{mail}"] + ([f"smtp:{upn}"] if upn != mail else []),
            "accountEnabled": True,
        }
        self.tenant.education_roles[uid] = role
        return uid

    def _group(self, name: str, mail_nick: str, members: list[str], team: bool = False) -> str:
        gid = self.ids.uuid()
        mail = f"{mail_nick}@{self.tenant.domain}"
        self.tenant.groups[gid] = {
            "id": gid,
            "displayName": name,
            "description": name,
            "mail": mail,
            "mailNickname": mail_nick,
            "mailEnabled": True,
            "securityEnabled": not team,
            "groupTypes": ["Unified"] if team else [],
            "proxyAddresses": [f"SMTP:{mail}"],
            "resourceProvisioningOptions": ["Team"] if team else [],
        }
        self.tenant.group_members[gid] = list(members)
        return gid

    def _channel(self, name: str, created: datetime) -> JSON:
        cid = f"19:{self.ids.hex()}@thread.tacv2"
        return {
            "id": cid,
            "createdDateTime": graph_time(created, 3),
            "displayName": name,
            "description": None if name == "General" else f"{name} lessons",
            "isFavoriteByDefault": None,
            "email": "",
            "tenantId": self.tenant.tenant_id,
            "webUrl": f"https://teams.microsoft.com/l/channel/{teams_quote(cid)}/{quote(name)}?groupId=x&tenantId={self.tenant.tenant_id}",
            "membershipType": "standard",
        }

    def build_directory(self) -> None:
        created = datetime(2025, 9, 1, 8, tzinfo=UTC)
        all_staff_groups = []
        for school in range(self.schools):
            prefix = "" if self.schools == 1 else f"S{school + 1:02d} "
            nick = "" if self.schools == 1 else f"s{school + 1:02d}"
            teachers = [
                self._user(self.rng.choice(FIRST), self.rng.choice(LAST), "teacher", "staff") for _ in range(28)
            ]
            support = [self._user(self.rng.choice(FIRST), self.rng.choice(LAST), "teacher", "staff") for _ in range(12)]
            pupils = [self._user(self.rng.choice(FIRST), self.rng.choice(LAST), "student", "pupil") for _ in range(400)]
            self.staff += teachers + support
            self.pupils += pupils
            teaching = self._group(f"{prefix}Teaching Staff", f"{nick}teachingstaff", teachers)
            support_g = self._group(f"{prefix}Support Staff", f"{nick}supportstaff", support)
            all_staff_groups.append(self._group(f"{prefix}All Staff", f"{nick}staff", [teaching, support_g]))
            self._group(f"{prefix}All Pupils", f"{nick}pupils", pupils)
            self.no_consent += pupils[5:8]  # three pupils without consent in the first class
            per_class = len(pupils) // len(CLASSES)
            for i, name in enumerate(CLASSES):
                members_pupils = pupils[i * per_class : (i + 1) * per_class]
                teacher, assistant = teachers[i], support[i % len(support)]
                team_name = prefix + name
                gid = self._group(
                    team_name, nick + name.lower().replace(" ", ""), [teacher, assistant, *members_pupils], team=True
                )
                channels = [self._channel(n, created) for n in ("General", "Maths", "Reading")]
                self.tenant.teams[gid] = {"channels": channels, "primaryChannelId": channels[0]["id"]}
                self.class_teams.append(
                    {
                        "id": gid,
                        "name": team_name,
                        "teacher": teacher,
                        "assistant": assistant,
                        "pupils": members_pupils,
                        "general": channels[0]["id"],
                        "channels": channels,
                        "mail": self.tenant.groups[gid]["mail"],
                        "school": school,
                        "teachers": teachers,
                        "support": support,
                    }
                )
        if self.schools > 1:
            self._group("Trust Staff", "truststaff", all_staff_groups)
        consented = [p for p in self.pupils if p not in set(self.no_consent)]
        self.tenant.consent = consented
        users = {
            uid: {k: u[k] for k in ("displayName", "userPrincipalName", "mail", "userType", "proxyAddresses")}
            for uid, u in self.tenant.users.items()
        }
        self.tenant.directory = {
            "tenantId": self.tenant.tenant_id,
            "staff": list(self.staff),
            "pupils": list(self.pupils),
            "users": users,
            "groups": {
                g["mail"]: [m for m in self.tenant.transitive_members(gid) if m in self.tenant.users]
                for gid, g in self.tenant.groups.items()
                if g.get("mailEnabled")
            },
            "classTeams": [
                {
                    "id": c["id"],
                    "displayName": c["name"],
                    "generalChannelId": c["general"],
                    "channelIds": [ch["id"] for ch in c["channels"]],
                    "members": [m for m in self.tenant.group_members[c["id"]] if m in self.tenant.users],
                }
                for c in self.class_teams
            ],
            "consent": consented,
        }

    # ------------------------------------------------------------------ Graph payload builders
    def _upn(self, uid: str) -> str:
        return str(self.tenant.users[uid]["userPrincipalName"])

    def _name(self, uid: str) -> str:
        return str(self.tenant.users[uid]["displayName"])

    def _join_url(self, thread: str, message_id: str, organizer: str) -> str:
        context = json.dumps({"Tid": self.tenant.tenant_id, "Oid": organizer}, separators=(",", ":"))
        return f"https://teams.microsoft.com/l/meetup-join/{teams_quote(thread)}/{message_id}?context={teams_quote(context)}"

    def _meeting(
        self,
        organizer: str,
        subject: str,
        start: datetime,
        end: datetime,
        *,
        channel: str | None,
        settings: JSON,
        attendees: list[tuple[str, str]] = (),  # type: ignore[assignment]
        meeting_type: str = "scheduled",
    ) -> JSON:
        if channel:
            thread, self.message_ids = channel, self.message_ids + 1
            message_id = str(self.message_ids)
        else:
            thread, message_id = f"19:meeting_{self.ids.b64(36).replace('+', 'A').replace('/', 'B')}@thread.v2", "0"
        raw_id = f"1*{organizer}*0*{message_id}*{thread}"
        meeting_id = base64.b64encode(raw_id.encode()).decode()
        join = self._join_url(thread, message_id, organizer)
        created = start - timedelta(days=3, minutes=self.rng.randint(0, 600))
        passcode = self.ids.b64(4)[:6]
        meeting: JSON = {
            "id": meeting_id,
            "creationDateTime": graph_time(created),
            "startDateTime": graph_time(start),
            "endDateTime": graph_time(end),
            "expiryDateTime": graph_time(end + timedelta(days=61)),
            "subject": subject,
            "meetingType": meeting_type,
            "joinWebUrl": join,
            "meetingOptionsWebUrl": (
                f"https://teams.microsoft.com/meetingOptions/?organizerId={organizer}&tenantId={self.tenant.tenant_id}"
                f"&threadId={thread.replace(':', '_', 1)}&messageId={message_id}&language=en-GB"
            ),
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
                "joinMeetingId": str(self.rng.randint(10**12, 10**13 - 1)),
                "passcode": passcode,
            },
            "joinInformation": {
                "content": "data:text/html,"
                + quote(f'<p>Microsoft Teams meeting</p><p><a href="{join}">Join the meeting now</a></p>'),
                "contentType": "html",
            },
            "chatInfo": {"threadId": thread, "messageId": message_id, "replyChainMessageId": None},
            "participants": {
                "organizer": self._participant(organizer, "presenter"),
                "attendees": [self._participant(uid, role) for uid, role in attendees],
            },
            "allowAttendeeToEnableMic": False,
            "allowMeetingChat": "disabled",
            "allowedPresenters": "organizer",
            "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
            "recordAutomatically": False,
            "allowRecording": False,
            "allowTranscription": False,
        }
        meeting.update(settings)
        self.tenant.online_meetings.setdefault(organizer, []).append(meeting)
        return meeting

    def _participant(self, uid: str, role: str) -> JSON:
        return {
            "upn": self._upn(uid),
            "role": role,
            "identity": {
                "application": None,
                "device": None,
                "user": {"id": uid, "displayName": None, "tenantId": self.tenant.tenant_id, "identityProvider": "AAD"},
            },
        }

    def _event(
        self,
        mailbox: str,
        organizer: str,
        subject: str,
        start: datetime,
        end: datetime,
        attendees: list[tuple[str, str]],
        *,
        meeting: JSON | None,
        body_extra: str = "",
        event_type: str = "singleInstance",
        series_master: str | None = None,
        recurrence: JSON | None = None,
        ical: str | None = None,
    ) -> JSON:
        eid = "AAMkAG" + self.ids.b64(48).replace("/", "_").replace("+", "-") + "AAA="
        ical = ical or ("040000008200E00074C5B7101A82E008" + self.ids.hex(56).upper())
        created = start - timedelta(days=3, minutes=self.rng.randint(0, 600))
        join = meeting["joinWebUrl"] if meeting else None
        body_html = (
            f"<html><body><div>{subject}. Please join from a quiet space.</div>{body_extra}"
            + (f'<div><a href="{join}">Join the meeting now</a></div>' if join else "")
            + "</body></html>"
        )
        organiser_user = self.tenant.users[organizer]
        event: JSON = {
            "@odata.etag": f'W/"{self.ids.b64(18)}"',
            "id": eid,
            "createdDateTime": graph_time(created),
            "lastModifiedDateTime": graph_time(created + timedelta(seconds=24)),
            "changeKey": self.ids.b64(18),
            "categories": [],
            "transactionId": self.ids.uuid() if mailbox == organizer else None,
            "originalStartTimeZone": "GMT Standard Time",
            "originalEndTimeZone": "GMT Standard Time",
            "iCalUId": ical,
            "uid": ical,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": subject,
            "bodyPreview": f"{subject}. Please join from a quiet space."
            + (" " + _strip_tags(body_extra) if body_extra else ""),
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": False,
            "isOrganizer": mailbox == organizer,
            "responseRequested": True,
            "seriesMasterId": series_master,
            "showAs": "busy",
            "type": event_type,
            "webLink": f"https://outlook.office365.com/owa/?itemid={quote(eid, safe='')}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": meeting is not None,
            "onlineMeetingProvider": "teamsForBusiness" if meeting else "unknown",
            "allowNewTimeProposals": True,
            "occurrenceId": f"OID.{series_master}.{start.date().isoformat()}" if series_master else None,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {
                "response": "organizer" if mailbox == organizer else "accepted",
                "time": "0001-01-01T00:00:00Z" if mailbox == organizer else graph_time(created + timedelta(hours=2)),
            },
            "body": {"contentType": "html", "content": body_html},
            "start": event_time(start),
            "end": event_time(end),
            "location": _location(meeting is not None),
            "locations": [_location(True)] if meeting else [],
            "recurrence": recurrence,
            "attendees": [
                {
                    "type": "required",
                    "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": name, "address": address},
                }
                for name, address in attendees
            ],
            "organizer": {
                "emailAddress": {"name": organiser_user["displayName"], "address": organiser_user["userPrincipalName"]}
            },
            "onlineMeeting": {"joinUrl": join} if join else None,
        }
        self.tenant.events.setdefault(mailbox, []).append(event)
        return event

    def _endpoint(self, uid: str | None, name: str, tenant_id: str, upn: str, platform: str = "windows") -> JSON:
        return {
            "@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
            "name": f"DEVICE-{self.ids.hex(6).upper()}",
            "cpuName": None,
            "cpuCoresCount": 4,
            "cpuProcessorSpeedInMhz": 2400,
            "userAgent": {
                "@odata.type": "#microsoft.graph.callRecords.clientUserAgent",
                "headerValue": f"Mozilla/5.0 Teams/{self._client_build}.1307.2669.7070",
                "platform": platform,
                "productFamily": "teams",
                "azureADAppId": None,
                "communicationServiceId": None,
            },
            "feedback": None,
            "associatedIdentity": {"id": uid, "displayName": name, "tenantId": tenant_id, "userPrincipalName": upn},
        }

    _SERVICE: ClassVar[JSON] = {
        "@odata.type": "#microsoft.graph.callRecords.serviceEndpoint",
        "userAgent": {
            "@odata.type": "#microsoft.graph.callRecords.serviceUserAgent",
            "headerValue": None,
            "role": "skypeForBusinessAudioVideoMcu",
        },
    }

    def _streams(self) -> list[JSON]:
        self.streams += 2
        quality = {"averageJitter": "PT0.008S", "averagePacketLossRate": 0.0012, "averageRoundTripTime": "PT0.042S"}
        return [
            {"streamId": str(self.streams - 1), "streamDirection": "callerToCallee", **quality},
            {"streamId": str(self.streams), "streamDirection": "calleeToCaller", **quality},
        ]

    def _session(
        self,
        who: tuple[str | None, str, str, str],
        start: datetime,
        end: datetime,
        *,
        share: bool = False,
        callee: JSON | None = None,
    ) -> JSON:
        sid = self.ids.uuid()
        caller = self._endpoint(*who)
        media: list[JSON] = [{"label": "main-audio", "streams": self._streams()}]
        modalities = ["audio", "video"]
        if share:
            modalities.append("screenSharing")
            media.append(
                {
                    "label": "applicationsharing-video",
                    "streams": [{"streamId": str(self.streams + 1), "streamDirection": "callerToCallee"}],
                }
            )
            self.streams += 1
        callee = callee or json.loads(json.dumps(self._SERVICE))
        return {
            "modalities": modalities,
            "startDateTime": graph_time(start),
            "endDateTime": graph_time(end),
            "id": sid,
            "isTest": False,
            "failureInfo": None,
            "caller": caller,
            "callee": callee,
            "segments": [
                {
                    "startDateTime": graph_time(start),
                    "endDateTime": graph_time(end),
                    "id": sid,
                    "failureInfo": None,
                    "caller": json.loads(json.dumps(caller)),
                    "callee": json.loads(json.dumps(callee)),
                    "media": media,
                }
            ],
        }

    def _who(self, uid: str) -> tuple[str, str, str, str]:
        return uid, self._name(uid), self.tenant.tenant_id, self._upn(uid)

    def _call_record(
        self,
        organizer: str,
        join: str | None,
        sessions: list[JSON],
        call_type: str = "groupCall",
        lobby: list[str] | None = None,
    ) -> JSON:
        rid = self.ids.uuid()
        starts = [s["startDateTime"] for s in sessions]
        ends = [s["endDateTime"] for s in sessions]
        people: dict[str, JSON] = {}
        for session in sessions:
            for end_point in (session["caller"], session["callee"]):
                ident = end_point.get("associatedIdentity")
                if ident and ident["id"] not in people:
                    people[ident["id"]] = {
                        "id": ident["id"],
                        "identity": {
                            "user": {
                                "id": ident["id"],
                                "displayName": ident["displayName"],
                                "tenantId": ident["tenantId"],
                            }
                        },
                        "administrativeUnitInfos": [],
                    }
        modalities = sorted(
            {m for s in sessions for m in s["modalities"]}, key=["audio", "video", "screenSharing"].index
        )
        record: JSON = {
            "@odata.type": "#microsoft.graph.callRecords.callRecord",
            "version": 2,
            "type": call_type,
            "modalities": modalities,
            "lastModifiedDateTime": graph_time(max(_dt(e) for e in ends) + timedelta(minutes=52)),
            "startDateTime": min(starts, key=_dt),
            "endDateTime": max(ends, key=_dt),
            "id": rid,
        }
        if join:
            record["joinWebUrl"] = join
        record["organizer_v2"] = {
            "id": organizer,
            "identity": {
                "user": {"id": organizer, "displayName": self._name(organizer), "tenantId": self.tenant.tenant_id}
            },
            "administrativeUnitInfos": [],
        }
        record["participants_v2"] = list(people.values())
        record["sessions"] = sessions
        self.tenant.add_call_record(record, lobby)
        return record

    def _attendance(self, sessions: list[JSON], organizer: str, lobby: set[str]) -> JSON:
        records: dict[str, JSON] = {}
        for session in sessions:
            if session["id"] in lobby:
                continue
            ident = session["caller"]["associatedIdentity"]
            start, end = _dt(session["startDateTime"]), _dt(session["endDateTime"])
            seconds = int((end - start).total_seconds())
            rec = records.setdefault(
                ident["id"],
                {
                    "id": ident["id"],
                    "emailAddress": ident["userPrincipalName"],
                    "totalAttendanceInSeconds": 0,
                    "role": "Organizer" if ident["id"] == organizer else "Attendee",
                    "identity": {
                        "@odata.type": "#microsoft.graph.communicationsUserIdentity",
                        "id": ident["id"],
                        "displayName": ident["displayName"],
                        "tenantId": ident["tenantId"],
                    },
                    "attendanceIntervals": [],
                },
            )
            rec["totalAttendanceInSeconds"] += seconds
            rec["attendanceIntervals"].append(
                {"joinDateTime": graph_time(start), "leaveDateTime": graph_time(end), "durationInSeconds": seconds}
            )
        starts = [_dt(s["startDateTime"]) for s in sessions]
        ends = [_dt(s["endDateTime"]) for s in sessions]
        return {
            "id": self.ids.uuid(),
            "totalParticipantCount": len(records),
            "meetingStartDateTime": graph_time(min(starts)),
            "meetingEndDateTime": graph_time(max(ends)),
            "attendanceRecords": list(records.values()),
        }

    def _artefact(self, kind: str, meeting: JSON, organizer: str, call: JSON, start: datetime, end: datetime) -> JSON:
        aid = base64.b64encode(self.ids.hex(40).encode()).decode()
        meeting_id = meeting["id"]
        item: JSON = {
            "@odata.type": "#microsoft.graph.callTranscript"
            if kind == "transcripts"
            else "#microsoft.graph.callRecording",
            "id": aid,
            "meetingId": meeting_id,
            "callId": call["id"],
            "contentCorrelationId": self.ids.uuid(),
            "createdDateTime": graph_time(start),
            "endDateTime": graph_time(end),
            "meetingOrganizer": {
                "application": None,
                "device": None,
                "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                    "id": organizer,
                    "displayName": None,
                    "userIdentityType": "aadUser",
                    "tenantId": self.tenant.tenant_id,
                },
            },
        }
        url = f"https://graph.microsoft.com/v1.0/users/{organizer}/onlineMeetings/{meeting_id}/{kind}/{aid}/content"
        item["transcriptContentUrl" if kind == "transcripts" else "recordingContentUrl"] = url
        store = self.tenant.transcripts if kind == "transcripts" else self.tenant.recordings
        store.setdefault(meeting_id, []).append(item)
        return item

    # ------------------------------------------------------------------ occurrences
    def _occurrence(self, kind: str, planted: list[str], **fields: Any) -> JSON:
        meeting = fields.pop("meeting", None)
        event = fields.pop("event", None)
        records = fields.pop("records", [])
        start: datetime = fields.pop("start")
        end: datetime = fields.pop("end")
        if meeting:
            key = f"{meeting['chatInfo']['threadId']}|{meeting['chatInfo']['messageId']}|{graph_time(start)}"
        elif event:
            key = f"{event['iCalUId']}|{graph_time(start)}"
        else:
            key = f"callRecord|{records[0]['id']}"
        occ = {
            "key": key,
            "kind": kind,
            "planted": sorted(set(planted)),
            "subject": (event or meeting or {}).get("subject"),
            "start": graph_time(start),
            "end": graph_time(end),
            "mailbox": fields.pop("mailbox", None),
            "eventId": event["id"] if event else None,
            "meetingId": meeting["id"] if meeting else None,
            "organizerId": fields.pop("organizer", None),
            "channelMeeting": bool(meeting) and self.tenant.is_channel_meeting(meeting),
            "callRecordIds": [r["id"] for r in records],
            "attendanceReportIds": fields.pop("reports", []),
            "recordingIds": fields.pop("recordings", []),
            "transcriptIds": fields.pop("transcripts", []),
        }
        self.tenant.occurrences.append(occ)
        return occ

    def _lesson_sessions(
        self,
        teacher: str,
        pupils: list[str],
        start: datetime,
        end: datetime,
        *,
        teacher_leaves: datetime | None = None,
        sharer: str | None = None,
        extra: list[tuple[str | None, str, str, str]] = (),  # type: ignore[assignment]
        early_pupil: str | None = None,
    ) -> tuple[list[JSON], list[str]]:
        t_join = start - timedelta(minutes=2)
        sessions = [self._session(self._who(teacher), t_join, teacher_leaves or end + timedelta(minutes=1))]
        lobby: list[str] = []
        for pupil in pupils:
            join = start + timedelta(seconds=self.rng.randint(0, 240))
            leave = end - timedelta(seconds=self.rng.randint(0, 60))
            sessions.append(self._session(self._who(pupil), join, leave, share=pupil == sharer))
        if early_pupil:
            # Waiting in the lobby before the teacher arrived (served only with lobby_sessions=True).
            lobby_session = self._session(self._who(early_pupil), t_join - timedelta(minutes=4), t_join)
            sessions.append(lobby_session)
            lobby.append(lobby_session["id"])
        for who in extra:
            sessions.append(self._session(who, start + timedelta(minutes=5), start + timedelta(minutes=12)))
        return sessions, lobby

    def _channel_lesson(
        self,
        team: JSON,
        day: date,
        slot: tuple[int, int],
        subject: str,
        *,
        planted: list[str] | None = None,
        settings: JSON | None = None,
        teacher_leaves_after: int | None = None,
        sharer: str | None = None,
        extra: list[tuple[str | None, str, str, str]] = (),  # type: ignore[assignment]
        record: bool = False,
        restart: bool = False,
        early_pupil: str | None = None,
        attend: list[str] | None = None,
    ) -> JSON:
        start = datetime(day.year, day.month, day.day, *slot, tzinfo=UTC)
        end = start + timedelta(minutes=45)
        teacher = team["teacher"]
        channel = team["general"]
        title = f"{team['name']} {subject}"
        meeting = self._meeting(teacher, title, start, end, channel=channel, settings=settings or {})
        event = self._event(teacher, teacher, title, start, end, [(team["name"], team["mail"])], meeting=meeting)
        present = (
            attend
            if attend is not None
            else [p for p in team["pupils"] if p not in self.no_consent and self.rng.random() < 0.85]
        )
        leaves = start + timedelta(minutes=teacher_leaves_after) if teacher_leaves_after else None
        records, reports = [], []
        # A restarted lesson: everyone drops at +20 min and rejoins a minute later, giving two call records.
        windows = (
            [(start, start + timedelta(minutes=20)), (start + timedelta(minutes=21), end)]
            if restart
            else [(start, end)]
        )
        for w_start, w_end in windows:
            sessions, lobby = self._lesson_sessions(
                teacher,
                present,
                w_start,
                w_end,
                teacher_leaves=leaves,
                sharer=sharer,
                extra=extra,
                early_pupil=early_pupil,
            )
            records.append(self._call_record(teacher, meeting["joinWebUrl"], sessions, lobby=lobby))
            report = self._attendance(sessions, teacher, set(lobby))
            self.tenant.attendance_reports.setdefault(meeting["id"], []).append(report)
            reports.append(report["id"])
        recordings = (
            [self._artefact("recordings", meeting, teacher, records[0], start + timedelta(minutes=3), end)]
            if record
            else []
        )
        return self._occurrence(
            "channel-lesson",
            planted or [],
            meeting=meeting,
            event=event,
            records=records,
            start=start,
            end=end,
            mailbox=teacher,
            organizer=teacher,
            reports=reports,
            recordings=[r["id"] for r in recordings],
        )

    def _private_meeting(
        self,
        organizer: str,
        pupils: list[str],
        day: date,
        slot: tuple[int, int],
        subject: str,
        *,
        planted: list[str],
        settings: JSON | None = None,
        record: bool = False,
        kind: str = "private-meeting",
        minutes: int = 30,
        invite_group: JSON | None = None,
    ) -> JSON:
        start = datetime(day.year, day.month, day.day, *slot, tzinfo=UTC)
        end = start + timedelta(minutes=minutes)
        meeting = self._meeting(
            organizer,
            subject,
            start,
            end,
            channel=None,
            settings=settings or {},
            attendees=[(p, "attendee") for p in pupils],
        )
        invitees = [(self._name(p), self._upn(p)) for p in pupils]
        if invite_group:
            invitees.append((invite_group["name"], invite_group["mail"]))
        event = self._event(organizer, organizer, subject, start, end, invitees, meeting=meeting)
        for pupil in pupils:  # each invitee's mailbox holds its own copy
            self._event(pupil, organizer, subject, start, end, invitees, meeting=meeting, ical=event["iCalUId"])
        sessions, _ = self._lesson_sessions(organizer, pupils, start, end)
        record_ = self._call_record(organizer, meeting["joinWebUrl"], sessions)
        report = self._attendance(sessions, organizer, set())
        self.tenant.attendance_reports.setdefault(meeting["id"], []).append(report)
        recs, trans = [], []
        if record:
            recs = [self._artefact("recordings", meeting, organizer, record_, start + timedelta(minutes=2), end)]
            trans = [self._artefact("transcripts", meeting, organizer, record_, start + timedelta(minutes=2), end)]
        return self._occurrence(
            kind,
            planted if kind == "no-access-policy" else ["not-in-class-team-general", *planted],
            meeting=meeting,
            event=event,
            records=[record_],
            start=start,
            end=end,
            mailbox=organizer,
            organizer=organizer,
            reports=[report["id"]],
            recordings=[r["id"] for r in recs],
            transcripts=[t["id"] for t in trans],
        )

    def _recurring_group(self, organizer: str, pupils: list[str], slot: tuple[int, int], subject: str) -> None:
        """A daily series Monday–Friday: one series master, five occurrences, one online meeting."""
        days = [self.week_start + timedelta(days=i) for i in range(5)]
        first = datetime(days[0].year, days[0].month, days[0].day, *slot, tzinfo=UTC)
        meeting = self._meeting(
            organizer,
            subject,
            first,
            first + timedelta(minutes=20),
            channel=None,
            settings={},
            attendees=[(p, "attendee") for p in pupils],
            meeting_type="recurring",
        )
        invitees = [(self._name(p), self._upn(p)) for p in pupils]
        recurrence = {
            "pattern": {
                "type": "daily",
                "interval": 1,
                "month": 0,
                "dayOfMonth": 0,
                "daysOfWeek": [],
                "firstDayOfWeek": "sunday",
                "index": "first",
            },
            "range": {
                "type": "endDate",
                "startDate": days[0].isoformat(),
                "endDate": days[-1].isoformat(),
                "recurrenceTimeZone": "GMT Standard Time",
                "numberOfOccurrences": 0,
            },
        }
        master = self._event(
            organizer,
            organizer,
            subject,
            first,
            first + timedelta(minutes=20),
            invitees,
            meeting=meeting,
            event_type="seriesMaster",
            recurrence=recurrence,
        )
        for day in days:
            start = datetime(day.year, day.month, day.day, *slot, tzinfo=UTC)
            end = start + timedelta(minutes=20)
            occurrence = self._event(
                organizer,
                organizer,
                subject,
                start,
                end,
                invitees,
                meeting=meeting,
                event_type="occurrence",
                series_master=master["id"],
                ical=master["iCalUId"],
            )
            sessions, _ = self._lesson_sessions(organizer, pupils, start, end)
            record = self._call_record(organizer, meeting["joinWebUrl"], sessions)
            report = self._attendance(sessions, organizer, set())
            self.tenant.attendance_reports.setdefault(meeting["id"], []).append(report)
            self._occurrence(
                "recurring-group",
                ["not-in-class-team-general"],
                meeting=meeting,
                event=occurrence,
                records=[record],
                start=start,
                end=end,
                mailbox=organizer,
                organizer=organizer,
                reports=[report["id"]],
            )

    # ------------------------------------------------------------------ the week
    def build_week(self) -> None:
        days = [self.week_start + timedelta(days=i) for i in range(5)]
        by_school: dict[int, list[JSON]] = {}
        for team in self.class_teams:
            by_school.setdefault(team["school"], []).append(team)
        for school, teams in by_school.items():
            self._school_week(school, teams, days)

    def _school_week(self, school: int, teams: list[JSON], days: list[date]) -> None:
        rng = self.rng
        teachers, support = teams[0]["teachers"], teams[0]["support"]
        # Planted channel-lesson violations: (team index, day index, slot index) -> what.
        plants: dict[tuple[int, int, int], str] = {
            (2, 0, 1): "teacher-left-early",
            (5, 1, 0): "pupil-shares-screen",
            (9, 2, 1): "uninvited-guests",
            (11, 3, 0): "recorded-channel-lesson",
            (4, 3, 1): "hidden-lobby-scope",
            (0, 4, 0): "no-consent-present",
            (7, 4, 1): "restarted",
            (3, 0, 0): "early-pupil",
            (6, 1, 1): "coorganizer",
        }
        for ti, team in enumerate(teams):
            for di, day in enumerate(days):
                slots = rng.sample(range(len(SLOTS)), self.lessons_per_class_day)
                for si in range(self.lessons_per_class_day):
                    slot = SLOTS[sorted(slots)[si]]
                    subject = SUBJECTS[(ti + di * 3 + si) % len(SUBJECTS)]
                    what = plants.get((ti, di, si))
                    if what == "teacher-left-early":
                        self._channel_lesson(
                            team, day, slot, subject, teacher_leaves_after=25, planted=["pupils-unsupervised"]
                        )
                    elif what == "pupil-shares-screen":
                        sharer = team["pupils"][3]
                        attend = [p for p in team["pupils"][:20] if p not in self.no_consent]
                        self._channel_lesson(
                            team, day, slot, subject, sharer=sharer, attend=attend, planted=["pupil-screen-shared"]
                        )
                    elif what == "uninvited-guests":
                        other_class_pupil = teams[(ti + 1) % len(teams)]["pupils"][0]
                        parent = (self.ids.uuid(), "Tom Clarke", OTHER_TENANT, "tom.clarke1984@outlook.com")
                        self._channel_lesson(
                            team,
                            day,
                            slot,
                            subject,
                            extra=[parent, self._who(other_class_pupil)],
                            planted=["uninvited-attendee"],
                        )
                    elif what == "recorded-channel-lesson":
                        self._channel_lesson(
                            team,
                            day,
                            slot,
                            subject,
                            record=True,
                            settings={"allowRecording": True},
                            planted=["recording-allowed", "session-recorded"],
                        )
                    elif what == "hidden-lobby-scope":
                        self._channel_lesson(
                            team,
                            day,
                            slot,
                            subject,
                            settings={
                                "lobbyBypassSettings": {
                                    "scope": "organizationExcludingGuests",
                                    "isDialInBypassEnabled": False,
                                }
                            },
                            planted=["lobby-bypass-too-broad"],
                        )
                    elif what == "no-consent-present":
                        attend = [p for p in team["pupils"] if p not in self.no_consent][:15] + self.no_consent[
                            school * 3 : school * 3 + 3
                        ]
                        self._channel_lesson(team, day, slot, subject, attend=attend, planted=["consent-missing"])
                    elif what == "restarted":
                        self._channel_lesson(team, day, slot, subject, restart=True)
                    elif what == "early-pupil":
                        early = next(p for p in team["pupils"] if p not in self.no_consent)
                        attend = [p for p in team["pupils"] if p not in self.no_consent]
                        self._channel_lesson(team, day, slot, subject, early_pupil=early, attend=attend)
                    elif what == "coorganizer":
                        self._channel_lesson(team, day, slot, subject)
                        meeting = self.tenant.online_meetings[team["teacher"]][-1]
                        meeting["participants"]["attendees"].append(self._participant(team["assistant"], "coorganizer"))
                    else:
                        self._channel_lesson(team, day, slot, subject)
        consenting = [p for p in teams[5]["pupils"] if p not in self.no_consent]
        senco = support[0]
        # Private calendar meetings.
        default_settings = {
            "allowedPresenters": "everyone",
            "allowMeetingChat": "enabled",
            "allowAttendeeToEnableMic": True,
            "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": True},
            "allowRecording": True,
            "allowTranscription": True,
        }
        default_rules = [
            "attendee-mic-allowed",
            "meeting-chat-enabled",
            "lobby-bypass-too-broad",
            "attendees-can-present",
            "recording-allowed",
        ]
        self._private_meeting(
            teachers[3],
            consenting[:6],
            days[0],
            (15, 30),
            "Booster maths group",
            planted=default_rules,
            settings=default_settings,
        )
        self._private_meeting(
            teachers[8],
            consenting[6:10],
            days[2],
            (15, 30),
            "Spelling catch-up",
            planted=default_rules,
            settings=default_settings,
        )
        self._private_meeting(
            teachers[4],
            consenting[10:14],
            days[1],
            (15, 30),
            "Science club",
            planted=["recording-allowed", "session-recorded"],
            settings={"allowRecording": True, "allowTranscription": True},
            record=True,
        )
        self._private_meeting(
            teachers[6],
            consenting[14:15],
            days[3],
            (15, 30),
            "1:1 reading",
            planted=["one-to-one-with-pupil"],
            kind="one-to-one",
            minutes=20,
        )
        self._private_meeting(
            senco,
            consenting[15:18],
            days[4],
            (13, 0),
            "Nurture group",
            planted=["evidence-unavailable"],
            kind="no-access-policy",
        )
        self.tenant.no_access_policy.add(senco)
        self._private_meeting(
            teachers[10], consenting[18:20], days[1], (15, 45), "Homework help", planted=[], invite_group=teams[5]
        )
        # Pupil-organised meeting: a pupil schedules a Teams meeting with classmates.
        pupil_org = consenting[0]
        start = datetime(days[2].year, days[2].month, days[2].day, 16, 30, tzinfo=UTC)
        self._private_meeting(
            pupil_org,
            consenting[1:4],
            days[2],
            (16, 30),
            "homework chat",
            kind="pupil-organised",
            planted=[
                "organiser-not-staff",
                "attendees-can-present",
                "meeting-chat-enabled",
                "attendee-mic-allowed",
                "lobby-bypass-too-broad",
                "recording-allowed",
            ],
            settings=default_settings,
        )
        # A daily recurring phonics intervention (series master + five occurrences).
        self._recurring_group(support[1], consenting[20:24], (8, 40), "Phonics intervention")
        # Peer-to-peer call teacher → pupil: no event, no online meeting.
        teacher, pupil = teachers[5], consenting[24]
        start = datetime(days[3].year, days[3].month, days[3].day, 15, 30, tzinfo=UTC) + timedelta(seconds=12)
        end = start + timedelta(minutes=4, seconds=28)
        callee = self._endpoint(*self._who(pupil))
        session = self._session(self._who(teacher), start, end, callee=callee)
        record = self._call_record(teacher, None, [session], call_type="peerToPeer")
        self._occurrence(
            "peer-to-peer", ["unscheduled-call-with-pupil"], records=[record], start=start, end=end, organizer=teacher
        )
        # Zoom link in an invitation: no Teams meeting, pupils invited.
        start = datetime(days[4].year, days[4].month, days[4].day, 14, 0, tzinfo=UTC)
        zoom_id = self.rng.randint(10**9, 10**10 - 1)
        zoom = f'<div>Join Zoom Meeting <a href="https://us02web.zoom.us/j/{zoom_id}?pwd={self.ids.hex(16)}">https://us02web.zoom.us/j/{zoom_id}</a></div>'
        pupils = consenting[25:28]
        event = self._event(
            teachers[12],
            teachers[12],
            "Year 5 author visit",
            start,
            start + timedelta(hours=1),
            [(self._name(p), self._upn(p)) for p in pupils],
            meeting=None,
            body_extra=zoom,
        )
        event["location"] = {
            "displayName": f"https://us02web.zoom.us/j/{zoom_id}",
            "locationType": "default",
            "uniqueId": f"https://us02web.zoom.us/j/{zoom_id}",
            "uniqueIdType": "private",
        }
        self._occurrence(
            "zoom-invite",
            ["unapproved-platform"],
            event=event,
            start=start,
            end=start + timedelta(hours=1),
            mailbox=teachers[12],
            organizer=teachers[12],
        )


def _location(teams: bool) -> JSON:
    if teams:
        return {
            "displayName": "Microsoft Teams Meeting",
            "locationType": "default",
            "uniqueId": "Microsoft Teams Meeting",
            "uniqueIdType": "private",
        }
    return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}


def _strip_tags(html: str) -> str:
    out, inside = "", False
    for ch in html:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out += ch
    return out


def _dt(value: str) -> datetime:
    from devtools.graphsim.tenant import parse_time

    return parse_time(value)


# ---------------------------------------------------------------------------------------------------- public API


def school_week(
    seed: int = 0,
    *,
    schools: int = 1,
    week_start: str | date = "2026-03-09",
    domain: str | None = None,
    lessons_per_class_day: int = 2,
) -> Tenant:
    """A tenant of ``schools`` primary schools and one school week (Monday ``week_start``) of meetings."""
    start = week_start if isinstance(week_start, date) else date.fromisoformat(week_start)
    if start.weekday() != 0:
        raise ValueError("week_start must be a Monday")
    name = domain or ("elmgrove.sch.uk" if schools == 1 else "oakfield-trust.org.uk")
    builder = SchoolWeek(seed, schools, start, name, lessons_per_class_day)
    builder.build_directory()
    builder.build_week()
    return builder.tenant


def primary_school(seed: int = 0, week_start: str | date = "2026-03-09") -> Tenant:
    """40 staff, 400 pupils, 14 class teams, ~150 meeting occurrences in one week (Mon–Fri)."""
    return school_week(seed, schools=1, week_start=week_start)


def trust(seed: int = 0, week_start: str | date = "2026-03-09") -> Tenant:
    """Ten primary schools in one tenant: 400 staff, 4,000 pupils, 140 class teams, ~1,500 occurrences."""
    return school_week(seed, schools=10, week_start=week_start)


def fingerprint(tenant: Tenant) -> str:
    """A short digest of the tenant file, to check determinism."""
    return hashlib.sha256(json.dumps(tenant.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a scenario tenant with a week of Teams lessons.")
    parser.add_argument("--school", choices=("primary", "trust"), default="primary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--week-start", default="2026-03-09", help="Monday of the week (YYYY-MM-DD)")
    parser.add_argument("--out", required=True, help="where to write the tenant JSON")
    args = parser.parse_args(argv)
    tenant = school_week(args.seed, schools=1 if args.school == "primary" else 10, week_start=args.week_start)
    tenant.save(args.out)
    print(
        f"{args.out}: {len(tenant.users)} users, {len(tenant.teams)} teams, {len(tenant.occurrences)} occurrences, "
        f"{len(tenant.call_records)} call records"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
