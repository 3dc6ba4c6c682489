"""Tests of the rule `consent-missing` (shared/policy/rules/consent_missing.py)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    HEAD,
    ISLA,
    NOAH,
    OLIVER,
    TA,
    TEACHER,
    YEAR5_GROUP,
    attendance_record,
    attendance_report,
    call_record,
    channel_lesson,
    evaluate,
    event,
    finding,
    lesson_sessions,
    online_meeting,
    subjects,
)
from tests.rules.helpers import lesson_with_present, private_meeting


def consent(ev):
    return subjects(ev, "consent-missing")


def test_present_pupil_without_consent_is_consent_missing():
    f = finding(evaluate(lesson_with_present(NOAH)), "consent-missing", NOAH.id)
    assert f.severity == "high"
    assert NOAH.id in str(f.evidence) or NOAH.name in str(f.evidence)


def test_pupil_listed_as_participant_without_times_needs_consent():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record(lesson_sessions(), participants=[TEACHER, AMELIA, OLIVER, ISLA, NOAH])
    assert consent(evaluate(bundle)) == {NOAH.id}


def test_pupils_with_consent_raise_no_consent_finding():
    assert consent(evaluate(channel_lesson())) == set()


def test_class_team_membership_alone_does_not_need_consent():
    # NOAH is a member of the Year 5 team and of the Year 5 group, invited through both, and absent
    assert NOAH.id not in consent(evaluate(channel_lesson()))


def test_invited_group_membership_alone_does_not_need_consent():
    assert consent(evaluate(private_meeting((YEAR5_GROUP,), (AMELIA, OLIVER)))) == set()


def test_pupil_invited_individually_on_the_event_needs_consent_even_if_absent():
    bundle = private_meeting((AMELIA, NOAH), (AMELIA,))
    assert consent(evaluate(bundle)) == {NOAH.id}


def test_pupil_invited_individually_by_upper_case_address_needs_consent():
    bundle = private_meeting((AMELIA, "Noah.Okoro@Elmgrove.SCH.UK"), (AMELIA,))
    assert consent(evaluate(bundle)) == {NOAH.id}


def test_pupil_invited_as_an_online_meeting_attendee_needs_consent_even_if_absent():
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(attendees=(NOAH,))
    assert consent(evaluate(bundle)) == {NOAH.id}


def test_pupil_invited_by_proxy_address_without_consent_is_consent_missing():
    bundle = private_meeting((AMELIA, "o.bennett@elmgrove.sch.uk"), (AMELIA,))
    bundle["directory"]["consent"].remove(OLIVER.id)
    assert consent(evaluate(bundle)) == {OLIVER.id}


def test_consent_missing_once_per_pupil_when_both_invited_and_present():
    bundle = lesson_with_present(NOAH)
    bundle["onlineMeeting"] = online_meeting(attendees=(NOAH,))
    bundle["event"] = event(attendees=(YEAR5_GROUP, NOAH))
    ev = evaluate(bundle)
    assert [f.subject for f in ev.findings if f.rule == "consent-missing"] == [NOAH.id]


def test_pupil_present_only_in_an_attendance_report_needs_consent():
    bundle = channel_lesson()
    del bundle["callRecord"]
    bundle["attendanceReports"] = [attendance_report(
        attendance_record(TEACHER, ("08:58", "09:46"), role="Organizer"), attendance_record(NOAH))]
    assert consent(evaluate(bundle)) == {NOAH.id}


def test_staff_and_adults_are_not_in_the_consent_register_and_need_not_be():
    ev = evaluate(lesson_with_present(HEAD, TA))
    assert consent(ev) == set()


def test_consent_missing_example_evidence_is_exact():
    """The example on docs/rules/consent-missing.md gives exactly this evidence, value for value."""
    spec = catalogue()["consent-missing"]
    found = finding(evaluate(spec.example()), spec.id, "9ab9df51-3ec9-489b-a120-ae8b73526283")
    expected = {"pupil": {"id": "9ab9df51-3ec9-489b-a120-ae8b73526283", "displayName": "Oliver Bennett"},
                "how": "present"}
    assert found.evidence == expected
