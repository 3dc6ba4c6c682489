"""A small compliant lesson, in Graph's shapes, that each rule's documented example changes in one place.

Year 5 Maths on 10 March 2026 in the General channel of the Year 5 class team: Sarah Patel (staff) teaches
Amelia Clarke and Oliver Bennett (pupils, both with recorded consent). Strict meeting options, the teacher
present throughout. ``docs/rules/<rule-id>.md`` shows what an example changes and the finding the rule gives.
"""

from __future__ import annotations

import copy
from typing import Any

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
TEACHER = "e995966a-ce95-4262-9671-04eb4ce9f070"
AMELIA = "4b5e50c3-b3a6-4aa7-b54d-74965cd16755"
OLIVER = "9ab9df51-3ec9-489b-a120-ae8b73526283"
NOAH = "77e7f0ce-44cb-4689-afd9-4ce7df980741"
GENERAL = "19:8d2f6c1a4b7e4e0f9c3a5b1d7e9f2c4a@thread.tacv2"
JOIN = ("https://teams.microsoft.com/l/meetup-join/19%3a8d2f6c1a4b7e4e0f9c3a5b1d7e9f2c4a%40thread.tacv2/"
        "1773151559742")
CLIENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/26048.1307.2669.7070"
NAMES = {TEACHER: ("Sarah Patel", "s.patel"), AMELIA: ("Amelia Clarke", "amelia.clarke"),
         OLIVER: ("Oliver Bennett", "oliver.bennett"), NOAH: ("Noah Okoro", "noah.okoro")}


def endpoint(user: str, agent: str = CLIENT) -> dict[str, Any]:
    name, local = NAMES[user]
    return {"@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
            "userAgent": {"@odata.type": "#microsoft.graph.callRecords.clientUserAgent", "headerValue": agent,
                          "platform": "windows", "productFamily": "teams"},
            "associatedIdentity": {"id": user, "displayName": name, "tenantId": TENANT,
                                   "userPrincipalName": f"{local}@elmgrove.sch.uk"}}


SERVICE = {"@odata.type": "#microsoft.graph.callRecords.serviceEndpoint",
           "userAgent": {"@odata.type": "#microsoft.graph.callRecords.serviceUserAgent", "headerValue": None,
                         "role": "skypeForBusinessAudioVideoMcu"}}


def session(user: str, start: str, end: str, *, agent: str = CLIENT,
            media: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A participant's session with one segment, times on the lesson's day (``HH:MM:SS``)."""
    begin, finish = f"2026-03-10T{start}Z", f"2026-03-10T{end}Z"
    segment: dict[str, Any] = {"id": f"{user[:8]}-{start}", "startDateTime": begin, "endDateTime": finish,
                               "caller": endpoint(user, agent), "callee": SERVICE}
    if media is not None:
        segment["media"] = media
    return {"id": f"{user[:8]}-{start}", "modalities": ["audio", "video"], "startDateTime": begin,
            "endDateTime": finish, "caller": endpoint(user, agent), "callee": SERVICE, "segments": [segment]}


def lesson() -> dict[str, Any]:
    users = {uid: {"displayName": name, "userPrincipalName": f"{local}@elmgrove.sch.uk",
                   "mail": f"{local}@elmgrove.sch.uk", "userType": "Member"} for uid, (name, local) in NAMES.items()}
    return copy.deepcopy({
        "directory": {"tenantId": TENANT, "staff": [TEACHER], "pupils": [AMELIA, OLIVER, NOAH], "users": users,
                      "groups": {"year5@elmgrove.sch.uk": [AMELIA, OLIVER]},
                      "classTeams": [{"id": "ea57ab51-28d9-45e1-a59b-0ae84be0632e", "displayName": "Year 5",
                                      "generalChannelId": GENERAL, "members": [TEACHER, AMELIA, OLIVER]}],
                      "consent": [AMELIA, OLIVER]},
        "event": {"subject": "Year 5 Maths", "body": {"contentType": "html", "content": "<p>Year 5 live lesson.</p>"},
                  "start": {"dateTime": "2026-03-10T09:00:00.0000000", "timeZone": "UTC"},
                  "end": {"dateTime": "2026-03-10T09:45:00.0000000", "timeZone": "UTC"},
                  "attendees": [{"type": "required", "emailAddress": {"name": "Year 5",
                                                                      "address": "year5@elmgrove.sch.uk"}}],
                  "organizer": {"emailAddress": {"name": "Sarah Patel", "address": "s.patel@elmgrove.sch.uk"}},
                  "onlineMeeting": {"joinUrl": JOIN}},
        "onlineMeeting": {"subject": "Year 5 Maths", "meetingType": "scheduled", "joinWebUrl": JOIN,
                          "chatInfo": {"threadId": GENERAL},
                          "participants": {"organizer": {"upn": "s.patel@elmgrove.sch.uk", "role": "presenter",
                                                         "identity": {"user": {"id": TEACHER}}}, "attendees": []},
                          "allowAttendeeToEnableMic": False, "allowMeetingChat": "disabled",
                          "allowedPresenters": "organizer",
                          "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                          "recordAutomatically": False, "allowRecording": False, "allowTranscription": False},
        "callRecord": {"id": "e523d2ed-2966-4b6b-925b-754a88034cc5", "type": "groupCall", "joinWebUrl": JOIN,
                       "startDateTime": "2026-03-10T08:58:02Z", "endDateTime": "2026-03-10T09:46:10Z",
                       "sessions": [session(TEACHER, "08:58:02", "09:46:10"),
                                    session(AMELIA, "09:00:05", "09:45:00"),
                                    session(OLIVER, "09:00:41", "09:45:00")]},
        "recordings": [], "transcripts": [],
    })
