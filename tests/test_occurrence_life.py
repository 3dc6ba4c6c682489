"""The occurrence's life as pure rules: which occurrences vanished from a series, which findings a re-read may
resolve, which options were in force during the call, and how a cancelled attendee's copy is routed."""

from __future__ import annotations

from shared.occurrence_life import (
    HELD_RULES,
    KnownOccurrence,
    OptionsSnapshot,
    call_fingerprint,
    called_off,
    in_force,
    left_behind,
    options_of,
    resolved_by_going_away,
    snapshot_moment,
    unresolvable_rules,
    vanished,
    with_options,
)
from shared.routing import event


def test_vanished_occurrences_are_those_in_the_window_the_expansion_no_longer_has() -> None:
    known = [KnownOccurrence("a", "2026-W12", 100.0), KnownOccurrence("b", "2026-W12", 200.0),
             KnownOccurrence("c", "2026-W13", 900.0)]
    assert [k.occurrence_id for k in vanished(known, ["a"], 0.0, 500.0)] == ["b"]  # c lies outside the window
    assert vanished(known, ["a", "b"], 0.0, 500.0) == []


def test_held_stage_rules_are_kept_unless_the_call_record_changed() -> None:
    record = {"callRecord": {"id": "r1", "version": 1, "sessions": [{"segments": [{}]}]}}
    fuller = {"callRecord": {"id": "r1", "version": 2, "sessions": [{"segments": [{}]}, {"segments": [{}]}]}}
    first = call_fingerprint(record)
    assert first and first == call_fingerprint(record) != call_fingerprint(fuller)
    assert unresolvable_rules("scheduled held", first, first) == HELD_RULES
    assert unresolvable_rules("scheduled held", first, "") == HELD_RULES  # no call record read this time
    assert unresolvable_rules("scheduled held", first, call_fingerprint(fuller)) == frozenset()
    assert unresolvable_rules("scheduled", "", first) == frozenset()  # first sight of the call


def test_the_options_in_force_are_the_latest_read_before_the_call_ended() -> None:
    scheduling = OptionsSnapshot(10.0, "scheduling", {"allowMeetingChat": "enabled"})
    during = OptionsSnapshot(50.0, "after-start", {"allowMeetingChat": "limited"})
    later = OptionsSnapshot(500.0, "call-record", {"allowMeetingChat": "disabled"})
    assert in_force([later, scheduling, during], call_end=100.0) == during
    assert in_force([later], call_end=100.0) == later  # nothing read before: the first reading
    assert in_force([], call_end=100.0) is None
    bundle = {"onlineMeeting": {"id": "m", "subject": "Maths", "allowMeetingChat": "disabled",
                                "lobbyBypassSettings": {"scope": "organizer"}}}
    judged = with_options(bundle, OptionsSnapshot(1.0, "scheduling", options_of(
        {"allowMeetingChat": "enabled", "lobbyBypassSettings": {"scope": "organization"}, "subject": "x"})))
    assert judged["onlineMeeting"] == {"id": "m", "subject": "Maths", "allowMeetingChat": "enabled",
                                       "lobbyBypassSettings": {"scope": "organization"}}
    assert bundle["onlineMeeting"]["allowMeetingChat"] == "disabled"  # the read bundle is left alone


def test_a_cancelled_attendee_copy_is_never_absorbed_into_the_organisers() -> None:
    identity = {"iCalUId": "ical-1", "type": "occurrence", "seriesMasterId": "pupil-master", "isOrganizer": False}
    live = event("pupil", "e1", identity)
    cancelled = event("pupil", "e1", {**identity, "isCancelled": True})
    organisers = event("teacher", "e9", {**identity, "seriesMasterId": "pupil-master", "isOrganizer": True})
    assert live.key == organisers.key  # coalesced: one evaluation from the organiser's copy
    assert cancelled.key != organisers.key and cancelled.preferred


def test_a_reading_of_the_options_is_named_by_when_it_was_taken() -> None:
    start = 100_000.0
    assert snapshot_moment(start - 3 * 86400, start, held=False) == "scheduling"
    assert snapshot_moment(start - 3601, start, held=False) == "scheduling"
    assert snapshot_moment(start - 3600, start, held=False) == "preflight"  # the preflight timer's hour
    assert snapshot_moment(start - 1, start, held=False) == "preflight"
    assert snapshot_moment(start, start, held=False) == "after-start"
    assert snapshot_moment(start - 86400, start, held=True) == "call-record"


def test_a_lesson_that_took_place_is_never_called_off_by_a_later_change_to_its_event() -> None:
    assert called_off({"Cancelled": True, "Stages": "scheduled"})
    assert not called_off({"Cancelled": True, "Stages": "scheduled held"})  # deleted after the lesson
    assert not called_off({"Stages": "scheduled"}) and not called_off({})
    assert resolved_by_going_away("moved or removed from its series")
    assert resolved_by_going_away("cancelled in an attendee's copy of the event")
    assert not resolved_by_going_away("a later reading of the meeting no longer shows it")
    assert not resolved_by_going_away(None) and not resolved_by_going_away("")


def test_an_exception_names_the_slot_it_left() -> None:
    known = [KnownOccurrence("wed", "2026-W13", 1000.0), KnownOccurrence("thu", "2026-W13", 87400.0)]
    assert left_behind(known, 1000.0, "thu") == [known[0]]  # moved from Wednesday to Thursday
    assert left_behind(known, 1000.0, "wed") == []  # an exception edited in place (its subject, say)
    assert left_behind(known, 5000.0, "thu") == []  # a slot never known
