"""The tenant/week generator: size, determinism, planted violations, file round trip, and ground-truth bundles that
match what the simulator serves."""

from __future__ import annotations

import collections
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devtools.graphsim import GraphSimulator, Tenant, generate
from devtools.graphsim.tenant import parse_time

PLANTED = {
    "attendee-mic-allowed",
    "meeting-chat-enabled",
    "lobby-bypass-too-broad",
    "attendees-can-present",
    "recording-allowed",
    "session-recorded",
    "pupils-unsupervised",
    "pupil-screen-shared",
    "uninvited-attendee",
    "organiser-not-staff",
    "unscheduled-call-with-pupil",
    "unapproved-platform",
    "consent-missing",
    "evidence-unavailable",
    "one-to-one-with-pupil",
    "not-in-class-team-general",
}


def test_primary_school_size_and_violations(school: Tenant) -> None:
    d = school.directory
    assert len(d["staff"]) == 40 and len(d["pupils"]) == 400 and len(d["classTeams"]) == 14
    assert 140 <= len(school.occurrences) <= 170
    assert {r for o in school.occurrences for r in o["planted"]} == PLANTED
    kinds = collections.Counter(o["kind"] for o in school.occurrences)
    assert kinds["peer-to-peer"] == kinds["zoom-invite"] == kinds["pupil-organised"] == 1
    assert len(d["pupils"]) - len(d["consent"]) == 3
    assert any(len(o["callRecordIds"]) == 2 for o in school.occurrences)  # a restarted lesson
    assert school.lobby_sessions and school.no_access_policy
    for team in d["classTeams"]:
        assert team["generalChannelId"] == school.teams[team["id"]]["primaryChannelId"]


def test_generator_is_deterministic_and_seeded(school: Tenant) -> None:
    again, other = generate.primary_school(1), generate.primary_school(2)
    assert generate.fingerprint(again) == generate.fingerprint(school) != generate.fingerprint(other)


def test_trust_is_ten_schools() -> None:
    t = generate.trust(seed=2)
    assert len(t.directory["staff"]) == 400 and len(t.directory["pupils"]) == 4000 and len(t.teams) == 140
    assert 1400 <= len(t.occurrences) <= 1700
    assert sum("unscheduled-call-with-pupil" in o["planted"] for o in t.occurrences) == 10


def test_save_load_round_trip_and_cli(tmp_path: Path, school: Tenant) -> None:
    path = tmp_path / "school.json"
    school.save(path)
    loaded = Tenant.load(path)
    assert loaded.to_json() == school.to_json()
    out = tmp_path / "cli.json"
    done = subprocess.run(
        [sys.executable, "-m", "devtools.graphsim.generate", "--school", "primary", "--seed", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert "occurrences" in done.stdout
    assert generate.fingerprint(Tenant.load(out)) == generate.fingerprint(school)


def strip_context(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: strip_context(v)
            for k, v in value.items()
            if not k.endswith("@odata.context") and not k.endswith("@odata.nextLink")
        }
    if isinstance(value, list):
        return [strip_context(v) for v in value]
    return value


def gather(http: httpx.Client, tenant: Tenant, occ: dict[str, Any]) -> dict[str, Any]:
    """A minimal gatherer over HTTP (the real gateway lives in shared/): what a bundle from the simulator holds."""
    start, end = parse_time(occ["start"]) - timedelta(minutes=15), parse_time(occ["end"]) + timedelta(minutes=15)
    bundle: dict[str, Any] = {"directory": tenant.directory}
    unavailable = []
    if occ["eventId"]:
        bundle["event"] = http.get(f"/users/{occ['mailbox']}/events/{occ['eventId']}").json()
    if occ["meetingId"]:
        found = tenant.meeting(occ["meetingId"])
        assert found is not None
        url = f"/users/{occ['organizerId']}/onlineMeetings?$filter=" + quote(
            f"JoinWebUrl eq '{found[1]['joinWebUrl']}'", safe=""
        )
        reply = http.get(url, headers={"Prefer": "include-unknown-enum-members"})
        if reply.status_code == 403:
            unavailable += [
                {"kind": k, "reason": f"403 {reply.json()['error']['message']}"}
                for k in ("onlineMeeting", "attendanceReports", "recordings", "transcripts")
            ]
        else:
            meeting = reply.json()["value"][0]
            bundle["onlineMeeting"] = meeting
            base = f"/users/{occ['organizerId']}/onlineMeetings/{quote(meeting['id'], safe='')}"
            reports = []
            for report in http.get(f"{base}/attendanceReports").json()["value"]:
                if start <= parse_time(report["meetingStartDateTime"]) <= end:
                    reports.append(
                        http.get(
                            f"{base}/attendanceReports/{report['id']}", params={"$expand": "attendanceRecords"}
                        ).json()
                    )
            bundle["attendanceReports"] = reports
            for kind in ("recordings", "transcripts"):
                got = http.get(f"{base}/{kind}")
                if got.status_code == 400:
                    unavailable.append(
                        {"kind": kind, "reason": f"400 {got.json()['error']['message']}", "unsupported": True}
                    )
                else:
                    bundle[kind] = [x for x in got.json()["value"] if start <= parse_time(x["createdDateTime"]) <= end]
    records = []
    for rid in occ["callRecordIds"]:
        record = http.get(
            f"/communications/callRecords/{rid}", params={"$expand": "sessions($expand=segments),participants_v2"}
        ).json()
        link = record.get("sessions@odata.nextLink")
        while link:
            page = httpx.get(link).json()
            record["sessions"] += page["value"]
            link = page.get("@odata.nextLink")
        records.append(record)
    if records:
        bundle["callRecord"] = records[0]
        if len(records) > 1:
            bundle["callRecords"] = records[1:]
    if unavailable:
        bundle["unavailable"] = unavailable
    return strip_context(bundle)


@pytest.mark.integration
@pytest.mark.parametrize(
    "switches",
    [
        {"lobby_sessions": True, "channel_recordings": False, "channel_attendance": False},
        {"lobby_sessions": False, "channel_recordings": True, "channel_attendance": True},
    ],
)
def test_expected_bundles_match_what_is_served(school: Tenant, switches: dict[str, bool]) -> None:
    with GraphSimulator(school, **switches) as sim, httpx.Client(base_url=sim.base_url) as http:
        for occ in school.occurrences:
            assert gather(http, school, occ) == school.expected_bundle(occ["key"], **switches), occ["key"]
