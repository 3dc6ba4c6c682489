"""Stored evidence keeps only the directory entries its meeting refers to, and evaluates exactly as the full
bundle does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.engine import evaluate_raw
from shared.evidence.minimise import minimise

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "elmgrove-week"
BUNDLES = sorted(p for p in SAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))


def outcome(bundle: dict) -> list[tuple]:
    evaluation = evaluate_raw(bundle)
    return [(f.rule, f.subject, f.summary, json.dumps(f.evidence, sort_keys=True)) for f in evaluation.findings] + [
        (evaluation.in_scope, tuple(evaluation.stages), evaluation.staff_count, evaluation.pupil_count)]


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_minimised_sample_evaluates_exactly_as_the_full_bundle(path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    slim = minimise(bundle)
    assert outcome(slim) == outcome(bundle)
    assert set(slim["directory"]["users"]) <= set(bundle["directory"]["users"])


def test_a_simulated_week_loses_nothing_and_keeps_far_fewer_people() -> None:
    from devtools.graphsim import generate

    tenant = generate.primary_school(seed=1)
    kept, full = 0, 0
    for occ in tenant.occurrences:
        bundle = tenant.expected_bundle(occ["key"])
        slim = minimise(bundle)
        assert outcome(slim) == outcome(bundle), occ["key"]
        kept += len(slim["directory"]["users"])
        full += len(bundle["directory"]["users"])
    assert kept < full / 5


def test_unrelated_people_are_dropped() -> None:
    bundle = json.loads(BUNDLES[0].read_text(encoding="utf-8"))
    bundle["directory"]["users"]["00000000-1111-2222-3333-444444444444"] = {
        "displayName": "Nobody In This Meeting", "userPrincipalName": "nobody@elmgrove.sch.uk"}
    assert "00000000-1111-2222-3333-444444444444" not in minimise(bundle)["directory"]["users"]


def test_pupil_staff_and_consent_lists_keep_only_the_meetings_own_people() -> None:
    from devtools.graphsim import generate

    tenant = generate.primary_school(seed=1)
    checked = 0
    for occ in tenant.occurrences[:40]:
        bundle = tenant.expected_bundle(occ["key"])
        full = bundle["directory"]
        slim = minimise(bundle)["directory"]
        people = {uid.lower() for uid in slim["users"]}
        for team in slim.get("classTeams") or []:
            people |= {m.lower() for m in team.get("members") or []}
        for members in (slim.get("groups") or {}).values():
            people |= {m.lower() for m in members}
        for name in ("staff", "pupils", "consent"):
            assert set(slim[name]) <= set(full[name])
            assert {i.lower() for i in slim[name]} <= people, (occ["key"], name)
        if len(full["pupils"]) > len(slim["pupils"]):
            checked += 1
        assert len(slim.get("classTeams") or []) <= 1 + sum(
            1 for t in full.get("classTeams") or [] if t.get("generalChannelId", "") in json.dumps(bundle))
    assert checked > 0


def test_a_pupil_of_another_class_leaves_no_trace_in_the_stored_bundle() -> None:
    bundle = json.loads(BUNDLES[0].read_text(encoding="utf-8"))
    stranger = "99999999-8888-7777-6666-555555555555"
    bundle["directory"]["pupils"].append(stranger)
    bundle["directory"].setdefault("consent", []).append(stranger)
    bundle["directory"]["users"][stranger] = {"displayName": "Stranger Pupil",
                                              "userPrincipalName": "stranger@elmgrove.sch.uk"}
    bundle["directory"].setdefault("classTeams", []).append({
        "id": "aaaaaaaa-0000-0000-0000-000000000001", "displayName": "Other class",
        "generalChannelId": "19:other@thread.tacv2", "channelIds": [], "members": [stranger]})
    stored = json.dumps(minimise(bundle))
    assert stranger not in stored
    assert "Stranger Pupil" not in stored and "Other class" not in stored
    assert outcome(minimise(bundle)) == outcome(bundle)
