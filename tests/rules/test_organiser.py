"""organiser-not-staff and organiser-not-school-account (docs/rules.md: the organiser is
onlineMeeting participants.organizer, else the event organizer, else the call record's organizer_v2/organizer)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    GUEST,
    HEAD,
    OTHER_TEACHER,
    OTHER_TENANT,
    PARENT,
    TA,
    TEACHER,
    call_record,
    channel_lesson,
    evaluate,
    event,
    finding,
    lesson_sessions,
    online_meeting,
    rules,
    session,
)

ORGANISER_RULES = {"organiser-not-staff", "organiser-not-school-account"}


def organised_by(person, **kwargs):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(organizer=person, **kwargs)
    return bundle


def test_teacher_organising_the_lesson_raises_no_organiser_finding():
    assert rules(evaluate(organised_by(TEACHER))) & ORGANISER_RULES == set()


def test_pupil_organising_a_meeting_is_organiser_not_staff():
    ev = evaluate(organised_by(AMELIA))
    f = finding(ev, "organiser-not-staff", None)
    assert f.severity == "high"
    assert AMELIA.id in f.evidence.values() or AMELIA.id in str(f.evidence)
    assert "organiser-not-school-account" not in rules(ev)


def test_teaching_assistant_outside_the_staff_group_organising_is_organiser_not_staff():
    ev = evaluate(organised_by(TA))
    assert TA.id in str(finding(ev, "organiser-not-staff", None).evidence)
    assert "organiser-not-school-account" not in rules(ev)


def test_guest_organiser_is_not_a_school_account():
    ev = evaluate(organised_by(GUEST))
    f = finding(ev, "organiser-not-school-account", None)
    assert f.severity == "high"
    assert GUEST.id in str(f.evidence)
    assert "organiser-not-staff" not in rules(ev)


def test_teacher_from_another_school_tenant_organising_is_not_a_school_account():
    ev = evaluate(organised_by(OTHER_TEACHER))
    finding(ev, "organiser-not-school-account", None)
    assert "organiser-not-staff" not in rules(ev)


def test_staff_member_whose_payload_names_another_tenant_is_judged_on_the_account_itself():
    # staff are never external for uninvited-attendee, but organiser-not-school-account judges the account
    ev = evaluate(organised_by(TEACHER.at_tenant(OTHER_TENANT)))
    finding(ev, "organiser-not-school-account", None)
    assert "organiser-not-staff" not in rules(ev)


def test_null_tenant_id_on_the_school_organiser_decides_nothing():
    assert rules(evaluate(organised_by(TEACHER.at_tenant(None)))) & ORGANISER_RULES == set()


def test_organiser_comes_from_the_event_when_there_is_no_online_meeting():
    bundle = channel_lesson()
    del bundle["onlineMeeting"]
    bundle["event"] = event(organizer=AMELIA)
    bundle["callRecord"] = call_record(lesson_sessions(), organizer=AMELIA)
    assert "organiser-not-staff" in rules(evaluate(bundle))


def test_event_organiser_address_is_matched_case_insensitively():
    bundle = channel_lesson()
    del bundle["onlineMeeting"]
    bundle["event"] = event(organizer="Amelia.Clarke@ELMGROVE.sch.uk")
    bundle["callRecord"] = call_record(lesson_sessions(), organizer=AMELIA)
    assert "organiser-not-staff" in rules(evaluate(bundle))


def test_event_organiser_address_unknown_to_the_directory_is_not_a_school_account():
    bundle = channel_lesson()
    del bundle["onlineMeeting"]
    del bundle["callRecord"]
    bundle["event"] = event(organizer=PARENT.mail)
    ev = evaluate(bundle)
    finding(ev, "organiser-not-school-account", None)
    assert "organiser-not-staff" not in rules(ev)


def test_online_meeting_organiser_takes_precedence_over_the_event_organiser():
    bundle = channel_lesson()
    bundle["event"] = event(organizer=AMELIA)
    assert rules(evaluate(bundle)) & ORGANISER_RULES == set()


def test_organiser_comes_from_the_call_record_when_there_is_no_meeting_or_event():
    bundle = channel_lesson()
    del bundle["onlineMeeting"], bundle["event"]
    bundle["callRecord"] = call_record(lesson_sessions(), organizer=AMELIA)
    assert "organiser-not-staff" in rules(evaluate(bundle))


def test_organiser_is_read_from_the_deprecated_call_record_organizer():
    bundle = channel_lesson()
    del bundle["onlineMeeting"], bundle["event"]
    bundle["callRecord"] = call_record(lesson_sessions(), organizer=AMELIA, deprecated=True)
    assert "organiser-not-staff" in rules(evaluate(bundle))


def test_guest_organiser_in_the_call_record_is_not_a_school_account():
    bundle = channel_lesson()
    del bundle["onlineMeeting"], bundle["event"]
    bundle["callRecord"] = call_record([*lesson_sessions(), session(GUEST, "09:00", "09:45")], organizer=GUEST)
    assert "organiser-not-school-account" in rules(evaluate(bundle))


def test_second_staff_member_organising_is_fine():
    assert rules(evaluate(organised_by(HEAD))) & ORGANISER_RULES == set()


def test_organiser_not_staff_example_evidence_is_exact():
    """The example on docs/rules/organiser-not-staff.md gives exactly this evidence, value for value."""
    spec = catalogue()["organiser-not-staff"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"organiser": {"id": "4b5e50c3-b3a6-4aa7-b54d-74965cd16755",
                              "displayName": "Amelia Clarke",
                              "role": "pupil",
                              "userPrincipalName": "amelia.clarke@elmgrove.sch.uk"}}
    assert found.evidence == expected


def test_organiser_not_school_account_example_evidence_is_exact():
    """The example on docs/rules/organiser-not-school-account.md gives exactly this evidence, value for value."""
    spec = catalogue()["organiser-not-school-account"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"organiser": {"id": "0b8e2f4a-9d1c-4f6e-8a3b-2c5d7e9f1a4b",
                              "displayName": "Sarah Patel",
                              "role": "external",
                              "userPrincipalName": "sarah.patel@outlook.com",
                              "tenantId": "9188040d-6c67-4c5b-b112-36a304b66dad"}}
    assert found.evidence == expected
