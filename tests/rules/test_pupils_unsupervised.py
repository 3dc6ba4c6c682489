"""pupils-unsupervised: pupils present with no staff member present for longer than the threshold.

Presence comes from call-record sessions (merged across call records), else from attendance reports; overlapping
intervals of one person merge; presence without times does not count here; lobby waiting before the first staff
member joins is excluded when the organiser is staff and the lobby scope is allowed."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    HEAD,
    ISLA,
    OLIVER,
    TA,
    TEACHER,
    attendance_record,
    attendance_report,
    call_record,
    channel_lesson,
    evaluate,
    evidence_text,
    evidence_values,
    finding,
    online_meeting,
    rules,
    session,
)


def lesson(sessions, **meeting):
    bundle = channel_lesson()
    bundle["callRecord"] = call_record(sessions)
    if meeting:
        bundle["onlineMeeting"] = online_meeting(**meeting)
    return bundle


def teacher_leaves_before_pupil(teacher_leaves: str, pupil_leaves: str = "09:45:00.5"):
    return lesson([session(TEACHER, "08:58:02.441", teacher_leaves), session(AMELIA, "09:00:15.302", pupil_leaves)])


def unsupervised(ev):
    return "pupils-unsupervised" in rules(ev)


def seconds_in(f):
    return [v for v in evidence_values(f) if isinstance(v, int | float) and not isinstance(v, bool)]


def test_teacher_present_throughout_leaves_no_pupil_unsupervised():
    assert not unsupervised(evaluate(channel_lesson()))


def test_pupil_left_alone_for_61_seconds_is_unsupervised():
    f = finding(evaluate(teacher_leaves_before_pupil("09:43:59.5")), "pupils-unsupervised", None)
    assert f.severity == "high"
    assert 61 in seconds_in(f)


def test_times_with_offsets_and_any_fractional_digits_are_compared_exactly():
    bundle = teacher_leaves_before_pupil("09:44:00.5")
    teacher, pupil = bundle["callRecord"]["sessions"]
    teacher["endDateTime"] = "2026-03-10T10:44:00.5+01:00"  # 09:44:00.5Z
    pupil["endDateTime"] = "2026-03-10T09:45:00.50Z"
    assert not unsupervised(evaluate(bundle))  # exactly 60 s
    pupil["endDateTime"] = "2026-03-10T09:45:01Z"
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 60.5 in seconds_in(f)


def test_pupil_left_alone_for_exactly_60_seconds_is_not_over_the_threshold():
    assert not unsupervised(evaluate(teacher_leaves_before_pupil("09:44:00.5")))


def test_threshold_compares_the_exact_time_with_seven_fractional_digits():
    # 60.0000001 s: strictly greater than 60
    assert unsupervised(evaluate(teacher_leaves_before_pupil("09:44:00.4999999")))


def test_half_a_second_over_the_threshold_fires():
    assert unsupervised(evaluate(teacher_leaves_before_pupil("09:44:00", "09:45:00.5")))


def test_threshold_comes_from_the_policy(policy_file):
    bundle = teacher_leaves_before_pupil("09:43:30.5")  # 90 s
    assert unsupervised(evaluate(bundle))
    assert not unsupervised(evaluate(bundle, policy_file("[rules.pupils-unsupervised]\nthreshold_seconds = 120\n")))


def test_teacher_stepping_out_mid_lesson_is_unsupervised_with_the_longest_gap_in_evidence():
    bundle = lesson([
        session(TEACHER, "08:58", "09:10"),
        session(TEACHER, "09:10:40", "09:20"),  # a 40 s gap first
        session(TEACHER, "09:25", "09:46"),  # then a 300 s gap
        session(AMELIA, "09:00", "09:45"),
    ])
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 340 in seconds_in(f)
    text = evidence_text(f)
    assert "09:20:00" in text and "09:25:00" in text


def test_several_short_gaps_add_up():
    bundle = lesson([
        session(TEACHER, "08:58", "09:10"),
        session(TEACHER, "09:10:40", "09:20"),  # 40 s
        session(TEACHER, "09:20:30", "09:46"),  # 30 s
        session(AMELIA, "09:00", "09:45"),
    ])
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 70 in seconds_in(f)
    assert "09:10:00" in evidence_text(f) and "09:10:40" in evidence_text(f)


def test_another_staff_member_covering_keeps_pupils_supervised():
    bundle = lesson([session(TEACHER, "08:58", "09:20"), session(HEAD, "09:19", "09:46"),
                     session(AMELIA, "09:00", "09:45")])
    assert not unsupervised(evaluate(bundle))


def test_teaching_assistant_outside_the_staff_group_is_not_supervision():
    bundle = lesson([session(TEACHER, "08:58", "09:20"), session(TA, "08:58", "09:46"),
                     session(AMELIA, "09:00", "09:45")])
    assert unsupervised(evaluate(bundle))


def test_overlapping_intervals_of_one_pupil_are_merged():
    # union alone: 09:44:00 - 09:44:50 = 50 s; counting each session separately would give 80 s
    bundle = lesson([session(TEACHER, "08:58", "09:44"), session(AMELIA, "09:00", "09:44:40"),
                     session(AMELIA, "09:44:10", "09:44:50")])
    assert not unsupervised(evaluate(bundle))


def test_pupils_alone_together_count_once(policy_file):
    # Amelia 09:44:00-09:45:00 and Oliver 09:44:00-09:45:30 alone: 90 s of unsupervised time, not 150 s
    bundle = lesson([session(TEACHER, "08:58", "09:44"), session(AMELIA, "09:00", "09:45"),
                     session(OLIVER, "09:00", "09:45:30")])
    assert not unsupervised(evaluate(bundle, policy_file("[rules.pupils-unsupervised]\nthreshold_seconds = 100\n")))
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 90 in seconds_in(f)


def test_teacher_on_two_devices_is_merged_into_one_presence():
    bundle = lesson([session(TEACHER, "08:58", "09:30"), session(TEACHER, "09:29", "09:46"),
                     session(AMELIA, "09:00", "09:45")])
    assert not unsupervised(evaluate(bundle))


def test_presence_without_times_does_not_count_for_unsupervised():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER, "09:00", "09:10")], participants=[TEACHER, AMELIA])
    assert not unsupervised(evaluate(bundle))


# -- the lobby --------------------------------------------------------------------------------------------


def early_pupil(**meeting):
    return lesson([session(TEACHER, "09:00", "09:46"), session(AMELIA, "08:55", "09:45")], **meeting)


def test_pupil_waiting_in_the_lobby_before_the_teacher_joins_is_not_unsupervised():
    assert not unsupervised(evaluate(early_pupil()))


def test_pupil_bypassing_a_broad_lobby_before_the_teacher_joins_is_unsupervised():
    bundle = early_pupil(lobbyBypassSettings={"scope": "everyone", "isDialInBypassEnabled": False})
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 300 in seconds_in(f)


def test_lobby_scope_allowed_by_the_policy_excludes_the_wait(policy_file):
    policy = policy_file('[rules.lobby-bypass-too-broad]\nallowed_scopes = ["organizer", "invited"]\n')
    bundle = early_pupil(lobbyBypassSettings={"scope": "invited", "isDialInBypassEnabled": False})
    assert not unsupervised(evaluate(bundle, policy))


def test_lobby_scope_broader_than_the_policy_counts_the_wait():
    bundle = early_pupil(lobbyBypassSettings={"scope": "invited", "isDialInBypassEnabled": False})
    assert unsupervised(evaluate(bundle))


def test_pupil_organiser_has_no_lobby_exclusion():
    bundle = early_pupil(organizer=AMELIA, attendees=(TEACHER,))
    assert unsupervised(evaluate(bundle))


def test_attendance_report_time_before_the_teacher_joins_always_counts():
    bundle = channel_lesson()
    del bundle["callRecord"]
    bundle["attendanceReports"] = [attendance_report(
        attendance_record(TEACHER, ("09:00", "09:46"), role="Organizer"),
        attendance_record(AMELIA, ("08:55", "09:45")),
        start="08:55", end="09:46")]
    assert unsupervised(evaluate(bundle))


def test_lobby_exclusion_does_not_cover_a_mid_lesson_gap():
    bundle = lesson([session(TEACHER, "09:00", "09:20"), session(TEACHER, "09:25", "09:46"),
                     session(AMELIA, "09:00", "09:45")])
    assert unsupervised(evaluate(bundle))


# -- attendance reports and several call records ----------------------------------------------------------


def reports_only(*reports):
    bundle = channel_lesson()
    del bundle["callRecord"]
    bundle["attendanceReports"] = list(reports)
    return bundle


def test_attendance_reports_give_presence_without_a_call_record():
    bundle = reports_only(attendance_report(attendance_record(TEACHER, ("09:00", "09:20"), role="Organizer"),
                                            attendance_record(AMELIA, ("09:01", "09:45"))))
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 1500 in seconds_in(f)


def test_attendance_record_without_intervals_does_not_count_for_unsupervised():
    bundle = reports_only(attendance_report(attendance_record(TEACHER, ("09:00", "09:10"), role="Organizer"),
                                            attendance_record(AMELIA)))
    assert not unsupervised(evaluate(bundle))


def test_all_attendance_reports_are_merged():
    bundle = reports_only(
        attendance_report(attendance_record(TEACHER, ("09:00", "09:20"), role="Organizer"),
                          attendance_record(AMELIA, ("09:01", "09:20")), start="09:00", end="09:20"),
        attendance_report(attendance_record(AMELIA, ("09:25", "09:30")), start="09:25", end="09:30",
                          report_id="0d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"))
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 300 in seconds_in(f)


def test_overlapping_attendance_intervals_of_one_pupil_are_merged():
    bundle = reports_only(attendance_report(
        attendance_record(TEACHER, ("09:00", "09:44"), role="Organizer"),
        attendance_record(AMELIA, ("09:00", "09:44:40"), ("09:44:10", "09:44:50"))))
    assert not unsupervised(evaluate(bundle))


def test_attendance_reports_are_ignored_when_the_call_record_has_sessions():
    bundle = channel_lesson()  # the call record: teacher present throughout
    bundle["attendanceReports"] = [attendance_report(attendance_record(TEACHER, ("09:00", "09:05")),
                                                     attendance_record(AMELIA, ("09:00", "09:45")))]
    assert not unsupervised(evaluate(bundle))


def test_attendance_reports_are_used_when_the_call_record_has_no_sessions_or_participants():
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([], participants=[])
    bundle["attendanceReports"] = [attendance_report(attendance_record(TEACHER, ("09:00", "09:05")),
                                                     attendance_record(AMELIA, ("09:00", "09:45")))]
    assert unsupervised(evaluate(bundle))


def restarted_lesson(second_record_sessions):
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER, "08:58", "09:20"), session(AMELIA, "09:00", "09:20")])
    bundle["callRecords"] = [call_record(second_record_sessions, record_id="5b0e6c2d-1f3a-4e8b-9c7d-2a4f6e8b0c1d")]
    return bundle


def test_several_call_records_of_one_occurrence_are_merged():
    # the meeting restarted; in the second call the teacher left at 09:27 and Amelia stayed until 09:30
    bundle = restarted_lesson([session(TEACHER, "09:25", "09:27"), session(AMELIA, "09:25:30", "09:30")])
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 180 in seconds_in(f)
    assert "09:27:00" in evidence_text(f) and "09:30:00" in evidence_text(f)


def test_pupils_alone_in_a_restarted_call_with_a_broad_lobby_are_unsupervised():
    bundle = restarted_lesson([session(AMELIA, "09:25", "09:30"), session(ISLA, "09:25", "09:29")])
    bundle["onlineMeeting"] = online_meeting(lobbyBypassSettings={"scope": "everyone", "isDialInBypassEnabled": False})
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 300 in seconds_in(f)


def test_time_between_two_call_records_with_nobody_present_is_not_unsupervised():
    bundle = restarted_lesson([session(TEACHER, "09:25", "09:46"), session(AMELIA, "09:26", "09:45")])
    assert not unsupervised(evaluate(bundle))


def test_peer_to_peer_callee_counts_as_present():
    bundle = {"directory": channel_lesson()["directory"],
              "callRecord": call_record([session(AMELIA, "15:30", "15:40", callee=TEACHER)], organizer=AMELIA,
                                        call_type="peerToPeer", join_web_url=None)}
    ev = evaluate(bundle)
    assert not unsupervised(ev)
    assert "unscheduled-call-with-pupil" in rules(ev)


def test_two_pupils_calling_each_other_are_unsupervised():
    bundle = {"directory": channel_lesson()["directory"],
              "callRecord": call_record([session(AMELIA, "15:30", "15:35", callee=OLIVER)], organizer=AMELIA,
                                        call_type="peerToPeer", join_web_url=None)}
    f = finding(evaluate(bundle), "pupils-unsupervised", None)
    assert 300 in seconds_in(f)


def test_deprecated_session_identities_still_supervise():
    bundle = lesson([session(TEACHER, "08:58", "09:46", deprecated=True), session(AMELIA, "09:00", "09:45")])
    assert not unsupervised(evaluate(bundle))


def test_pupils_unsupervised_example_evidence_is_exact():
    """The example on docs/rules/pupils-unsupervised.md gives exactly this evidence, value for value."""
    spec = catalogue()["pupils-unsupervised"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"unsupervisedSeconds": 900.0,
                "thresholdSeconds": 60,
                "longestGapStart": "2026-03-10T09:30:00Z",
                "longestGapEnd": "2026-03-10T09:45:00Z",
                "pupilsDuringLongestGap": ["Amelia Clarke", "Oliver Bennett"],
                "lobbyWaitingExcluded": True}
    assert found.evidence == expected
