"""How stored tenant JSON is served: expansions, hidden enum members, switches. Shared by the server and by
``Tenant.expected_bundle`` so the ground truth is exactly what the simulator serves."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.graphsim.tenant import Tenant

JSON = dict[str, Any]

# Evolvable enum members that sit after the `unknownFutureValue` sentinel in the v1.0 metadata: Graph sends
# them only to callers that send `Prefer: include-unknown-enum-members` (docs/graph-facts.md §1). A test checks
# this table against msgraph-sdk's enum classes.
HIDDEN_LOBBY_SCOPES = frozenset({"invited", "organizationExcludingGuests"})
HIDDEN_ROLES = frozenset({"producer", "coorganizer"})

CHANNEL_RECORDINGS_ERROR = "Channel based meetings are currently not supported"
NO_ACCESS_POLICY_MESSAGE = "No Application Access Policy found for this app."
CHANNEL_REPORT_ERROR = "This method doesn't support channel meetings."
ATTENDANCE_REPORT_CAP = 50  # meetingattendancereport-list: "only returns up to 50 of the most recent reports"


def attendance_mode(value: bool | str) -> str:
    """``channel`` (documented: a channel meeting's list holds every meeting of the channel), ``meeting`` (only
    this meeting's reports; ``True``) or ``none`` (an empty list; ``False``)."""
    if value is True:
        return "meeting"
    if value is False:
        return "none"
    if value not in ("channel", "meeting", "none"):
        raise ValueError("channel_attendance: 'channel', 'meeting', 'none' (or True/False)")
    return str(value)


def reports_listed(tenant: Tenant, meeting: JSON, mode: str) -> list[JSON]:
    """What ``GET …/onlineMeetings/{id}/attendanceReports`` lists: the meeting's reports, or for a channel meeting
    (mode ``channel``) those of every meeting in that channel; the 50 most recent either way."""
    if tenant.is_channel_meeting(meeting):
        if mode == "none":
            return []
        if mode == "channel":
            thread = (meeting.get("chatInfo") or {}).get("threadId")
            reports = [
                r
                for meetings in tenant.online_meetings.values()
                for m in meetings
                if (m.get("chatInfo") or {}).get("threadId") == thread
                for r in tenant.attendance_reports.get(m["id"], [])
            ]
            return _most_recent(reports)
    return _most_recent(tenant.attendance_reports.get(meeting["id"], []))


def _most_recent(reports: list[JSON]) -> list[JSON]:
    ordered = sorted(reports, key=lambda r: str(r.get("meetingStartDateTime") or ""), reverse=True)
    return ordered[:ATTENDANCE_REPORT_CAP] if len(ordered) > ATTENDANCE_REPORT_CAP else list(reports)


def online_meeting_view(meeting: JSON, include_unknown_enum_members: bool) -> JSON:
    out = copy.deepcopy(meeting)
    if include_unknown_enum_members:
        return out
    lobby = out.get("lobbyBypassSettings")
    if isinstance(lobby, dict) and lobby.get("scope") in HIDDEN_LOBBY_SCOPES:
        lobby["scope"] = "unknownFutureValue"
    participants = out.get("participants") or {}
    people = [participants.get("organizer"), *list(participants.get("attendees") or [])]
    for person in people:
        if isinstance(person, dict) and person.get("role") in HIDDEN_ROLES:
            person["role"] = "unknownFutureValue"
    return out


def _hidden_session_ids(tenant: Tenant, record_id: str, lobby_sessions: bool) -> set[str]:
    return set() if lobby_sessions else set(tenant.lobby_sessions.get(record_id, []))


def sessions_view(tenant: Tenant, record: JSON, *, lobby_sessions: bool, segments: bool) -> list[JSON]:
    hidden = _hidden_session_ids(tenant, record["id"], lobby_sessions)
    out = []
    for session in record.get("sessions", []):
        if session["id"] in hidden:
            continue
        item = copy.deepcopy(session)
        if not segments:
            item.pop("segments", None)
        out.append(item)
    return out


def participants_view(tenant: Tenant, record: JSON, *, lobby_sessions: bool) -> list[JSON]:
    """participants_v2; someone seen only in hidden lobby sessions is not listed either."""
    hidden = _hidden_session_ids(tenant, record["id"], lobby_sessions)
    if not hidden:
        return copy.deepcopy(record.get("participants_v2", []))
    seen: set[str] = set()
    only_lobby: set[str] = set()
    for session in record.get("sessions", []):
        who = ((session.get("caller") or {}).get("associatedIdentity") or {}).get("id")
        if not who:
            continue
        if session["id"] in hidden:
            only_lobby.add(who)
        else:
            seen.add(who)
    gone = only_lobby - seen
    return [
        copy.deepcopy(p)
        for p in record.get("participants_v2", [])
        if ((p.get("identity") or {}).get("user") or {}).get("id") not in gone
    ]


def call_record_view(tenant: Tenant, record: JSON) -> JSON:
    """The record as GET returns it without $expand: no sessions, no participants_v2; organizer_v2 kept."""
    return {k: copy.deepcopy(v) for k, v in record.items() if k not in ("sessions", "participants_v2")}


def attendance_report_view(report: JSON, with_records: bool) -> JSON:
    out = copy.deepcopy(report)
    if not with_records:
        out.pop("attendanceRecords", None)
    return out


def expected_bundle(
    tenant: Tenant,
    occurrence: JSON,
    *,
    lobby_sessions: bool,
    channel_recordings: bool,
    channel_attendance: bool | str,
) -> JSON:
    """See ``Tenant.expected_bundle``. Keys are present whenever Graph could be asked and answered (lists may be
    empty); what Graph refuses becomes an ``unavailable`` entry (compare ``kind`` and ``unsupported``, not the
    wording of ``reason``)."""
    bundle: JSON = {"directory": copy.deepcopy(tenant.directory)}
    unavailable: list[JSON] = []
    if occurrence.get("eventId"):
        event = tenant.event(occurrence["mailbox"], occurrence["eventId"])
        if event is not None:
            bundle["event"] = copy.deepcopy(event)
    meeting_id = occurrence.get("meetingId")
    found = tenant.meeting(meeting_id) if meeting_id else None
    if found is not None:
        organizer_id, meeting = found
        if organizer_id in tenant.no_access_policy:
            for kind in ("onlineMeeting", "attendanceReports", "recordings", "transcripts"):
                unavailable.append({"kind": kind, "reason": f"403 {NO_ACCESS_POLICY_MESSAGE}"})
        else:
            bundle["onlineMeeting"] = online_meeting_view(meeting, include_unknown_enum_members=True)
            channel = tenant.is_channel_meeting(meeting)
            wanted_reports = set(occurrence.get("attendanceReportIds", []))
            bundle["attendanceReports"] = [
                attendance_report_view(r, with_records=True)
                for r in reports_listed(tenant, meeting, attendance_mode(channel_attendance))
                if r["id"] in wanted_reports
            ]
            for kind, store, wanted_key in (
                ("recordings", tenant.recordings, "recordingIds"),
                ("transcripts", tenant.transcripts, "transcriptIds"),
            ):
                if channel and not channel_recordings:
                    unavailable.append({"kind": kind, "reason": f"400 {CHANNEL_RECORDINGS_ERROR}", "unsupported": True})
                    continue
                wanted = set(occurrence.get(wanted_key, []))
                bundle[kind] = [copy.deepcopy(x) for x in store.get(str(meeting_id), []) if x["id"] in wanted]
    records = [tenant.call_records[rid] for rid in occurrence.get("callRecordIds", []) if rid in tenant.call_records]
    full = []
    for record in records:
        item = call_record_view(tenant, record)
        item["participants_v2"] = participants_view(tenant, record, lobby_sessions=lobby_sessions)
        item["sessions"] = sessions_view(tenant, record, lobby_sessions=lobby_sessions, segments=True)
        full.append(item)
    if full:
        bundle["callRecord"] = full[0]
        if len(full) > 1:
            bundle["callRecords"] = full[1:]
    if unavailable:
        bundle["unavailable"] = unavailable
    return bundle
