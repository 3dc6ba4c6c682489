"""Tests of the rule `one-to-one-with-pupil` (shared/policy/rules/one_to_one_with_pupil.py)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    HEAD,
    OLIVER,
    PARENT,
    TA,
    TEACHER,
    attendance_record,
    attendance_report,
    call_record,
    channel_lesson,
    evaluate,
    finding,
    pairs,
    peer_to_peer,
    private_lesson,
    rules,
    session,
)
from tests.rules.helpers import private_meeting, uninvited


def one_to_one(ev):
    return ("one-to-one-with-pupil", None) in pairs(ev)


def only_present(*people, bundle=None):
    bundle = bundle or channel_lesson()
    bundle["callRecord"] = call_record([session(p, "09:00", "09:45") for p in people],
                                       join_web_url=bundle["callRecord"]["joinWebUrl"])
    return bundle


def test_teacher_alone_with_one_pupil_is_one_to_one():
    ev = evaluate(only_present(TEACHER, AMELIA))
    f = finding(ev, "one-to-one-with-pupil", None)
    assert f.severity == "advisory"
    assert ev.compliant  # advisories do not make a meeting non-compliant


def test_one_to_one_in_a_private_meeting():
    assert one_to_one(evaluate(private_lesson(AMELIA)))


def test_two_pupils_are_not_one_to_one():
    assert not one_to_one(evaluate(only_present(TEACHER, AMELIA, OLIVER)))


def test_second_staff_member_present_is_not_one_to_one():
    assert not one_to_one(evaluate(only_present(TEACHER, HEAD, AMELIA)))


def test_teaching_assistant_present_is_not_one_to_one():
    assert not one_to_one(evaluate(only_present(TEACHER, TA, AMELIA)))


def test_anyone_else_present_is_not_one_to_one():
    ev = evaluate(only_present(TEACHER, AMELIA, PARENT))
    assert not one_to_one(ev)
    assert uninvited(ev) == {PARENT.id}


def test_one_to_one_needs_presence_evidence():
    bundle = private_meeting((AMELIA,), ())
    del bundle["callRecord"]
    assert not one_to_one(evaluate(bundle))


def test_one_to_one_from_an_attendance_report():
    bundle = private_meeting((AMELIA,), ())
    del bundle["callRecord"]
    bundle["attendanceReports"] = [attendance_report(attendance_record(TEACHER, ("09:00", "09:45"), role="Organizer"),
                                                     attendance_record(AMELIA, ("09:01", "09:44")))]
    assert one_to_one(evaluate(bundle))


def test_pupil_present_without_times_counts_for_one_to_one():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER, "09:00", "09:45")], participants=[TEACHER, AMELIA])
    assert one_to_one(evaluate(bundle))


def test_peer_to_peer_call_is_not_a_scheduled_one_to_one():
    ev = evaluate(peer_to_peer(TEACHER, AMELIA))
    assert not one_to_one(ev)
    assert "unscheduled-call-with-pupil" in rules(ev)


def test_one_to_one_with_pupil_example_evidence_is_exact():
    """The example on docs/rules/one-to-one-with-pupil.md gives exactly this evidence, value for value."""
    spec = catalogue()["one-to-one-with-pupil"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"staff": {"id": "e995966a-ce95-4262-9671-04eb4ce9f070",
                          "displayName": "Sarah Patel",
                          "role": "staff",
                          "userPrincipalName": "s.patel@elmgrove.sch.uk"},
                "pupil": {"id": "4b5e50c3-b3a6-4aa7-b54d-74965cd16755",
                          "displayName": "Amelia Clarke",
                          "role": "pupil",
                          "userPrincipalName": "amelia.clarke@elmgrove.sch.uk",
                          "tenantId": "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"}}
    assert found.evidence == expected
