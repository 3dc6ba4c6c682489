"""Before the lesson, end to end over HTTP (the Graph simulator, Azurite, the local runner): a lesson scheduled
with options that break the policy nudges its organiser once; a fix before the lesson is a prevented finding."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import escape

from devtools.graphsim import Tenant
from shared.evidence.times import parse_instant
from shared.policy.catalogue import catalogue
from tests.e2e.conftest import Stack, at
from tests.e2e.test_pipeline import subscribe

pytestmark = pytest.mark.integration

NUDGE = "Before your lesson"


def before_the_lesson(tenant: Tenant, occ: dict[str, Any]) -> None:
    """The lesson has not happened yet: no call record, no attendance report."""
    for record in occ["callRecordIds"]:
        tenant.call_records.pop(record, None)
    tenant.attendance_reports.pop(occ["meetingId"], None)


def nudges(stack: Stack) -> list[Any]:
    return [m for m in stack.sim.sent_mail if str(m.message.get("subject", "")).startswith(NUDGE)]


def private_lesson(tenant: Tenant) -> dict[str, Any]:
    occ = next(o for o in tenant.occurrences
               if o["kind"] == "private-meeting" and "meeting-chat-enabled" in o["planted"])
    before_the_lesson(tenant, occ)
    return occ


def test_a_lesson_scheduled_with_chat_on_nudges_its_organiser_once(stack: Stack, tenant: Tenant) -> None:
    occ = private_lesson(tenant)
    at(stack, parse_instant(occ["start"]) - 86400)
    subscribe(stack)
    for _ in range(3):  # three notifications, each its own evaluation
        stack.sim.notify_event(occ["mailbox"], occ["eventId"])
        stack.deliver()
    # and the same lesson evaluated from each pupil's copy of the invitation
    event = tenant.event(occ["mailbox"], occ["eventId"])
    assert event is not None
    copies = [(mailbox, e["id"]) for mailbox, events in tenant.events.items() for e in events
              if e.get("iCalUId") == event["iCalUId"] and mailbox != occ["mailbox"]]
    assert len(copies) >= 3
    for mailbox, event_id in copies:
        stack.runtime.pipeline.evaluator.evaluate({"kind": "event", "mailbox": mailbox, "eventId": event_id})
    sent = nudges(stack)
    assert len(sent) == 1
    organiser = tenant.users[occ["organizerId"]]
    message = sent[0].message
    assert message["toRecipients"] == [{"emailAddress": {"address": organiser["mail"]}}]
    html = message["body"]["content"]
    assert "Meeting chat is on" in html and "Chat disabled for attendees" in html  # what, and why
    remediation = catalogue()["meeting-chat-enabled"].remediation
    assert escape(remediation) in html  # how: the rule's remediation, autoescaped
    meeting = tenant.meeting(occ["meetingId"])
    assert meeting is not None and meeting[1]["joinWebUrl"].replace("&", "&amp;") in html  # the link


def test_a_fix_before_the_lesson_is_prevented_not_a_violation(stack: Stack, tenant: Tenant) -> None:
    from shared.digest.prevention import prevention_counts

    occ = private_lesson(tenant)
    start = parse_instant(occ["start"])
    at(stack, start - 86400)
    subscribe(stack)
    stack.sim.notify_event(occ["mailbox"], occ["eventId"])
    stack.deliver()
    assert len(nudges(stack)) == 1
    meeting = tenant.meeting(occ["meetingId"])
    assert meeting is not None
    meeting[1].update(allowMeetingChat="disabled", allowedPresenters="organizer", allowAttendeeToEnableMic=False,
                      recordAutomatically=False, allowRecording=False, allowTranscription=False,
                      lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": False})
    at(stack, start - 3600)  # the teacher put it right an hour before
    stack.sim.notify_event(occ["mailbox"], occ["eventId"])
    stack.deliver()
    rows = list(stack.runtime.stores.findings.table.list_entities())
    settings = [r for r in rows if r["Rule"] in ("meeting-chat-enabled", "attendees-can-present")]
    assert settings and all(r["MachineState"] == "resolved" for r in settings)
    assert len(nudges(stack)) == 1  # better, not worse: no second nudge
    week = settings[0]["PartitionKey"]
    counts = prevention_counts(stack.runtime.stores, week, now=start + 7200)
    assert counts.fixed_by_teacher == 1
    assert counts.started_non_compliant == 0
    assert counts.nudges_sent == 1


def test_a_series_gets_one_nudge(stack: Stack, tenant: Tenant) -> None:
    series = [o for o in tenant.occurrences if o["kind"] == "recurring-group"]
    assert len(series) >= 3
    found = tenant.meeting(series[0]["meetingId"])
    assert found is not None
    found[1]["allowMeetingChat"] = "enabled"
    for occ in series:
        before_the_lesson(tenant, occ)
    at(stack, parse_instant(series[0]["start"]) - 3600)  # 07:40 on the Monday: outside quiet hours
    subscribe(stack)
    for occ in series:
        stack.sim.notify_event(occ["mailbox"], occ["eventId"])
    stack.deliver()
    sent = nudges(stack)
    assert len(sent) == 1
    assert "every lesson of its series" in sent[0].message["body"]["content"]
