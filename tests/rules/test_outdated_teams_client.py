"""Tests of the rule `outdated-teams-client` (shared/policy/rules/outdated_teams_client.py): Teams builds dated
from their numbers (2.x ``YYDDD``, classic ``1.Y.00.DDDxx``), judged against the lesson's date; every other
agent is coverage, never a finding."""

from __future__ import annotations

from datetime import date

import pytest

from shared.engine import evaluate_raw
from shared.policy.catalogue import catalogue
from shared.policy.rules import _example
from shared.policy.rules._example import AMELIA, OLIVER, TEACHER
from shared.policy.rules.outdated_teams_client import build_date
from tests.builders import evaluate, finding

RULE = "outdated-teams-client"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/{}.1307.2669.7070"
CHROMEBOOK = ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
              "Safari/537.36")
IPAD = "Teams/6.1.1 (iPad; iPadOS 17.3; Apple iPad 9th generation)"
ANDROID = "Teams/1416/1.0.0.2026021701 (Android 13; SM-X200)"


def lesson(**agents: str | None) -> dict:
    """The example lesson (10 March 2026) with the given agents for ``teacher``, ``amelia`` and ``oliver``."""
    bundle = _example.lesson()
    people = {"teacher": (TEACHER, "08:58:02", "09:46:10"), "amelia": (AMELIA, "09:00:05", "09:45:00"),
              "oliver": (OLIVER, "09:00:41", "09:45:00")}
    for i, (who, (uid, start, end)) in enumerate(people.items()):
        if who in agents:
            session = _example.session(uid, start, end)
            for endpoint in (session["caller"], session["segments"][0]["caller"]):
                endpoint["userAgent"]["headerValue"] = agents[who]
            bundle["callRecord"]["sessions"][i] = session
    return bundle


def outdated(bundle: dict, policy=None) -> set[str | None]:
    return {f.subject for f in evaluate_raw(bundle, policy).findings if f.rule == RULE}


def coverage(bundle: dict) -> list[dict]:
    return [g for g in evaluate_raw(bundle).coverage_gaps if g.get("rule") == RULE]


@pytest.mark.parametrize(("agent", "build", "day"), [
    (WINDOWS.format("26048"), "26048.1307.2669.7070", date(2026, 2, 17)),
    ("Teams/24041.300.2689.9173", "24041.300.2689.9173", date(2024, 2, 10)),  # 2024 is a leap year: day 41
    ("Microsoft Teams 1.6.00.35756 Teams/1.6.00.35756 Electron/19.1.8", "1.6.00.35756", date(2023, 12, 23)),
    ("Teams/1.7.00.4065", "1.7.00.4065", date(2024, 2, 9)),
    ("Mozilla/5.0 MicrosoftTeams-Insider/1.5.00.2164 Chrome/85.0", "1.5.00.2164", date(2022, 1, 21)),
])
def test_build_numbers_give_their_release_dates(agent, build, day):
    assert build_date(agent) == (build, day)


@pytest.mark.parametrize("agent", [CHROMEBOOK, IPAD, ANDROID, None, "", "Teams/26400.1.1.1", "Teams/1.6.00.45",
                                   "SkypeForBusiness/16.0.5000", "NotTeams/26048.1.1.1"])
def test_agents_that_do_not_date_a_build(agent):
    assert build_date(agent) is None


def test_current_clients_raise_nothing():
    assert outdated(lesson(teacher=WINDOWS.format("26048"), amelia=WINDOWS.format("26001"))) == set()


def test_a_client_91_days_old_fires_and_90_days_does_not():
    # the lesson is on 10 March 2026 (day 69): day 343 of 2025 is 91 days before, day 344 is 90
    assert outdated(lesson(amelia=WINDOWS.format("25343"), oliver=WINDOWS.format("25344"))) == {AMELIA}


def test_classic_teams_fires_per_person_for_staff_and_pupils():
    classic = "Microsoft Teams 1.6.00.35756 Teams/1.6.00.35756 Electron/19.1.8"
    assert outdated(lesson(teacher=classic, amelia=classic)) == {TEACHER, AMELIA}


def test_undatable_agents_are_coverage_never_findings():
    bundle = lesson(teacher=CHROMEBOOK, amelia=IPAD, oliver=ANDROID)
    assert outdated(bundle) == set()
    assert coverage(bundle) == [{"kind": "Teams client version", "reason": (
        "someone present used a client whose user agent does not date its build (a browser, the mobile apps, a "
        "room system)"), "count": 3, "rule": RULE}]


def test_a_person_with_one_datable_client_is_not_coverage():
    bundle = lesson(amelia=IPAD)
    bundle["callRecord"]["sessions"].append(_example.session(AMELIA, "09:20:00", "09:45:00",
                                                             agent=WINDOWS.format("26050")))
    assert coverage(bundle) == []
    assert outdated(bundle) == set()


def test_one_finding_per_person_for_their_oldest_client():
    bundle = lesson(amelia=WINDOWS.format("25300"))
    bundle["callRecord"]["sessions"].append(_example.session(AMELIA, "09:20:00", "09:45:00",
                                                             agent=WINDOWS.format("25200")))
    found = finding(evaluate(bundle), RULE, AMELIA)
    assert (found.evidence["build"], found.evidence["buildDate"], found.evidence["ageDays"]) == (
        "25200.1307.2669.7070", "2025-07-19", 234)
    assert [f.rule for f in evaluate(bundle).findings].count(RULE) == 1


def test_the_maximum_age_comes_from_the_policy(policy_file):
    bundle = lesson(amelia=WINDOWS.format("26020"))  # 20 January 2026: 49 days before the lesson
    assert outdated(bundle) == set()
    assert outdated(bundle, policy_file("[rules.outdated-teams-client]\nmax_age_days = 30")) == {AMELIA}


def test_people_outside_the_school_are_not_judged():
    bundle = lesson()
    guest = _example.session(TEACHER, "09:05:00", "09:40:00", agent=WINDOWS.format("24001"))
    for endpoint in (guest["caller"], guest["segments"][0]["caller"]):
        endpoint["associatedIdentity"] = {"id": None, "displayName": "Visitor"}
    bundle["callRecord"]["sessions"].append(guest)
    assert outdated(bundle) == set()


def test_the_callee_of_a_peer_to_peer_call_is_read_from_its_own_endpoint():
    bundle = catalogue()["unscheduled-call-with-pupil"].example()
    session = bundle["callRecord"]["sessions"][0]
    session["segments"][0]["callee"]["userAgent"]["headerValue"] = WINDOWS.format("25001")
    assert outdated(bundle) == {AMELIA}


def test_a_segment_endpoint_without_identity_takes_the_sessions():
    bundle = lesson(amelia=WINDOWS.format("25001"))
    del bundle["callRecord"]["sessions"][1]["segments"][0]["caller"]["associatedIdentity"]
    assert outdated(bundle) == {AMELIA}


def test_the_lessons_date_is_the_call_records_start():
    bundle = lesson(amelia=WINDOWS.format("26001"))  # 1 January 2026
    assert outdated(bundle) == set()
    bundle["callRecord"]["startDateTime"] = "2026-04-02T08:58:02Z"  # 91 days later
    assert outdated(bundle) == {AMELIA}


def test_outdated_teams_client_example_evidence_is_exact():
    """The example on docs/rules/outdated-teams-client.md gives exactly this evidence, value for value."""
    spec = catalogue()[RULE]
    found = finding(evaluate(spec.example()), spec.id, AMELIA)
    expected = {"person": {"id": AMELIA, "displayName": "Amelia Clarke", "role": "pupil"},
                "userAgent": "Microsoft Teams 1.6.00.35756 Teams/1.6.00.35756 Electron/19.1.8",
                "build": "1.6.00.35756", "buildDate": "2023-12-23", "lessonDate": "2026-03-10", "ageDays": 808,
                "maxAgeDays": 90}
    assert found.evidence == expected
