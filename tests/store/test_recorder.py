"""Findings and the meeting log in Table Storage (Azurite, through azure-data-tables): idempotent,
annotations never overwritten, thinner evaluations ignored, setting findings frozen at the lesson's start."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from azure.data.tables import UpdateMode

from devtools.azurite import Azurite
from shared.engine import Evaluation, Finding, evaluate_raw
from shared.evidence.times import parse_instant
from shared.store.connection import StorageConfig
from shared.store.findings import EVIDENCE_LIMIT, MeetingFacts
from shared.store.keys import finding_row_key, week_of
from shared.store.meetings import ConcurrentUpdate
from shared.store.tables import Stores, open_stores

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "elmgrove-week"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def stores(azurite: Azurite, storage_prefix: str) -> Stores:
    return open_stores(StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix)


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def facts(bundle: dict, occurrence: str = "occ1") -> MeetingFacts:
    start = parse_instant(bundle["onlineMeeting"]["startDateTime"]) if bundle.get("onlineMeeting") else \
        parse_instant(bundle["callRecord"]["startDateTime"])
    return MeetingFacts(occurrence, week_of(start, LONDON), start, start + 2700,
                        bundle.get("onlineMeeting", {}).get("subject"), "e995966a", "Sarah Patel", "Year 4")


def rows(stores: Stores) -> list[dict]:
    return list(stores.findings.table.list_entities())


SETTINGS_BUNDLE = "2026-11-16-1100-year4-spelling-catch-up"  # default settings: five setting findings
UNINVITED_BUNDLE = "2026-11-17-1030-year4-science"


def test_redelivery_rewrites_never_duplicates(stores: Stores) -> None:
    bundle = sample(UNINVITED_BUNDLE)
    meeting = facts(bundle)
    evaluation = evaluate_raw(bundle)
    first = stores.recorder.record(meeting, evaluation, bundle, now=meeting.start - 3600)
    assert len(first.new_findings) == len(evaluation.findings) == 2
    for _ in range(3):
        again = stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start - 3600)
        assert again.new_findings == [] and again.resolved_findings == []
    stored = rows(stores)
    assert len(stored) == 2
    assert {r["RowKey"] for r in stored} == {finding_row_key("occ1", f.rule, f.subject) for f in evaluation.findings}
    assert all(r["PartitionKey"] == meeting.week == "2026-W47" for r in stored)


def test_annotations_survive_machine_writes(stores: Stores) -> None:
    bundle = sample(UNINVITED_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start)
    row = rows(stores)[0]
    stores.findings.table.update_entity({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"],
                                         "Status": "acknowledged", "Annotations": '[{"by": "dsl"}]'},
                                        mode=UpdateMode.MERGE)
    changed = copy.deepcopy(bundle)
    changed["onlineMeeting"]["subject"] = "Year 4 Science (renamed)"
    stores.recorder.record(meeting, evaluate_raw(changed), changed, now=meeting.start + 60)
    again = stores.findings.get(row["PartitionKey"], row["RowKey"])
    assert again is not None
    assert again["Status"] == "acknowledged" and again["Annotations"] == '[{"by": "dsl"}]'
    assert "renamed" in again["Summary"]


def test_a_setting_fixed_before_the_lesson_resolves_its_finding(stores: Stores) -> None:
    bundle = sample(SETTINGS_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start - 7200)
    fixed = copy.deepcopy(bundle)
    fixed["onlineMeeting"]["allowMeetingChat"] = "disabled"
    outcome = stores.recorder.record(meeting, evaluate_raw(fixed), fixed, now=meeting.start - 3600)
    assert len(outcome.resolved_findings) == 1
    chat = [r for r in rows(stores) if r["Rule"] == "meeting-chat-enabled"]
    assert chat[0]["MachineState"] == "resolved"
    broken = copy.deepcopy(fixed)
    broken["onlineMeeting"]["allowMeetingChat"] = "enabled"
    stores.recorder.record(meeting, evaluate_raw(broken), broken, now=meeting.start - 1800)
    chat = [r for r in rows(stores) if r["Rule"] == "meeting-chat-enabled"]
    assert chat[0]["MachineState"] == "open"
    assert not chat[0].get("ResolvedWhy")  # open again: the earlier reason is gone


def test_setting_findings_are_frozen_at_the_lessons_start(stores: Stores) -> None:
    bundle = sample(SETTINGS_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 60)  # freezes
    fixed = copy.deepcopy(bundle)
    fixed["onlineMeeting"]["allowMeetingChat"] = "disabled"  # next week's options fixed in the series
    outcome = stores.recorder.record(meeting, evaluate_raw(fixed), fixed, now=meeting.start + 3600)
    assert outcome.resolved_findings == []
    assert all(r["MachineState"] == "open" for r in rows(stores))
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None and log.settings_frozen
    assert log.entity["FindingsCount"] == 6


def test_thinner_evaluation_never_overwrites_a_fuller_one(stores: Stores) -> None:
    bundle = sample(UNINVITED_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 7200)
    thinner = {k: v for k, v in bundle.items() if k not in ("callRecord", "attendanceReports")}
    outcome = stores.recorder.record(meeting, evaluate_raw(thinner), thinner, now=meeting.start + 7300)
    assert not outcome.written
    assert all(r["MachineState"] == "open" for r in rows(stores))
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None and "held" in log.entity["Stages"]


def test_concurrent_writer_loses_and_retries(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = sample(UNINVITED_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 100)
    real_get = stores.meetings.get
    calls = {"n": 0}

    def racing_get(week: str, occurrence: str):  # another worker writes between our read and our write
        entry = real_get(week, occurrence)
        calls["n"] += 1
        if calls["n"] == 1:
            stores.meetings.table.update_entity({"PartitionKey": week, "RowKey": occurrence, "Note": "x"},
                                                mode=UpdateMode.MERGE)
        return entry

    monkeypatch.setattr(stores.meetings, "get", racing_get)
    recorder = stores.recorder
    outcome = recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 200)
    assert outcome.written and calls["n"] == 2
    monkeypatch.setattr(recorder, "attempts", 1)
    calls["n"] = 0
    with pytest.raises(ConcurrentUpdate):
        recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 300)


def test_out_of_scope_meeting_is_logged_without_evidence_or_findings(stores: Stores) -> None:
    bundle = sample("2026-11-16-0815-staff-briefing")
    meeting = facts(bundle)
    outcome = stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 60)
    assert outcome.written and outcome.new_findings == []
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None
    assert log.entity["InScope"] is False and log.entity["EvidenceBlob"] == ""
    assert list(stores.evidence.container.list_blobs()) == []
    assert rows(stores) == []


def test_in_scope_evidence_is_kept_whole_in_blob_storage(stores: Stores) -> None:
    bundle = sample(UNINVITED_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start)
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None
    assert stores.evidence.load(log.entity["EvidenceBlob"]) == bundle


def test_limits_hashed_keys_and_capped_evidence(stores: Stores) -> None:
    subject = "/\\#?" + "x" * 2000
    finding = Finding("uninvited-attendee", "high", subject, ("G1",), "s" * 5000, {"blob": "y" * 100_000}, "n")
    with pytest.raises(ValueError, match="not a safe table key"):
        MeetingFacts("occ/#?\\", "2026-W48", 1795000000.0, None, "subject", None, None, None)
    meeting = MeetingFacts("0" * 32, "2026-W48", 1795000000.0, None, "subject", None, None, None)
    evaluation = Evaluation([finding], True, ["held"], None, 0, 0, [], [], [])
    stores.recorder.record(meeting, evaluation, None, now=1795000000.0)
    stored = rows(stores)
    assert len(stored) == 1
    assert len(stored[0]["RowKey"]) == 40 and stored[0]["Subject"] == subject
    assert len(stored[0]["Evidence"]) <= EVIDENCE_LIMIT and json.loads(stored[0]["Evidence"])["truncated"]


def test_cancelled_event_resolves_its_occurrence(stores: Stores) -> None:
    # seen only as scheduled (the week before), then cancelled before it took place
    bundle = {k: v for k, v in sample(SETTINGS_BUNDLE).items() if k not in ("callRecord", "attendanceReports")}
    meeting = facts({**bundle, "callRecord": sample(SETTINGS_BUNDLE).get("callRecord")})
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start - 86400)
    resolved = stores.recorder.cancel(meeting, now=meeting.start - 3600, reason="event cancelled")
    assert len(resolved) == 6
    assert all(r["MachineState"] == "resolved" for r in rows(stores))
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None and log.entity["Cancelled"] is True


def test_week_partition_is_the_school_time_zone() -> None:
    # Sunday 29 March 2026 23:30 UTC is Monday 00:30 in London (BST): the next ISO week.
    assert week_of(parse_instant("2026-03-29T23:30:00Z"), LONDON) == "2026-W14"
    assert week_of(parse_instant("2026-03-29T22:30:00Z"), LONDON) == "2026-W13"
    assert week_of(parse_instant("2026-11-29T23:30:00Z"), LONDON) == "2026-W48"


def test_deleting_the_event_after_the_lesson_does_not_silence_its_findings(stores: Stores) -> None:
    bundle = sample(UNINVITED_BUNDLE)  # held: a parent and a pupil from another class joined
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 7200)
    resolved = stores.recorder.cancel(meeting, now=meeting.start + 9000, reason="the event was deleted")
    assert resolved == []
    assert all(r["MachineState"] == "open" for r in rows(stores))
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None and log.entity["Cancelled"] is True
    assert "findings stand" in log.entity["CancelledReason"]


UNSUPERVISED_BUNDLE = "2026-11-17-1600-year6-homework-help"  # held: pupils alone in the call


def _without(evaluation: Evaluation, rule: str) -> Evaluation:
    import dataclasses

    return dataclasses.replace(evaluation, findings=[f for f in evaluation.findings if f.rule != rule])


def test_a_later_reading_of_the_options_never_resolves_a_held_stage_finding(stores: Stores) -> None:
    # The nightly reconcile re-reads the meeting after the teacher restricted the lobby: the same call record,
    # read with the new options, no longer shows the pupils alone. What happened in the call stands.
    bundle = sample(UNSUPERVISED_BUNDLE)
    meeting = facts(bundle)
    evaluation = evaluate_raw(bundle)
    assert "pupils-unsupervised" in {f.rule for f in evaluation.findings}
    stores.recorder.record(meeting, evaluation, bundle, now=meeting.start + 7200)
    reread = copy.deepcopy(bundle)
    reread["onlineMeeting"]["lobbyBypassSettings"] = {"scope": "organizer", "isDialInBypassEnabled": False}
    outcome = stores.recorder.record(meeting, _without(evaluate_raw(reread), "pupils-unsupervised"), reread,
                                     now=meeting.start + 86400)
    assert outcome.written and outcome.resolved_findings == []
    unsupervised = [r for r in rows(stores) if r["Rule"] == "pupils-unsupervised"]
    assert unsupervised and all(r["MachineState"] == "open" for r in unsupervised)
    log = stores.meetings.get(meeting.week, meeting.occurrence_id)
    assert log is not None and log.entity["FindingsCount"] == len(evaluation.findings)


def test_a_corrected_call_record_may_resolve_a_held_stage_finding_and_says_why(stores: Stores) -> None:
    bundle = sample(UNSUPERVISED_BUNDLE)
    meeting = facts(bundle)
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start + 7200)
    corrected = copy.deepcopy(bundle)
    corrected["callRecord"]["version"] = int(corrected["callRecord"].get("version") or 1) + 1
    corrected["callRecord"]["lastModifiedDateTime"] = "2026-11-17T19:00:00Z"
    outcome = stores.recorder.record(meeting, _without(evaluate_raw(corrected), "pupils-unsupervised"), corrected,
                                     now=meeting.start + 10800)
    assert len(outcome.resolved_findings) == 1
    row = next(r for r in rows(stores) if r["Rule"] == "pupils-unsupervised")
    assert row["MachineState"] == "resolved"
    assert "call record" in row["ResolvedWhy"]


def test_a_finding_resolved_by_a_cancellation_says_why(stores: Stores) -> None:
    bundle = {k: v for k, v in sample(SETTINGS_BUNDLE).items() if k not in ("callRecord", "attendanceReports")}
    meeting = facts({**bundle, "callRecord": sample(SETTINGS_BUNDLE).get("callRecord")})
    stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=meeting.start - 86400)
    stores.recorder.cancel(meeting, now=meeting.start - 3600, reason="moved or removed from its series")
    assert {r["ResolvedWhy"] for r in rows(stores)} == {"moved or removed from its series"}
