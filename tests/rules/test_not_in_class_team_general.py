"""Tests of the rule `not-in-class-team-general` (shared/policy/rules/not_in_class_team_general.py)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    HEAD,
    PRIVATE_THREAD,
    RUBY,
    YEAR5_SCIENCE,
    YEAR6_GENERAL,
    call_record,
    channel_lesson,
    evaluate,
    event,
    evidence_text,
    finding,
    join_url,
    online_meeting,
    private_lesson,
    rules,
    session,
)


def in_channel(thread, **meeting):
    bundle = channel_lesson()
    bundle["event"] = event(thread=thread)
    bundle["onlineMeeting"] = online_meeting(thread=thread, **meeting)
    return bundle


def test_meeting_in_the_class_team_general_channel_is_compliant():
    assert "not-in-class-team-general" not in rules(evaluate(channel_lesson()))


def test_private_calendar_meeting_is_not_in_class_team_general():
    f = finding(evaluate(private_lesson()), "not-in-class-team-general", None)
    assert f.severity == "low"
    assert PRIVATE_THREAD in evidence_text(f)
    assert "general" in f.summary.lower()


def test_meeting_in_another_channel_of_the_class_team_is_not_in_general():
    ev = evaluate(in_channel(YEAR5_SCIENCE))
    assert YEAR5_SCIENCE in evidence_text(finding(ev, "not-in-class-team-general", None))


def test_general_channel_with_an_older_thread_skype_id_is_compliant():
    bundle = channel_lesson()
    bundle["event"] = event(thread=YEAR6_GENERAL, organizer=HEAD, attendees=(HEAD,))
    bundle["onlineMeeting"] = online_meeting(thread=YEAR6_GENERAL, organizer=HEAD)
    bundle["callRecord"] = call_record([session(HEAD, "09:00", "09:45"), session(RUBY, "09:01", "09:44")],
                                       organizer=HEAD, join_web_url=join_url(YEAR6_GENERAL, HEAD))
    ev = evaluate(bundle)
    assert "not-in-class-team-general" not in rules(ev)
    assert "uninvited-attendee" not in rules(ev)  # Ruby is a member of the Year 6 team


def test_channel_of_a_team_that_is_not_a_class_team_is_not_in_class_team_general():
    other_team_channel = "19:5e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b@thread.tacv2"
    assert "not-in-class-team-general" in rules(evaluate(in_channel(other_team_channel)))


def test_not_in_class_team_general_example_evidence_is_exact():
    """The example on docs/rules/not-in-class-team-general.md gives exactly this evidence, value for value."""
    spec = catalogue()["not-in-class-team-general"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"chatInfo.threadId": "19:meeting_NDU2OGFlNjMtY2FkOS00@thread.v2", "privateMeeting": True}
    assert found.evidence == expected
