"""Tests of the rule `uninvited-attendee` (shared/policy/rules/uninvited_attendee.py)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    ANONYMOUS,
    CALLER,
    GUEST,
    HEAD,
    ISLA,
    OLIVER,
    OTHER_TENANT,
    PARENT,
    PRIVATE_THREAD,
    RUBY,
    TA,
    TEACHER,
    YEAR5_GROUP,
    YEAR5_SCIENCE,
    NonUser,
    attendance_record,
    attendance_report,
    call_record,
    channel_lesson,
    evaluate,
    event,
    finding,
    join_url,
    lesson_sessions,
    online_meeting,
    peer_to_peer,
    rules,
    session,
)
from tests.rules.helpers import group_call_without_a_meeting, lesson_with_present, private_meeting, uninvited


def test_everyone_present_in_the_class_lesson_was_invited():
    assert uninvited(evaluate(channel_lesson())) == set()


def test_parent_joining_as_guest_is_uninvited():
    f = finding(evaluate(lesson_with_present(GUEST)), "uninvited-attendee", GUEST.id)
    assert f.severity == "high"
    assert GUEST.id in str(f.evidence)


def test_parent_with_a_consumer_account_is_uninvited():
    ev = evaluate(lesson_with_present(PARENT))
    assert uninvited(ev) == {PARENT.id}


def test_pupil_from_another_class_is_uninvited():
    assert uninvited(evaluate(lesson_with_present(RUBY))) == {RUBY.id}


def test_anonymous_joiner_is_uninvited_under_their_display_name_or_id():
    ev = evaluate(lesson_with_present(ANONYMOUS))
    assert uninvited(ev) in ({ANONYMOUS.name}, {ANONYMOUS.id})


def test_phone_caller_is_uninvited_under_their_number():
    assert uninvited(evaluate(lesson_with_present(CALLER))) == {CALLER.id}


def test_one_finding_per_uninvited_participant_however_often_they_join():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([*lesson_sessions(), session(PARENT, "09:05", "09:10"),
                                        session(PARENT, "09:12", "09:20")])
    ev = evaluate(bundle)
    assert [f.subject for f in ev.findings if f.rule == "uninvited-attendee"] == [PARENT.id]


def test_staff_member_not_invited_is_never_uninvited():
    assert uninvited(evaluate(lesson_with_present(HEAD))) == set()


def test_staff_member_with_another_tenant_id_is_never_uninvited():
    assert uninvited(evaluate(lesson_with_present(HEAD.at_tenant(OTHER_TENANT)))) == set()


def test_staff_member_whose_directory_entry_looks_like_a_guest_is_never_uninvited():
    bundle = lesson_with_present(HEAD)
    bundle["directory"]["users"][HEAD.id].update(
        userPrincipalName="d.hughes_oakfield.sch.uk#EXT#@elmgrove.onmicrosoft.com", userType="Guest")
    assert uninvited(evaluate(bundle)) == set()


def test_invited_pupil_with_an_odd_tenant_id_is_not_external():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER, "08:58", "09:46"),
                                        session(AMELIA.at_tenant(OTHER_TENANT), "09:00", "09:45")])
    assert uninvited(evaluate(bundle)) == set()


def test_teaching_assistant_outside_the_staff_group_is_never_uninvited():
    bundle = private_meeting((AMELIA, OLIVER), (AMELIA, OLIVER))
    bundle["callRecord"]["sessions"].append(session(TA, "09:00", "09:45"))
    bundle["callRecord"] = call_record(bundle["callRecord"]["sessions"], join_web_url=join_url(PRIVATE_THREAD))
    ev = evaluate(bundle)
    assert uninvited(ev) == set()
    assert TA.id in {a["id"] for a in ev.unclassified_adults}


def test_pupil_invited_through_the_class_group_address_is_invited():
    bundle = private_meeting(("Year5@Elmgrove.sch.uk",), (AMELIA, OLIVER, ISLA))
    assert uninvited(evaluate(bundle)) == set()


def test_pupil_not_in_the_invited_group_is_uninvited():
    bundle = private_meeting((YEAR5_GROUP,), (AMELIA, RUBY))
    assert uninvited(evaluate(bundle)) == {RUBY.id}


def test_pupil_invited_by_a_proxy_address_is_invited():
    # OLIVER's proxyAddresses hold "smtp:O.Bennett@Elmgrove.sch.uk"
    bundle = private_meeting(("o.bennett@elmgrove.sch.uk", AMELIA), (AMELIA, OLIVER))
    assert uninvited(evaluate(bundle)) == set()


def test_pupil_invited_by_user_principal_name_in_another_case_is_invited():
    bundle = private_meeting(("2019OBennett@ELMGROVE.sch.uk", AMELIA), (AMELIA, OLIVER))
    assert uninvited(evaluate(bundle)) == set()


def test_pupil_invited_as_an_online_meeting_attendee_is_invited():
    bundle = private_meeting((AMELIA,), (AMELIA, ISLA), online_attendees=(ISLA,))
    assert uninvited(evaluate(bundle)) == set()


def test_pupil_missing_from_an_individual_invitation_is_uninvited():
    bundle = private_meeting((AMELIA,), (AMELIA, ISLA))
    assert uninvited(evaluate(bundle)) == {ISLA.id}


def test_class_team_members_are_invited_to_a_channel_meeting():
    bundle = channel_lesson()
    bundle["event"] = event(attendees=(HEAD,))  # nobody else on the invitation
    assert uninvited(evaluate(bundle)) == set()


def test_class_team_members_are_invited_to_a_meeting_in_another_channel_of_the_team():
    bundle = channel_lesson()
    bundle["event"] = event(thread=YEAR5_SCIENCE, attendees=(HEAD,))
    bundle["onlineMeeting"] = online_meeting(thread=YEAR5_SCIENCE)
    ev = evaluate(bundle)
    assert uninvited(ev) == set()
    assert ev.in_scope


def test_invited_guest_is_not_uninvited():
    bundle = lesson_with_present(GUEST)
    bundle["event"] = event(attendees=(YEAR5_GROUP, "Alex.Morgan@outlook.com"))
    assert uninvited(evaluate(bundle)) == set()


def test_external_invited_as_an_online_meeting_attendee_is_not_uninvited():
    bundle = lesson_with_present(PARENT)
    bundle["onlineMeeting"] = online_meeting(attendees=(PARENT,))
    assert uninvited(evaluate(bundle)) == set()


def test_external_invited_by_their_own_address_on_the_event_is_not_uninvited():
    bundle = lesson_with_present(PARENT)
    bundle["event"] = event(attendees=(YEAR5_GROUP, PARENT.mail))
    assert uninvited(evaluate(bundle)) == set()


def test_anonymous_joiner_without_a_name_is_uninvited_under_their_guest_id():
    nameless = NonUser("guest", "8:teamsvisitor:9b2e4c6a8d0f1e3a", None)
    assert uninvited(evaluate(lesson_with_present(nameless))) == {nameless.id}


def test_school_user_with_a_null_tenant_id_is_still_a_school_account():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER.at_tenant(None), "08:58", "09:46"),
                                        session(AMELIA.at_tenant(None), "09:00", "09:45"),
                                        session(OLIVER.at_tenant(None), "09:00", "09:45")])
    assert evaluate(bundle).findings == []


def test_directory_user_with_an_ext_upn_is_external():
    bundle = lesson_with_present(GUEST)
    bundle["directory"]["users"][GUEST.id]["userType"] = "Member"
    assert uninvited(evaluate(bundle)) == {GUEST.id}


def test_directory_user_of_type_guest_is_external():
    bundle = lesson_with_present(GUEST)
    bundle["directory"]["users"][GUEST.id]["userPrincipalName"] = "alex.morgan@elmgrove.sch.uk"
    assert uninvited(evaluate(bundle)) == {GUEST.id}


def test_staff_member_missing_from_directory_users_is_still_staff():
    bundle = lesson_with_present(HEAD)
    del bundle["directory"]["users"][HEAD.id]
    assert uninvited(evaluate(bundle)) == set()


def test_pupil_invited_by_an_upper_case_smtp_proxy_address_is_invited():
    bundle = private_meeting((AMELIA, "isla.n@elmgrove.sch.uk"), (AMELIA, ISLA))
    bundle["directory"]["users"][ISLA.id]["proxyAddresses"] = ["SMTP:Isla.N@Elmgrove.sch.uk"]
    assert uninvited(evaluate(bundle)) == set()


def test_anonymous_and_phone_participants_are_never_invited():
    bundle = lesson_with_present(ANONYMOUS, CALLER)
    bundle["event"] = event(attendees=(YEAR5_GROUP, "Grandad Clarke (Unverified)", CALLER.id))
    assert len(uninvited(evaluate(bundle))) == 2


def test_participant_listed_without_a_session_is_still_present():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record(lesson_sessions(), participants=[TEACHER, AMELIA, OLIVER, ISLA, RUBY])
    assert uninvited(evaluate(bundle)) == {RUBY.id}


def test_uninvited_pupil_is_read_from_a_deprecated_session_identity():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([*lesson_sessions(), session(RUBY, "09:05", "09:40", deprecated=True)],
                                       participants=[])
    del bundle["callRecord"]["participants_v2"]
    assert uninvited(evaluate(bundle)) == {RUBY.id}


def test_uninvited_people_are_read_from_deprecated_call_record_participants():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([*lesson_sessions(), session(RUBY, "09:05", "09:40", deprecated=True),
                                        session(ANONYMOUS, "09:05", "09:06")], deprecated=True)
    ev = evaluate(bundle)
    assert RUBY.id in uninvited(ev)
    assert len(uninvited(ev)) == 2


def test_uninvited_joiner_of_a_later_call_record_is_found():
    bundle = channel_lesson()
    bundle["callRecords"] = [call_record([session(TEACHER, "09:50", "09:55"), session(PARENT, "09:50", "09:55")],
                                         record_id="5b0e6c2d-1f3a-4e8b-9c7d-2a4f6e8b0c1d")]
    assert uninvited(evaluate(bundle)) == {PARENT.id}


def test_attendance_report_participant_resolved_by_address():
    bundle = channel_lesson()
    del bundle["callRecord"]
    isla = attendance_record(ISLA, ("09:00", "09:45"))
    ruby = attendance_record(RUBY, ("09:00", "09:45"))
    for record in (isla, ruby):
        record["identity"]["id"] = ""
        record["id"] = "rec-" + record["emailAddress"]
    bundle["attendanceReports"] = [attendance_report(
        attendance_record(TEACHER, ("08:58", "09:46"), role="Organizer"), isla, ruby)]
    assert uninvited(evaluate(bundle)) == {RUBY.id}


def test_uninvited_parent_in_an_attendance_report():
    bundle = channel_lesson()
    del bundle["callRecord"]
    bundle["attendanceReports"] = [attendance_report(
        attendance_record(TEACHER, ("08:58", "09:46"), role="Organizer"),
        attendance_record(AMELIA, ("09:00", "09:45")), attendance_record(PARENT, ("09:05", "09:07")))]
    assert uninvited(evaluate(bundle)) == {PARENT.id}


def test_school_accounts_in_a_call_without_a_meeting_count_as_invited():
    ev = evaluate(group_call_without_a_meeting(TEACHER, AMELIA, RUBY, TA))
    assert uninvited(ev) == set()
    assert "unscheduled-call-with-pupil" in rules(ev)


def test_externals_in_a_call_without_a_meeting_are_uninvited():
    assert uninvited(evaluate(group_call_without_a_meeting(TEACHER, AMELIA, PARENT))) == {PARENT.id}


def test_both_parties_of_a_peer_to_peer_call_are_invited():
    assert uninvited(evaluate(peer_to_peer(TEACHER, AMELIA))) == set()


def test_rule_switched_off_with_a_reason_raises_no_finding(policy_file):
    policy = policy_file('[rules.uninvited-attendee]\nenabled = false\nreason = "Tested by the DSL by hand"\n')
    ev = evaluate(lesson_with_present(PARENT, RUBY), policy)
    assert uninvited(ev) == set()
    assert evaluate(lesson_with_present(PARENT, RUBY)).findings  # the same evidence fires under the default


def test_uninvited_attendee_example_evidence_is_exact():
    """The example on docs/rules/uninvited-attendee.md gives exactly this evidence, value for value."""
    spec = catalogue()["uninvited-attendee"]
    found = finding(evaluate(spec.example()), spec.id, "77e7f0ce-44cb-4689-afd9-4ce7df980741")
    expected = {"participant": {"id": "77e7f0ce-44cb-4689-afd9-4ce7df980741",
                                "displayName": "Noah Okoro",
                                "role": "pupil",
                                "userPrincipalName": "noah.okoro@elmgrove.sch.uk",
                                "tenantId": "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"},
                "present": [["2026-03-10T09:10:00Z", "2026-03-10T09:15:00Z"]]}
    assert found.evidence == expected
