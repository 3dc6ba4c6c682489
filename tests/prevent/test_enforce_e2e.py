"""Enforce mode end to end (the Graph simulator's PATCH on online meetings, Azurite, the local runner): dry-run
changes nothing and says what it would change; on changes exactly the required properties, before the lesson,
and the held stage sees compliant options; a refused update is reported once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from devtools.graphsim import Tenant
from shared.digest.prevention import prevention_counts
from shared.evidence.times import parse_instant
from shared.policy.policyfile import default_policy
from shared.policy.prevent import PreventPolicy
from tests.e2e.conftest import Stack, at
from tests.e2e.test_pipeline import subscribe
from tests.prevent.test_nudges_e2e import nudges

pytestmark = pytest.mark.integration

ENFORCE = ("allowMeetingChat", "lobbyBypassSettings", "allowedPresenters", "allowAttendeeToEnableMic",
           "recordAutomatically")


@pytest.fixture
def stack(stack: Stack) -> Stack:
    """The shared stack, with the school's grant to update meeting options."""
    stack.runtime.settings = replace(stack.runtime.settings, enforce_allowed=True)
    return stack


def with_enforce(stack: Stack, mode: str) -> None:
    policy = replace(default_policy(), prevent=PreventPolicy(enforce=ENFORCE, enforce_mode=mode))
    stack.runtime.pipeline_options["policy"] = policy
    stack.runtime._pipeline = None


def lesson(tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    """A private lesson with chat on and more, the day before: its call records and reports set aside."""
    occ = next(o for o in tenant.occurrences
               if o["kind"] == "private-meeting" and "meeting-chat-enabled" in o["planted"])
    later = {"records": {r: tenant.call_records.pop(r) for r in occ["callRecordIds"]},
             "reports": tenant.attendance_reports.pop(occ["meetingId"], None)}
    return occ, later


def evaluate_before(stack: Stack, occ: dict[str, Any], mode: str, times: int = 1) -> None:
    at(stack, parse_instant(occ["start"]) - 1200)  # twenty minutes before the lesson
    with_enforce(stack, mode)
    subscribe(stack)
    for _ in range(times):
        stack.sim.notify_event(occ["mailbox"], occ["eventId"])
        stack.deliver()


def log_row(stack: Stack) -> dict[str, Any]:
    rows = [r for r in stack.runtime.stores.meetings.table.list_entities() if r.get("BeforeTheLesson")]
    assert len(rows) == 1
    return dict(rows[0])


def test_dry_run_changes_nothing_and_says_what_it_would_change(stack: Stack, tenant: Tenant) -> None:
    occ, _ = lesson(tenant)
    evaluate_before(stack, occ, "dry-run")
    assert stack.sim.meeting_updates == []
    assert not [r for r in stack.sim.requests if r.method == "PATCH" and "onlineMeetings" in r.path]
    note = log_row(stack)["BeforeTheLesson"]
    assert note.startswith("vcaudit would have turned meeting chat off")
    assert "20 minutes before the lesson" in note
    open_rules = {r["Rule"] for r in stack.runtime.stores.findings.table.list_entities()
                  if r["MachineState"] == "open"}
    assert "meeting-chat-enabled" in open_rules
    week = log_row(stack)["PartitionKey"]
    counts = prevention_counts(stack.runtime.stores, week, now=parse_instant(occ["start"]) + 7200)
    assert counts.would_have_fixed == 1 and counts.fixed_by_vcaudit == 0


def test_enforce_on_changes_exactly_the_required_properties(stack: Stack, tenant: Tenant) -> None:
    occ, later = lesson(tenant)
    found = tenant.meeting(occ["meetingId"])
    assert found is not None
    before = dict(found[1])
    evaluate_before(stack, occ, "on")
    assert len(stack.sim.meeting_updates) == 1
    meeting_id, body = stack.sim.meeting_updates[0]
    assert meeting_id == occ["meetingId"]
    # recordAutomatically was already off: not sent; allowRecording is not opted into: not touched
    assert body == {"allowMeetingChat": "disabled", "allowedPresenters": "organizer",
                    "allowAttendeeToEnableMic": False,
                    "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False}}
    assert found[1]["allowRecording"] == before["allowRecording"]
    note = log_row(stack)["BeforeTheLesson"]
    assert note.startswith("vcaudit turned meeting chat off") and "20 minutes before the lesson" in note
    told = [m for m in stack.sim.sent_mail if "options were changed" in str(m.message.get("subject"))]
    assert len(told) == 1 and "turned meeting chat off" in told[0].message["body"]["content"]
    rows = {r["Rule"]: r for r in stack.runtime.stores.findings.table.list_entities()}
    for rule in ("meeting-chat-enabled", "attendees-can-present", "attendee-mic-allowed", "lobby-bypass-too-broad"):
        assert rows[rule]["MachineState"] == "resolved"  # prevented
    assert rows["recording-allowed"]["MachineState"] == "open"  # not opted into: the teacher is nudged
    assert len(nudges(stack)) == 1
    # the lesson happens: the held-stage evaluation reads the options Graph now holds
    tenant.call_records.update(later["records"])
    if later["reports"] is not None:
        tenant.attendance_reports[occ["meetingId"]] = later["reports"]
    at(stack, parse_instant(occ["end"]) + 3600)
    with_enforce(stack, "on")
    for record in occ["callRecordIds"]:
        stack.sim.notify_call_record(record)
    stack.deliver()
    logged = [r for r in stack.runtime.stores.meetings.table.list_entities() if r["RowKey"] == log_row(stack)["RowKey"]]
    assert "held" in logged[0]["Stages"]
    open_rules = {r["Rule"] for r in stack.runtime.stores.findings.table.list_entities()
                  if r["MachineState"] == "open"}
    assert not open_rules & {"meeting-chat-enabled", "attendees-can-present", "attendee-mic-allowed",
                             "lobby-bypass-too-broad"}
    assert len(stack.sim.meeting_updates) == 1  # nothing changed during or after the lesson
    counts = prevention_counts(stack.runtime.stores, logged[0]["PartitionKey"], now=parse_instant(occ["end"]) + 3600)
    assert counts.fixed_by_vcaudit == 1 and counts.fixed_by_teacher == 0 and counts.started_non_compliant == 1


def test_a_refused_update_is_reported_once(stack: Stack, tenant: Tenant) -> None:
    occ, _ = lesson(tenant)
    stack.sim.refuse_meeting_updates.add(occ["meetingId"])
    evaluate_before(stack, occ, "on", times=3)
    patches = [r for r in stack.sim.requests if r.method == "PATCH" and "onlineMeetings" in r.path]
    assert len(patches) == 1 and patches[0].status == 403
    assert stack.sim.meeting_updates == []
    note = log_row(stack)["BeforeTheLesson"]
    assert "could not change the options" in note and "403" in note
    refused = [r for r in stack.runtime.stores.nudges.week(log_row(stack)["PartitionKey"])
               if r.get("Outcome") == "refused"]
    assert len(refused) == 1
    assert len(nudges(stack)) == 1  # the teacher is asked instead
