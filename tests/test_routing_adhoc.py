"""Ad hoc calls' recording and transcript notifications are routed to the adhocCalls reads, not dropped."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.health import assess
from shared.routing import ADHOC_PREFIX, route


def test_an_ad_hoc_call_recording_is_routed_to_its_call() -> None:
    routed = route([{"resource": "communications/adhocCalls('call-1')/recordings('rec-2')"},
                    {"resource": "communications/adhocCalls('call-1')/transcripts('tr-3')"}])
    assert routed.skipped == 0
    assert [w.message for w in routed.work] == [
        {"kind": "recording", "meetingId": ADHOC_PREFIX + "call-1", "id": "rec-2"},
        {"kind": "transcript", "meetingId": ADHOC_PREFIX + "call-1", "id": "tr-3"},
    ]
    assert {w.key for w in routed.work} == {"adhoc|call-1"}


def test_health_names_organisers_without_the_teams_access_policy() -> None:
    report = assess(subscriptions=[], state={"no-access-policy": {"Ali Pupil (u-9)": 1}}, depths={},
                    now=datetime.now(UTC))
    assert report.status_code == 503
    assert any("Ali Pupil (u-9)" in p and "access policy" in p for p in report.problems)
    assert report.to_json()["noAccessPolicy"] == ["Ali Pupil (u-9)"]
