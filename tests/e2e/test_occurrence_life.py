"""An occurrence's life over time, through the whole local stack: a series occurrence moved or cancelled before it
took place resolves its old key; a call record arriving after its event was deleted is judged as the scheduled
lesson it belonged to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.azurite import Azurite
from devtools.fortnight import open_fortnight
from devtools.graphsim import Tenant, calendar, harbour, timeline
from shared.evidence.times import parse_instant
from shared.occurrence_life import MOVED
from tests.e2e.conftest import Stack, at, make_stack
from tests.e2e.test_pipeline import occurrence_id, subscribe


def utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def change(tenant: Tenant, step: dict[str, Any]) -> None:
    """Change the tenant's calendars as the teacher does in Outlook (the simulator's timeline actions)."""
    timeline.apply_step(tenant, step, datetime.now(UTC))


def open_rows(stack: Stack, occ_id: str) -> list[dict[str, Any]]:
    return [r for r in stack.runtime.stores.findings.table.list_entities()
            if r["OccurrenceId"] == occ_id and r["MachineState"] == "open"]


def rows_of(stack: Stack, occ_id: str) -> list[dict[str, Any]]:
    return [r for r in stack.runtime.stores.findings.table.list_entities() if r["OccurrenceId"] == occ_id]


def series_tenant(school: Tenant) -> tuple[Tenant, list[dict[str, Any]], dict[str, Any]]:
    """The school with its recurring lesson not yet held: no call records or attendance reports for it."""
    tenant = school.copy()
    occs = sorted((o for o in tenant.occurrences if o["kind"] == "recurring-group"), key=lambda o: o["start"])
    for occ in occs:
        for record in occ["callRecordIds"]:
            tenant.call_records.pop(record, None)
        tenant.attendance_reports.pop(occ["meetingId"], None)
    first = tenant.event(occs[0]["mailbox"], occs[0]["eventId"])
    assert first is not None
    master = tenant.event(occs[0]["mailbox"], first["seriesMasterId"])
    assert master is not None
    return tenant, occs, master


def test_a_moved_or_cancelled_series_occurrence_resolves_its_old_key(azurite: Azurite, app_functions: dict[str, Any],
                                                                     school: Tenant, storage_prefix: str) -> None:
    tenant, occs, master = series_tenant(school)
    mailbox = occs[0]["mailbox"]
    week_before = parse_instant(occs[0]["start"]) - 3 * 86400
    moved_occ, cancelled_occ, kept_occ = occs[1], occs[2], occs[3]
    for stack in make_stack(azurite, app_functions, tenant, storage_prefix):
        at(stack, week_before)
        subscribe(stack)
        stack.sim.notify_event(mailbox, master["id"])
        stack.deliver()
        for occ in occs:
            assert open_rows(stack, occurrence_id(tenant, occ)), occ["key"]
        # Outlook reports a move and a cancellation as changes to the series master: the moved occurrence becomes
        # an exception at its new start; the organiser's copy of the cancelled one is removed.
        moved_start = parse_instant(moved_occ["start"]) + 26 * 3600
        length = parse_instant(moved_occ["end"]) - parse_instant(moved_occ["start"])
        change(tenant, {"action": "moveOccurrence", "mailbox": mailbox, "seriesMasterId": master["id"],
                        "originalStart": utc(parse_instant(moved_occ["start"])),
                        "start": {"dateTime": utc(moved_start)[:-1], "timeZone": "UTC"},
                        "end": {"dateTime": utc(moved_start + length)[:-1], "timeZone": "UTC"}})
        change(tenant, {"action": "cancelOccurrence", "mailbox": mailbox, "seriesMasterId": master["id"],
                        "originalStart": utc(parse_instant(cancelled_occ["start"]))})
        stack.sim.notify_event(mailbox, master["id"])
        stack.deliver()
        for gone in (moved_occ, cancelled_occ):
            old = rows_of(stack, occurrence_id(tenant, gone))
            assert old and all(r["MachineState"] == "resolved" for r in old), gone["key"]
            assert all("series" in r["ResolvedWhy"] for r in old)
        assert open_rows(stack, occurrence_id(tenant, kept_occ))
        moved_to = occurrence_id(tenant, {**moved_occ, "start": utc(moved_start)})
        assert open_rows(stack, moved_to)
        logs = {r["RowKey"]: r for r in stack.runtime.stores.meetings.table.list_entities()}
        assert logs[occurrence_id(tenant, moved_occ)]["Cancelled"] is True
        assert logs[occurrence_id(tenant, cancelled_occ)]["Cancelled"] is True
        assert not logs[occurrence_id(tenant, kept_occ)].get("Cancelled")


def test_a_move_whose_series_notification_was_lost_is_found_by_reconcile(azurite: Azurite,
                                                                        app_functions: dict[str, Any],
                                                                        storage_prefix: str) -> None:
    """Harbour's series are expanded by the simulator as Graph does (an iCalUId per occurrence), so reconcile's
    calendar view yields each occurrence on its own; the master's notification of the move is lost."""
    tenant = harbour.fortnight()
    tenant.timeline = []  # nothing happens unless this test says so
    spanish = harbour.lessons()["spanish"]
    master = next(e for e in tenant.events[spanish.mailbox] if e["type"] == "seriesMaster"
                  and e["subject"] == spanish.subject)
    wednesday, thursday = harbour.local(harbour.day(2), 9), harbour.local(harbour.day(3), 9)
    for run in open_fortnight(azurite, storage_prefix, functions=app_functions.values(), tenant=tenant):
        run.runner.fire("subscriptions_timer")
        run.runner.fire("reconcile_timer")  # Sunday evening: the calendar views, occurrences only
        run.runner.drain_all()
        slots = {r["Start"]: r["RowKey"] for r in run.meetings() if r["Subject"] == spanish.subject}
        old = slots[wednesday]
        assert {r["Rule"] for r in run.findings() if r["OccurrenceId"] == old} == {"lobby-bypass-too-broad"}
        with tenant.lock:  # the teacher moves Wednesday's lesson to Thursday; Graph's notification never arrives
            timeline.apply_step(tenant, {"action": "moveOccurrence", "mailbox": spanish.mailbox,
                                         "seriesMasterId": master["id"], "originalStart": utc(wednesday.timestamp()),
                                         "start": calendar.in_zone(thursday, harbour.ZONE),
                                         "end": calendar.in_zone(thursday + timedelta(minutes=50), harbour.ZONE)},
                                run.now())
        run.sim.set_now(run.now() + timedelta(hours=6))
        run.runner.fire("reconcile_timer")  # its delta serves the exception, which names the slot it left
        run.runner.drain_all()
        gone = [r for r in run.findings() if r["OccurrenceId"] == old]
        assert gone and all(r["MachineState"] == "resolved" and r["ResolvedWhy"] == MOVED for r in gone)
        moved = {r["Start"]: r for r in run.meetings() if r["Subject"] == spanish.subject}
        assert moved[wednesday]["Cancelled"] and not moved[thursday].get("Cancelled")
        assert run.runner.failures == []


def test_a_held_series_occurrence_moved_afterwards_keeps_its_findings(azurite: Azurite,
                                                                      app_functions: dict[str, Any],
                                                                      school: Tenant, storage_prefix: str) -> None:
    tenant = school.copy()
    occs = sorted((o for o in tenant.occurrences if o["kind"] == "recurring-group"), key=lambda o: o["start"])
    first = tenant.event(occs[0]["mailbox"], occs[0]["eventId"])
    assert first is not None
    master_id, mailbox = first["seriesMasterId"], occs[0]["mailbox"]
    held = occs[0]
    after = parse_instant(held["start"]) + 4 * 3600  # the first lesson took place and its call record is in
    for stack in make_stack(azurite, app_functions, tenant, storage_prefix):
        at(stack, after)
        subscribe(stack)
        stack.sim.notify_event(mailbox, master_id)
        stack.deliver()
        before = open_rows(stack, occurrence_id(tenant, held))
        assert before
        change(tenant, {"action": "cancelOccurrence", "mailbox": mailbox, "seriesMasterId": master_id,
                        "originalStart": utc(parse_instant(held["start"]))})  # the series tidied after the lesson
        stack.sim.notify_event(mailbox, master_id)
        stack.deliver()
        assert len(open_rows(stack, occurrence_id(tenant, held))) == len(before)


def test_a_call_record_after_its_event_was_deleted_is_judged_as_the_scheduled_lesson(
        azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> None:
    tenant = school.copy()
    occ = next(o for o in tenant.occurrences
               if o["kind"] == "private-meeting" and o["eventId"] and o["callRecordIds"] and o["meetingId"])
    start = parse_instant(occ["start"])
    end = parse_instant(occ["end"]) if occ.get("end") else start + 3600
    scheduled = occurrence_id(tenant, occ)
    for stack in make_stack(azurite, app_functions, tenant, storage_prefix):
        at(stack, start - 3600)  # read before the lesson
        subscribe(stack)
        stack.sim.notify_event(occ["mailbox"], occ["eventId"])
        stack.deliver()
        assert any(r["RowKey"] == scheduled for r in stack.runtime.stores.meetings.table.list_entities())
        at(stack, end + 300)  # deleted just after the lesson, before its call record arrived
        tenant.delete_event(occ["mailbox"], occ["eventId"])
        stack.sim.notify_event(occ["mailbox"], occ["eventId"], change_type="deleted")
        stack.deliver()
        at(stack, end + 35 * 60)  # the call record arrives 35 minutes after the call
        for record in occ["callRecordIds"]:
            stack.sim.notify_call_record(record)
        stack.deliver()
        logs = {r["RowKey"]: r for r in stack.runtime.stores.meetings.table.list_entities()}
        assert set(logs) == {scheduled}, "the call must link to the scheduled occurrence, not a reused link"
        assert "held" in logs[scheduled]["Stages"].split()
        stored = {(r["Rule"], r["Subject"]) for r in open_rows(stack, scheduled)}
        from shared.engine import evaluate_raw

        expected = {(f.rule, f.subject or "") for f in evaluate_raw(tenant.expected_bundle(occ["key"])).findings}
        assert stored == expected


def test_pupils_left_alone_stay_reported_after_the_teacher_restricts_the_lobby(
        azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> None:
    import json

    tenant = school.copy()
    # a channel lesson whose pupils arrived before the teacher: alone in the call when the lobby lets them in
    occ = tenant.occurrence("19:12e675316132798d7186abbecc2d7fa5@thread.tacv2|1773151559031|"
                            "2026-03-09T11:15:00.0000000Z")
    found = tenant.meeting(occ["meetingId"])
    assert found is not None
    meeting = found[1]
    meeting["lobbyBypassSettings"] = {"scope": "organization", "isDialInBypassEnabled": False}  # during the call
    end = max(parse_instant(tenant.call_records[r]["endDateTime"]) for r in occ["callRecordIds"])
    occ_id = occurrence_id(tenant, occ)
    for stack in make_stack(azurite, app_functions, tenant, storage_prefix):
        at(stack, end + 35 * 60)  # the call record arrives
        subscribe(stack)
        for record in occ["callRecordIds"]:
            stack.sim.notify_call_record(record)
        stack.deliver()
        alone = [r for r in open_rows(stack, occ_id) if r["Rule"] == "pupils-unsupervised"]
        assert len(alone) == 1
        log_before = next(r for r in stack.runtime.stores.meetings.table.list_entities() if r["RowKey"] == occ_id)
        # That evening the teacher restricts the lobby; the nightly re-read sees the new options.
        meeting["lobbyBypassSettings"] = {"scope": "organizer", "isDialInBypassEnabled": False}
        at(stack, end + 12 * 3600)
        for record in occ["callRecordIds"]:
            stack.sim.notify_call_record(record, change_type="updated")
        stack.deliver()
        alone = [r for r in rows_of(stack, occ_id) if r["Rule"] == "pupils-unsupervised"]
        assert len(alone) == 1 and alone[0]["MachineState"] == "open"
        log_after = next(r for r in stack.runtime.stores.meetings.table.list_entities() if r["RowKey"] == occ_id)
        assert log_after["HighCount"] == log_before["HighCount"] >= 1  # judged with the options of the call
        assert json.loads(alone[0]["Evidence"])["optionsInForce"]["moment"] == "call-record"
