"""Which gaps in a meeting's evidence reconcile reads again, and how: pure rules of ``shared.routing``."""

from __future__ import annotations

from shared.routing import passing_gap, read_again


def test_a_gap_that_may_pass_is_read_again_and_one_that_stands_is_not() -> None:
    assert passing_gap({"kind": "attendanceReports", "reason": "503 Service Unavailable"})
    assert passing_gap({"kind": "callRecord", "reason": "599 connection lost"})
    assert passing_gap({"kind": "recordings", "reason": ""})
    assert not passing_gap({"kind": "onlineMeeting", "reason": "403 No Application Access Policy found"})
    assert not passing_gap({"kind": "callRecord", "reason": "404 not found (c-1)"})
    assert not passing_gap({"kind": "recordings", "reason": "400 channel meeting", "unsupported": True})


def test_an_occurrence_is_read_again_from_its_call_record_else_its_event() -> None:
    held = {"callRecord": {"id": "c-1"}, "event": {"id": "e-1", "iCalUId": "i-1"}}
    assert read_again(held, "t-1").message == {"kind": "callRecord", "id": "c-1"}  # type: ignore[union-attr]
    restarted = {"callRecords": [{"id": "c-2"}], "event": {"id": "e-1"}}
    assert read_again(restarted, "t-1").message == {"kind": "callRecord", "id": "c-2"}  # type: ignore[union-attr]
    scheduled = {"event": {"id": "e-1", "iCalUId": "i-1"}}
    assert read_again(scheduled, "t-1").message == {  # type: ignore[union-attr]
        "kind": "event", "mailbox": "t-1", "eventId": "e-1"}
    assert read_again(scheduled, None) is None and read_again(None, "t-1") is None and read_again({}, "t-1") is None
