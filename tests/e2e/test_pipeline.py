"""End to end over HTTP: subscriptions by handshake, Graph's notifications to the webhook, the queues, the
workers, Table Storage. A school week yields exactly the findings its evidence calls for, whatever the
order or number of deliveries."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import Tenant
from devtools.localstack import graph_factory
from shared.engine import evaluate_raw
from shared.evidence.times import parse_instant
from shared.occurrence import OccurrenceKey
from tests.e2e.conftest import Stack, make_stack


@pytest.fixture
def stack(azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> Iterator[Stack]:
    yield from make_stack(azurite, app_functions, school, storage_prefix)


def occurrence_id(tenant: Tenant, occ: dict[str, Any]) -> str:
    start = parse_instant(occ["start"])
    if occ["meetingId"]:
        chat = tenant.meeting(occ["meetingId"])[1]["chatInfo"]  # type: ignore[index]
        return OccurrenceKey.scheduled(chat["threadId"], chat["messageId"], start).id
    if occ["eventId"]:
        ical = tenant.event(occ["mailbox"], occ["eventId"])["iCalUId"]  # type: ignore[index]
        return OccurrenceKey.scheduled("ical:" + ical, "0", start).id
    return OccurrenceKey.call(occ["callRecordIds"][0]).id


def expected_rows(tenant: Tenant, occs: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for occ in occs:
        for finding in evaluate_raw(tenant.expected_bundle(occ["key"], channel_attendance="channel")).findings:
            out[(occurrence_id(tenant, occ), finding.rule, finding.subject or "")] += 1
    return out


def stored_rows(stack: Stack) -> Counter[tuple[str, str, str]]:
    rows = stack.runtime.stores.findings.table.list_entities()
    return Counter((r["OccurrenceId"], r["Rule"], r["Subject"]) for r in rows if r.get("MachineState") == "open")


def notify(stack: Stack, occs: list[dict[str, Any]], *, times: int = 1, shuffle: bool = False) -> None:
    changes: list[tuple[str, ...]] = []
    for occ in occs:
        if occ["eventId"]:
            changes.append(("event", occ["mailbox"], occ["eventId"]))
        for record in occ["callRecordIds"]:
            changes.append(("call", record, "created"))
            changes.append(("call", record, "updated"))
    changes = changes * times
    if shuffle:
        random.Random(7).shuffle(changes)
    for change in changes:
        if change[0] == "event":
            stack.sim.notify_event(change[1], change[2])
        else:
            stack.sim.notify_call_record(change[1], change_type=change[2])


def subscribe(stack: Stack) -> None:
    report = stack.runtime.pipeline.ensure_subscriptions()
    assert not report.failed, report.failed
    assert len(stack.sim.subscriptions) >= 2


@pytest.mark.timeout(1500)  # a whole simulated week over HTTP: minutes on a busy two-core machine
def test_a_school_week_yields_exactly_the_expected_findings(stack: Stack) -> None:
    subscribe(stack)
    occs = stack.tenant.occurrences
    notify(stack, occs)
    stack.deliver()
    assert stored_rows(stack) == expected_rows(stack.tenant, occs)
    assert stack.runner.failures == []
    logged = stack.runtime.stores.meetings.table.list_entities()
    assert len({row["RowKey"] for row in logged}) == len({occurrence_id(stack.tenant, o) for o in occs})


def test_three_deliveries_out_of_order_give_the_same_rows(stack: Stack) -> None:
    subscribe(stack)
    occs = [o for o in stack.tenant.occurrences if o["planted"]][:8]
    notify(stack, occs, times=3, shuffle=True)
    stack.deliver()
    first = stored_rows(stack)
    assert first == expected_rows(stack.tenant, occs)
    total = len(list(stack.runtime.stores.findings.table.list_entities()))
    notify(stack, occs, times=2, shuffle=True)
    stack.deliver()
    assert stored_rows(stack) == first
    assert len(list(stack.runtime.stores.findings.table.list_entities())) == total


def test_a_burst_for_one_lesson_costs_one_evaluation(stack: Stack) -> None:
    subscribe(stack)
    lesson = next(o for o in stack.tenant.occurrences if o["kind"] == "private-meeting" and o["callRecordIds"])
    for _ in range(25):
        stack.sim.notify_event(lesson["mailbox"], lesson["eventId"])
    stack.deliver()
    assert stack.gathers.count("gather_event") == 1
    for _ in range(10):
        stack.sim.notify_call_record(lesson["callRecordIds"][0], change_type="updated")
    stack.deliver()
    assert stack.gathers.count("gather_call_record") == 1


def test_a_missed_event_is_recovered_by_reconcile(stack: Stack) -> None:
    subscribe(stack)
    occs = [o for o in stack.tenant.occurrences if o["kind"] in ("pupil-organised", "one-to-one")]
    # the notifications never arrive; Graph says so with a `missed` lifecycle event
    subscription = next(iter(stack.sim.subscriptions))
    stack.sim.send_lifecycle(subscription, "missed")
    stack.deliver()
    rows = stored_rows(stack)
    for key, count in expected_rows(stack.tenant, occs).items():
        assert rows[key] == count, key
    assert stack.runtime.stores.state.get("reconcile") is not None


def test_a_calendar_graph_fails_on_waits_for_the_next_reconcile_and_the_others_go_ahead(stack: Stack) -> None:
    subscribe(stack)
    lessons = [o for o in stack.tenant.occurrences if o["kind"] == "private-meeting" and o["eventId"]]
    broken = lessons[0]
    fine = next(o for o in lessons if o["mailbox"] != broken["mailbox"])
    before = min(parse_instant(o["start"]) for o in stack.tenant.occurrences) - 2 * 86400  # nothing held yet
    stack.runtime.pipeline_options["clock"] = lambda: before
    stack.runtime.pipeline_options["graph_factory"] = graph_factory(stack.sim, stack.gathers,
                                                                    now=datetime.fromtimestamp(before, tz=UTC))
    stack.runtime._pipeline = None
    # Graph fails on one teacher's calendar past the transport's retries; the notifications never came.
    stack.sim.faults.add("GET", f"/users/{broken['mailbox']}/calendarView/delta", 500, count=None)
    stack.runtime.pipeline.reconcile()
    stack.deliver()
    logged = {r["RowKey"] for r in stack.runtime.stores.meetings.table.list_entities()}
    assert occurrence_id(stack.tenant, fine) in logged
    assert occurrence_id(stack.tenant, broken) not in logged
    state = stack.runtime.stores.state.get("reconcile")
    assert state is not None and state["Failed"] == 1
    stack.sim.faults.clear()
    stack.runtime.pipeline.reconcile()  # the next reconcile reads it
    stack.deliver()
    logged = {r["RowKey"] for r in stack.runtime.stores.meetings.table.list_entities()}
    assert occurrence_id(stack.tenant, broken) in logged
    assert stack.runtime.stores.state.get("reconcile")["Failed"] == 0  # type: ignore[index]


def test_evidence_graph_failed_on_past_every_retry_is_read_again_by_reconcile(stack: Stack) -> None:
    subscribe(stack)
    stack.runner.retry_delay = 0  # the host redelivers; every delivery meets the outage
    lesson = next(o for o in stack.tenant.occurrences if o["kind"] == "private-meeting" and o["callRecordIds"]
                  and o["meetingId"])
    stack.sim.faults.add("GET", f"/onlineMeetings/{lesson['meetingId']}/attendanceReports", 500, count=None)
    for record in lesson["callRecordIds"]:
        stack.sim.notify_call_record(record)
    stack.deliver()
    key = occurrence_id(stack.tenant, lesson)

    def gap() -> list[str]:
        return [r["MachineState"] for r in stack.runtime.stores.findings.table.list_entities()
                if r["OccurrenceId"] == key and r["Rule"] == "evidence-unavailable"]

    assert gap() == ["open"]  # the last delivery says it could not look
    stack.sim.faults.clear()  # Graph is back; no notification will come for this meeting again
    stack.runtime.pipeline.reconcile()
    stack.deliver()
    assert gap() == ["resolved"]
    row = next(r for r in stack.runtime.stores.meetings.table.list_entities() if r["RowKey"] == key)
    assert row["Unavailable"] == "[]" and "held" in row["Stages"].split()
    stack.runtime.pipeline.reconcile()  # nothing left to read again
    assert stack.runtime.stores.state.get("reconcile")["Scheduled"] == 0  # type: ignore[index]


def test_a_removed_subscription_is_recreated(stack: Stack, app_functions: dict[str, Any]) -> None:
    subscribe(stack)
    before = {s["resource"] for s in stack.sim.subscriptions.values()}
    victim = next(iter(stack.sim.subscriptions))
    stack.sim.remove_subscription(victim)
    stack.runner.fire("subscriptions_timer")
    after = {s["resource"] for s in stack.sim.subscriptions.values()}
    assert after == before
    assert victim not in stack.sim.subscriptions


def test_subscription_removed_lifecycle_event_recreates_at_once(stack: Stack) -> None:
    subscribe(stack)
    victim = next(iter(stack.sim.subscriptions))
    resource = stack.sim.subscriptions[victim]["resource"]
    stack.sim.send_lifecycle(victim, "subscriptionRemoved")
    stack.deliver()
    assert resource in {s["resource"] for s in stack.sim.subscriptions.values()}


def test_throttling_past_the_budget_reenqueues_with_graphs_delay(stack: Stack) -> None:
    subscribe(stack)
    occ = next(o for o in stack.tenant.occurrences if o["kind"] == "channel-lesson" and o["callRecordIds"])
    stack.sim.faults.add("GET", r"^/communications/callRecords/", 429, retry_after=40, count=1000)
    stack.sim.notify_call_record(occ["callRecordIds"][0])
    stack.deliver()
    queues = stack.runtime.queues
    assert stack.runner.failures == []  # no dequeue burnt on throttling
    assert queues.depth("occurrence-evaluations") == 1  # back on the queue, invisible for Graph's Retry-After
    assert queues.depth("occurrence-evaluations-poison") == 0
    assert queues.receive("occurrence-evaluations", max_messages=1) == []  # not visible yet


def test_preflight_rechecks_the_options_of_meetings_starting_within_the_hour(stack: Stack) -> None:
    first = min(stack.tenant.occurrences, key=lambda o: o["start"])
    start = parse_instant(first["start"])
    stack.runtime.pipeline_options["clock"] = lambda: start - 1800  # half an hour before the first lesson
    subscribe(stack)
    stack.runner.fire("preflight_timer")
    soon = [o for o in stack.tenant.occurrences if o["eventId"] and start <= parse_instant(o["start"]) <= start + 3600
            and o["kind"] != "recurring-group"]
    logged = {row["RowKey"]: row for row in stack.runtime.stores.meetings.table.list_entities()}
    assert soon and all(occurrence_id(stack.tenant, o) in logged for o in soon)
    assert all(logged[occurrence_id(stack.tenant, o)]["Stages"].startswith("scheduled") for o in soon)
    assert stack.runtime.stores.state.get("preflight") is not None


def test_an_event_deleted_before_the_lesson_resolves_its_occurrence(azurite: Azurite, app_functions: dict[str, Any],
                                                                     school: Tenant, storage_prefix: str) -> None:
    from datetime import UTC, datetime

    from devtools.localstack import graph_factory

    tenant = school.copy()
    occ = next(o for o in tenant.occurrences
               if o["kind"] == "private-meeting" and "meeting-chat-enabled" in o["planted"])
    for record in occ["callRecordIds"]:  # the day before, the lesson has not happened: no call record yet
        tenant.call_records.pop(record)
    tenant.attendance_reports.pop(occ["meetingId"], None)  # nor an attendance report
    day_before = parse_instant(occ["start"]) - 86400
    for stack in make_stack(azurite, app_functions, tenant, storage_prefix):
        stack.runtime.pipeline_options["clock"] = lambda: day_before
        stack.runtime.pipeline_options["graph_factory"] = graph_factory(
            stack.sim, stack.gathers, now=datetime.fromtimestamp(day_before, tz=UTC))
        subscribe(stack)
        stack.sim.notify_event(occ["mailbox"], occ["eventId"])
        stack.deliver()
        before = list(stack.runtime.stores.findings.table.list_entities())
        assert before and all(r["MachineState"] == "open" for r in before)
        tenant.delete_event(occ["mailbox"], occ["eventId"])
        stack.sim.notify_event(occ["mailbox"], occ["eventId"], change_type="deleted")
        stack.deliver()
        after = list(stack.runtime.stores.findings.table.list_entities())
        assert len(after) == len(before) and all(r["MachineState"] == "resolved" for r in after)
        log = next(iter(stack.runtime.stores.meetings.table.list_entities()))
        assert log["Cancelled"] is True
