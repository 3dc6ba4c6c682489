"""Tests of the rule `session-recorded` (shared/policy/rules/session_recorded.py)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    channel_lesson,
    evaluate,
    finding,
    recording,
    rules,
    transcript,
)


def test_recording_of_the_lesson_is_session_recorded():
    bundle = channel_lesson()
    bundle["recordings"] = [recording()]
    f = finding(evaluate(bundle), "session-recorded", None)
    assert f.severity == "high"


def test_transcript_of_the_lesson_is_session_recorded():
    bundle = channel_lesson()
    bundle["transcripts"] = [transcript()]
    assert "session-recorded" in rules(evaluate(bundle))


def test_recording_and_transcript_give_one_finding():
    bundle = channel_lesson()
    bundle["recordings"], bundle["transcripts"] = [recording()], [transcript()]
    assert [f.rule for f in evaluate(bundle).findings] == ["session-recorded"]


def test_no_recordings_or_transcripts_is_compliant():
    assert "session-recorded" not in rules(evaluate(channel_lesson()))


def test_recording_found_before_any_call_record_arrives_is_session_recorded():
    bundle = channel_lesson()
    del bundle["callRecord"]
    bundle["recordings"] = [recording()]
    assert "session-recorded" in rules(evaluate(bundle))


def test_session_recorded_example_evidence_is_exact():
    """The example on docs/rules/session-recorded.md gives exactly this evidence, value for value."""
    spec = catalogue()["session-recorded"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"artefacts": [{"kind": "recording",
                               "id": "VjEjIzEjIzE5Om1lZXRpbmdfTkRVMk9HRmxOak",
                               "createdDateTime": "2026-03-10T09:02:11Z",
                               "endDateTime": "2026-03-10T09:44:30Z"}]}
    assert found.evidence == expected
