"""Tests of the rule `unscheduled-call-with-pupil` (shared/policy/rules/unscheduled_call_with_pupil.py)."""

from __future__ import annotations

import pytest

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    CALLER,
    HEAD,
    OLIVER,
    TA,
    TEACHER,
    call_record,
    channel_lesson,
    evaluate,
    finding,
    online_meeting,
    pairs,
    participant_v2,
    peer_to_peer,
    session,
)
from tests.rules.helpers import group_call_without_a_meeting, uninvited


def unscheduled(ev):
    return ("unscheduled-call-with-pupil", None) in pairs(ev)


def test_teacher_calling_a_pupil_directly_is_unscheduled():
    f = finding(evaluate(peer_to_peer(TEACHER, AMELIA)), "unscheduled-call-with-pupil", None)
    assert f.severity == "high"
    assert "peerToPeer" in str(f.evidence)


def test_pupil_calling_a_teacher_directly_is_unscheduled():
    assert unscheduled(evaluate(peer_to_peer(AMELIA, TEACHER)))


def test_peer_to_peer_call_read_from_deprecated_identities_is_unscheduled():
    bundle = peer_to_peer(TEACHER, AMELIA)
    s = session(TEACHER, "15:30", "15:35", callee=AMELIA, deprecated=True)
    bundle["callRecord"] = call_record([s], call_type="peerToPeer", join_web_url=None, deprecated=True)
    assert unscheduled(evaluate(bundle))


def test_group_call_without_a_join_url_is_unscheduled():
    assert unscheduled(evaluate(group_call_without_a_meeting(TEACHER, AMELIA, OLIVER)))


def test_group_call_with_the_join_url_property_missing_is_unscheduled():
    bundle = group_call_without_a_meeting(TEACHER, AMELIA)
    del bundle["callRecord"]["joinWebUrl"]
    assert unscheduled(evaluate(bundle))


@pytest.mark.parametrize("meeting_type", ["adhoc", "meetnow"])
def test_meet_now_or_ad_hoc_meeting_with_a_pupil_is_unscheduled(meeting_type):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(meeting_type=meeting_type)
    assert unscheduled(evaluate(bundle))


@pytest.mark.parametrize("meeting_type", ["scheduled", "recurring", None])
def test_scheduled_or_recurring_meeting_is_not_unscheduled(meeting_type):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(meeting_type=meeting_type)
    assert not unscheduled(evaluate(bundle))


def test_unscheduled_call_needs_presence_evidence():
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(meeting_type="meetnow")
    del bundle["callRecord"]
    assert not unscheduled(evaluate(bundle))


def test_direct_call_between_two_staff_is_not_unscheduled_with_pupil():
    ev = evaluate(peer_to_peer(TEACHER, HEAD))
    assert ev.findings == []
    assert not ev.in_scope


def test_direct_call_between_a_teaching_assistant_and_a_pupil_involves_no_staff():
    ev = evaluate(peer_to_peer(TA, AMELIA))
    assert not unscheduled(ev)
    assert ev.in_scope


def test_participant_v2_shape_reads_phone_identity():
    # a phone caller listed only in participants_v2 is present (without times) and external
    bundle = channel_lesson()
    bundle["callRecord"]["participants_v2"].append(participant_v2(CALLER))
    assert uninvited(evaluate(bundle)) == {CALLER.id}


def test_unscheduled_call_with_pupil_example_evidence_is_exact():
    """The example on docs/rules/unscheduled-call-with-pupil.md gives exactly this evidence, value for value."""
    spec = catalogue()["unscheduled-call-with-pupil"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"calls": [{"callRecordId": "2b6c1a0e-7c1d-4e27-9a43-5d3f0a61c7b9",
                           "type": "peerToPeer",
                           "joinWebUrl": None,
                           "meetingType": None,
                           "start": "2026-03-10T15:30:12Z",
                           "end": "2026-03-10T15:42:40Z"}],
                "staff": ["Sarah Patel"],
                "pupils": ["Amelia Clarke"]}
    assert found.evidence == expected
