"""evidence-unavailable, scope, stages, and the policy's severity overrides and switches."""

from __future__ import annotations

import pytest

from shared.evidence.reader import BundleError
from tests.builders import (
    ABSENT,
    AMELIA,
    HEAD,
    OLIVER,
    PARENT,
    RUBY,
    STAFFROOM_THREAD,
    TA,
    TEACHER,
    YEAR5_GROUP,
    call_record,
    channel_lesson,
    evaluate,
    event,
    evidence_text,
    finding,
    join_url,
    lesson_sessions,
    online_meeting,
    pairs,
    recording,
    rules,
    session,
    staff_briefing,
    unavailable,
)

PERMISSIVE = {"allowAttendeeToEnableMic": True, "allowMeetingChat": "enabled", "allowedPresenters": "everyone",
              "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": True},
              "recordAutomatically": True, "allowRecording": True, "allowTranscription": True}


# -- the compliant lesson and both identity shapes ---------------------------------------------------------


def test_compliant_channel_lesson_has_no_findings():
    ev = evaluate(channel_lesson())
    assert ev.findings == []
    assert ev.in_scope and ev.compliant
    assert (ev.staff_count, ev.pupil_count) == (1, 3)
    assert {"scheduled", "held"} <= set(ev.stages)


def test_compliant_lesson_in_deprecated_call_record_shapes_has_no_findings():
    bundle = channel_lesson()
    sessions = [session(TEACHER, "08:58", "09:46", deprecated=True)]
    sessions += [session(p, "09:00", "09:45", deprecated=True) for p in (AMELIA, OLIVER)]
    bundle["callRecord"] = call_record(sessions, deprecated=True)
    ev = evaluate(bundle)
    assert ev.findings == []
    assert (ev.staff_count, ev.pupil_count) == (1, 2)


def test_held_stage_needs_presence_evidence():
    bundle = channel_lesson()
    del bundle["callRecord"]
    ev = evaluate(bundle)
    assert "held" not in ev.stages
    assert "scheduled" in ev.stages


def test_bundle_without_a_directory_is_refused():
    bundle = channel_lesson()
    del bundle["directory"]
    with pytest.raises(BundleError):
        evaluate(bundle)


def test_list_where_an_object_belongs_is_refused():
    bundle = channel_lesson()
    bundle["callRecord"] = [bundle["callRecord"]]
    with pytest.raises(BundleError):
        evaluate(bundle)


def test_at_most_one_finding_per_rule_and_subject():
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(thread="19:meeting_abc@thread.v2", **PERMISSIVE)
    bundle["callRecord"] = call_record([*lesson_sessions(), session(PARENT, "09:01", "09:02"),
                                        session(PARENT, "09:03", "09:04"), session(RUBY, "09:01", "09:44")])
    bundle["recordings"] = [recording(), recording()]
    ev = evaluate(bundle)
    keys = [(f.rule, f.subject) for f in ev.findings]
    assert len(keys) == len(set(keys))
    assert {("uninvited-attendee", PARENT.id), ("uninvited-attendee", RUBY.id), ("session-recorded", None),
            ("recording-allowed", None)} <= set(keys)


# -- scope ------------------------------------------------------------------------------------------------


def test_staff_briefing_with_permissive_settings_is_out_of_scope_with_no_findings():
    ev = evaluate(staff_briefing(**PERMISSIVE))
    assert ev.in_scope is False
    assert ev.findings == []


def test_staff_meeting_organised_by_a_teaching_assistant_stays_out_of_scope():
    bundle = staff_briefing(**PERMISSIVE)
    bundle["onlineMeeting"] = online_meeting(thread=STAFFROOM_THREAD, organizer=TA, attendees=(TEACHER,),
                                             **PERMISSIVE)
    bundle["callRecord"] = call_record([session(TA, "16:00", "16:30"), session(TEACHER, "16:00", "16:30")],
                                       organizer=TA, join_web_url=join_url(STAFFROOM_THREAD, TA))
    ev = evaluate(bundle)
    assert ev.in_scope is False
    assert ev.findings == []
    assert TA.id in {a["id"] for a in ev.unclassified_adults}


def test_pupil_organising_a_staff_only_meeting_is_in_scope():
    bundle = staff_briefing()
    bundle["onlineMeeting"] = online_meeting(thread=STAFFROOM_THREAD, organizer=AMELIA, attendees=(TEACHER,))
    ev = evaluate(bundle)
    assert ev.in_scope
    assert "organiser-not-staff" in rules(ev)


def test_channel_meeting_of_a_class_team_is_in_scope_without_pupils():
    bundle = channel_lesson()
    bundle["event"] = event(attendees=(HEAD,))
    bundle["onlineMeeting"] = online_meeting(allowMeetingChat="enabled")
    bundle["callRecord"] = call_record([session(TEACHER, "09:00", "09:45"), session(HEAD, "09:00", "09:45")])
    ev = evaluate(bundle)
    assert ev.in_scope
    assert ("meeting-chat-enabled", None) in pairs(ev)


def test_pupil_invited_but_absent_brings_the_meeting_in_scope():
    bundle = staff_briefing(allowMeetingChat="enabled")
    bundle["onlineMeeting"] = online_meeting(thread=STAFFROOM_THREAD, attendees=(HEAD, AMELIA),
                                             allowMeetingChat="enabled")
    ev = evaluate(bundle)
    assert ev.in_scope
    assert "meeting-chat-enabled" in rules(ev)


def test_class_group_address_on_the_invitation_brings_the_meeting_in_scope():
    bundle = staff_briefing(allowMeetingChat="enabled")
    bundle["event"] = event(thread=STAFFROOM_THREAD, attendees=(HEAD, YEAR5_GROUP), subject="Staff briefing")
    assert evaluate(bundle).in_scope


def test_pupil_present_uninvited_brings_the_meeting_in_scope():
    bundle = staff_briefing()
    bundle["callRecord"]["sessions"].append(session(RUBY, "16:05", "16:10"))
    bundle["callRecord"] = call_record(bundle["callRecord"]["sessions"], join_web_url=join_url(STAFFROOM_THREAD))
    ev = evaluate(bundle)
    assert ev.in_scope
    assert ("uninvited-attendee", RUBY.id) in pairs(ev)


# -- evidence-unavailable ---------------------------------------------------------------------------------


def test_unreadable_online_meeting_is_evidence_unavailable():
    bundle = channel_lesson()
    del bundle["onlineMeeting"]
    bundle["unavailable"] = [unavailable("onlineMeeting", "403 No Application Access Policy found for this app")]
    ev = evaluate(bundle)
    f = finding(ev, "evidence-unavailable", None)
    assert f.severity == "medium"
    assert "onlineMeeting" in evidence_text(f)
    assert not ev.compliant


def test_several_unreadable_kinds_give_one_finding_naming_each():
    bundle = channel_lesson()
    bundle["unavailable"] = [unavailable("recordings", "403 Forbidden"), unavailable("transcripts", "403 Forbidden")]
    ev = evaluate(bundle)
    f = finding(ev, "evidence-unavailable", None)
    assert "recordings" in evidence_text(f) and "transcripts" in evidence_text(f)


def test_graph_limitation_marked_unsupported_is_coverage_not_a_finding():
    bundle = channel_lesson()
    bundle["unavailable"] = [unavailable("recordings", "channel meetings are not supported", unsupported=True)]
    ev = evaluate(bundle)
    assert "evidence-unavailable" not in rules(ev)
    # Graph's limitations come first; what a rule could not judge carries the rule's id
    assert [g["kind"] for g in ev.coverage_gaps if "rule" not in g] == ["recordings"]
    assert ev.coverage_gaps[0] == {"kind": "recordings", "reason": "channel meetings are not supported"}
    assert ev.unavailable == []


def test_unavailable_evidence_of_a_meeting_proved_out_of_scope_raises_nothing():
    bundle = staff_briefing()
    bundle["unavailable"] = [unavailable("recordings", "403 Forbidden")]
    ev = evaluate(bundle)
    assert ev.findings == []
    assert ev.in_scope is False


@pytest.mark.parametrize("kind", ["event", "callRecord"])
def test_unavailable_evidence_fires_when_scope_cannot_be_decided(kind):
    bundle = staff_briefing()
    del bundle[kind]
    bundle["unavailable"] = [unavailable(kind, "403 Forbidden")]
    assert ("evidence-unavailable", None) in pairs(evaluate(bundle))


def test_unavailable_evidence_fires_for_a_meeting_organised_by_a_pupil():
    bundle = staff_briefing()
    bundle["onlineMeeting"] = online_meeting(thread=STAFFROOM_THREAD, organizer=AMELIA, attendees=(TEACHER,))
    bundle["unavailable"] = [unavailable("recordings", "403 Forbidden")]
    assert "evidence-unavailable" in rules(evaluate(bundle))


# -- the school's policy file -----------------------------------------------------------------------------


def test_policy_can_raise_a_rules_severity(policy_file):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(allowMeetingChat="enabled")
    policy = policy_file('[rules.meeting-chat-enabled]\nseverity = "high"\n')
    assert finding(evaluate(bundle, policy), "meeting-chat-enabled", None).severity == "high"
    assert finding(evaluate(bundle), "meeting-chat-enabled", None).severity == "medium"


def test_rule_switched_off_with_a_reason_raises_no_finding(policy_file):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(allowMeetingChat="enabled", allowAttendeeToEnableMic=ABSENT)
    policy = policy_file('[rules.meeting-chat-enabled]\nenabled = false\n'
                         'reason = "Chat is disabled for all pupils by the tenant\'s Teams meeting policy"\n')
    ev = evaluate(bundle, policy)
    assert "meeting-chat-enabled" not in rules(ev)
    assert "attendee-mic-allowed" in rules(ev)  # the other rules still run


def test_advisory_severity_keeps_a_meeting_compliant(policy_file):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(allowAttendeeToEnableMic=True)
    assert not evaluate(bundle).compliant
    assert evaluate(bundle, policy_file('[rules.attendee-mic-allowed]\nseverity = "advisory"\n')).compliant
