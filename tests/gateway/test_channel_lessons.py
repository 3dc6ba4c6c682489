"""A channel's lessons stay apart: attendance by each report's own meeting window, call records by the meeting's
own identity (thread and message id) and time, and organisers found by any of their addresses."""

from __future__ import annotations

import base64
import copy
from datetime import timedelta
from typing import Any

import pytest

from devtools.graphsim import Tenant
from devtools.graphsim.tenant import graph_time, parse_time
from shared.graph.gateway import GatheredOccurrence
from tests.gateway.conftest import Loop

pytestmark = pytest.mark.integration


def _lesson(tenant: Tenant) -> dict[str, Any]:
    return next(
        o for o in tenant.occurrences
        if o["kind"] == "channel-lesson" and len(o["callRecordIds"]) == 1 and o["attendanceReportIds"]
    )


def _shift_times(node: Any, shift: timedelta) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("startDateTime", "endDateTime", "meetingStartDateTime", "meetingEndDateTime",
                       "joinDateTime", "leaveDateTime") and isinstance(value, str):
                node[key] = graph_time(parse_time(value) + shift)
            else:
                _shift_times(value, shift)
    elif isinstance(node, list):
        for item in node:
            _shift_times(item, shift)


def next_lesson(tenant: Tenant, first: dict[str, Any], shift: timedelta, n: int, early: timedelta) -> dict[str, Any]:
    """Another channel meeting in the same channel ``shift`` after ``first``: its own event, online meeting (own
    message id, so its own join URL), attendance report and call record — the call starting ``early`` before
    the lesson (a pupil clicked the link two minutes early)."""
    organiser, meeting = tenant.meeting(first["meetingId"])  # type: ignore[misc]
    thread = meeting["chatInfo"]["threadId"]
    old_message = meeting["chatInfo"]["messageId"]
    message = str(int(old_message) + 1000 * n)
    join = meeting["joinWebUrl"].replace(f"/{old_message}?", f"/{message}?")
    meeting_id = base64.b64encode(f"1*{organiser}*0*{message}*{thread}".encode()).decode()
    start = parse_time(first["start"]) + shift
    end = parse_time(first["end"]) + shift
    new_meeting = copy.deepcopy(meeting)
    new_meeting.update(id=meeting_id, joinWebUrl=join, startDateTime=graph_time(start), endDateTime=graph_time(end))
    new_meeting["chatInfo"] = {**meeting["chatInfo"], "messageId": message}
    tenant.online_meetings[organiser].append(new_meeting)
    event = copy.deepcopy(tenant.event(first["mailbox"], first["eventId"]))
    assert event is not None
    event["id"] = f"{event['id'][:-6]}{n:04d}A="
    event["iCalUId"] = f"{event['iCalUId'][:-4]}{n:04d}"
    event["start"] = {"dateTime": graph_time(start)[:-1], "timeZone": "UTC"}
    event["end"] = {"dateTime": graph_time(end)[:-1], "timeZone": "UTC"}
    event["onlineMeeting"] = {"joinUrl": join}
    tenant.upsert_event(first["mailbox"], event)
    record = copy.deepcopy(tenant.call_records[first["callRecordIds"][0]])
    call_shift = start - early - parse_time(record["startDateTime"])
    _shift_times(record, call_shift)
    record["id"] = f"{n:08d}-2222-4333-8444-555555555555"
    record["joinWebUrl"] = join
    tenant.add_call_record(record)
    report = copy.deepcopy(tenant.attendance_reports[meeting["id"]][0])
    _shift_times(report, call_shift)
    report["id"] = f"{n:08d}-aaaa-4bbb-8ccc-dddddddddddd"
    tenant.attendance_reports[meeting_id] = [report]
    occ = {**first, "key": f"{thread}|{message}|{graph_time(start)}", "start": graph_time(start),
           "end": graph_time(end), "eventId": event["id"], "meetingId": meeting_id, "callRecordIds": [record["id"]],
           "attendanceReportIds": [report["id"]]}
    tenant.occurrences.append(occ)
    return occ


def _reports(got: GatheredOccurrence) -> list[str]:
    return [r["id"] for r in got.bundle.get("attendanceReports", [])]


def _records(got: GatheredOccurrence) -> list[str]:
    return [r["id"] for r in [got.bundle.get("callRecord"), *got.bundle.get("callRecords", [])] if r]


def test_back_to_back_lessons_in_one_channel_keep_their_own_attendance_and_calls(
    loop: Loop, rig_factory: Any, school: Tenant
) -> None:
    """The next lesson starts as this one ends; a pupil joins it two minutes early. Each lesson keeps its own
    attendance report and its own call record — the channel's list holds both reports, and both meetings share
    the channel's thread."""
    tenant = school.copy()
    first = _lesson(tenant)
    duration = parse_time(first["end"]) - parse_time(first["start"])
    second = next_lesson(tenant, first, duration, 1, early=timedelta(minutes=2))
    rig = rig_factory(tenant)
    for occ in (first, second):
        by_event = loop.run(rig.gateway.gather_event(occ["mailbox"], occ["eventId"]))[0]
        by_call = loop.run(rig.gateway.gather_call_record(occ["callRecordIds"][0]))[0]
        for got in (by_event, by_call):
            assert _reports(got) == occ["attendanceReportIds"], occ["key"]
            assert _records(got) == occ["callRecordIds"], occ["key"]
            assert got.key.message_id == occ["key"].split("|")[1]
            assert not [u for u in got.bundle.get("unavailable", []) if u["kind"] == "attendanceReports"]


def test_a_channel_past_fifty_meetings_says_the_old_lessons_report_is_not_listed(
    loop: Loop, rig_factory: Any, school: Tenant
) -> None:
    """Graph lists a channel meeting's reports as the channel's 50 most recent: the first lesson's report has
    dropped off. The lesson says its report is missing instead of showing no one present; the latest lesson keeps
    exactly its own."""
    tenant = school.copy()
    first = _lesson(tenant)
    later = [next_lesson(tenant, first, timedelta(hours=2 * i), i, early=timedelta(0)) for i in range(1, 56)]
    rig = rig_factory(tenant)
    old = loop.run(rig.gateway.gather_call_record(first["callRecordIds"][0]))[0]
    assert _reports(old) == []
    assert [u for u in old.bundle["unavailable"] if u["kind"] == "attendanceReports"]
    latest = loop.run(rig.gateway.gather_call_record(later[-1]["callRecordIds"][0]))[0]
    assert _reports(latest) == later[-1]["attendanceReportIds"]


def test_an_organiser_invited_by_a_mail_alias_is_the_school_account(
    loop: Loop, rig_factory: Any, school: Tenant
) -> None:
    """A supply teacher in neither group organises a lesson; the pupil's copy names her by a mail alias.
    ``GET /users/{alias}`` answers 404 (it takes an id or the UPN); the directory finds her by proxyAddresses."""
    tenant = school.copy()
    occ = next(o for o in tenant.occurrences if o["eventId"] and o["kind"] != "channel-lesson")
    supply = {"id": "5d9c0b9e-1111-4222-8333-444455556666", "displayName": "Beverley Dunn",
              "userPrincipalName": f"b.dunn@{tenant.domain}", "mail": f"b.dunn@{tenant.domain}",
              "userType": "Member", "accountEnabled": True,
              "proxyAddresses": [f"SMTP:b.dunn@{tenant.domain}", f"smtp:beverley.dunn@{tenant.domain}"]}
    tenant.users[supply["id"]] = supply
    event = copy.deepcopy(tenant.event(occ["mailbox"], occ["eventId"]))
    assert event is not None
    event["id"] = event["id"][:-6] + "ALIAS="
    event["isOrganizer"] = False
    event["organizer"] = {"emailAddress": {"name": "Beverley Dunn", "address": f"beverley.dunn@{tenant.domain}"}}
    tenant.upsert_event(occ["mailbox"], event)
    rig = rig_factory(tenant)
    got = loop.run(rig.gateway.gather_event(occ["mailbox"], event["id"]))[0]
    assert got.organiser_id == supply["id"]
    assert rig.sim.requests and any("proxyAddresses" in str(r.query) for r in rig.sim.requests)
