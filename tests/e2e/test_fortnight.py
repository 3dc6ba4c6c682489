"""A fortnight at Harbour Academy on a moving clock, through the whole local stack (``devtools/fortnight.py``).

Harbour is not the demo's school: a secondary school whose timetable is Outlook series in ``GMT Standard Time``,
one series invited by a year-group address, pupils' own calendars watched, its own policy file. The clock walks
from Sunday 22 March to Monday 6 April 2026, across the start of British Summer Time, while lessons move (once
and twice), are cancelled (in the organiser's calendar the occurrence vanishes; pupils' copies say so), a series
changes pattern, a lesson is cancelled after pupils joined, an event is deleted before its call record arrives,
a call record grows on update, and the teacher tightens options after the fact. Every call record arrives 35
minutes after its call. The fortnight is played once per module; each test reads what it left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.faultsweep import Periodic
from devtools.fortnight import WEEKS, Fortnight, open_fortnight
from devtools.graphsim.harbour import LONDON, people
from shared.occurrence_life import CANCELLED, DELETED, MOVED, called_off, is_held

# The first test plays the whole fortnight (about a minute on an idle machine; several on a loaded one).
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out" / "harbour"

# Snapshots of the findings table, taken just before these moments (UTC).
MOMENTS = {
    "night after the lobby was restricted": datetime(2026, 3, 24, 0, 30, tzinfo=UTC),
    "catch-up cancelled, its call record not yet in": datetime(2026, 3, 25, 15, 30, tzinfo=UTC),
    "Monday 30th's first call record": datetime(2026, 3, 30, 9, 30, tzinfo=UTC),
    "Monday 30th's call record updated": datetime(2026, 3, 30, 11, 0, tzinfo=UTC),
    "clinic deleted, its call record not yet in": datetime(2026, 4, 2, 16, 20, tzinfo=UTC),
}

# How each lesson should end, as a DSL would judge it: (subject, London wall time) -> (what became of it, the
# findings left open). "held": it took place; "off": moved, cancelled or deleted before it began.
EXPECTED: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("Year 9 Spanish", "Mon 23 Mar 09:00"): ("held", {"lobby-bypass-too-broad"}),
    ("Year 9 Spanish", "Mon 23 Mar 16:00"): ("held", {"lobby-bypass-too-broad", "pupils-unsupervised"}),
    ("Year 11 Maths", "Tue 24 Mar 14:00"): ("held", {"meeting-chat-enabled"}),
    ("Year 9 Spanish", "Wed 25 Mar 09:00"): ("off", set()),  # moved to Thursday
    ("Science catch-up", "Wed 25 Mar 15:00"): ("held", {"lobby-bypass-too-broad", "pupils-unsupervised"}),
    ("Year 9 Spanish", "Thu 26 Mar 09:00"): ("held", set()),  # the lobby restricted since Monday evening
    ("Year 11 Maths", "Thu 26 Mar 14:00"): ("held", {"meeting-chat-enabled"}),
    ("Year 9 tutor time", "Fri 27 Mar 08:40"): ("held", set()),
    ("Year 9 Spanish", "Mon 30 Mar 09:00"): ("held", {"pupils-unsupervised"}),
    ("Year 11 Maths", "Tue 31 Mar 14:00"): ("off", set()),  # moved to Wednesday 14:00 ...
    ("Year 9 Spanish", "Wed 01 Apr 09:00"): ("off", set()),  # cancelled the evening before
    ("Year 11 Maths", "Wed 01 Apr 14:00"): ("off", set()),  # ... and again to 15:30
    ("Year 11 Maths", "Wed 01 Apr 15:30"): ("held", {"meeting-chat-enabled"}),
    ("Year 9 tutor time", "Thu 02 Apr 08:40"): ("held", set()),  # the series' new pattern
    ("Year 11 Maths", "Thu 02 Apr 14:00"): ("held", {"meeting-chat-enabled"}),
    ("Year 11 revision clinic", "Thu 02 Apr 16:00"): ("held", {"consent-missing"}),
    ("Year 9 tutor time", "Fri 03 Apr 08:40"): ("off", set()),  # gone with the old pattern
}


@pytest.fixture(scope="module")
def played(azurite: Azurite, app_functions: dict[str, Any]) -> Iterator[Fortnight]:
    for run in open_fortnight(azurite, "fortnight" + datetime.now(UTC).strftime("%H%M%S%f"),
                              functions=app_functions.values()):
        run.run(snapshot_at=MOMENTS)
        run.render(OUT)
        yield run


def wall(row: dict[str, Any]) -> str:
    return f"{row['Start'].astimezone(LONDON):%a %d %b %H:%M}"


def lesson(run: Fortnight, subject: str, when: str) -> dict[str, Any]:
    rows = [r for r in run.meetings() if r["Subject"] == subject and wall(r) == when]
    assert len(rows) == 1, f"{subject} {when}: {len(rows)} meeting-log rows"
    return rows[0]


def findings_of(rows: list[dict[str, Any]], occurrence: str, state: str | None = "open") -> dict[str, dict[str, Any]]:
    return {r["Rule"]: r for r in rows if r["OccurrenceId"] == occurrence and (state is None or
                                                                                 r["MachineState"] == state)}


def test_every_lesson_ends_as_the_dsl_would_judge_it(played: Fortnight) -> None:
    assert played.runner.failures == []
    rows = {(r["Subject"], wall(r)): r for r in played.meetings() if r["InScope"]}
    assert len(rows) == len([r for r in played.meetings() if r["InScope"]]), "one log row per lesson"
    findings = played.findings()
    got = {key: ("off" if called_off(row) else "held" if is_held(row["Stages"]) else "scheduled",
                 set(findings_of(findings, row["RowKey"])))
           for key, row in rows.items()}
    assert got == EXPECTED
    briefings = [r for r in played.meetings() if r["Subject"] == "Staff briefing"]
    assert [wall(r) for r in briefings] == ["Mon 23 Mar 08:15", "Mon 30 Mar 08:15"]
    assert not any(r["InScope"] for r in briefings)
    assert not findings_of(findings, briefings[0]["RowKey"], None)


def test_british_summer_time_keeps_lessons_at_their_wall_time(played: Fortnight) -> None:
    spanish = sorted((r for r in played.meetings() if r["Subject"] == "Year 9 Spanish" and is_held(r["Stages"])),
                     key=lambda r: r["Start"])
    assert [r["Start"].strftime("%d %H:%MZ") for r in spanish] == ["23 09:00Z", "23 16:00Z", "26 09:00Z",
                                                                    "30 08:00Z"]
    # Monday 30th's call (08:00Z) is linked to its scheduled occurrence, not judged as a link reused an hour off.
    monday = lesson(played, "Year 9 Spanish", "Mon 30 Mar 09:00")
    assert monday["Stages"].split() == ["scheduled", "held"]


def test_a_moved_occurrence_resolves_its_old_slot_however_often_it_moves(played: Fortnight) -> None:
    findings = played.findings()
    for when in ("Tue 31 Mar 14:00", "Wed 01 Apr 14:00"):
        old = lesson(played, "Year 11 Maths", when)
        assert MOVED in old["CancelledReason"]
        resolved = findings_of(findings, old["RowKey"], "resolved")
        assert set(resolved) == {"meeting-chat-enabled"} and resolved["meeting-chat-enabled"]["ResolvedWhy"] == MOVED
    # The first move of an occurrence the pipeline had only seen in a calendar view (never through its master).
    wednesday = lesson(played, "Year 9 Spanish", "Wed 25 Mar 09:00")
    assert MOVED in wednesday["CancelledReason"]
    assert findings_of(findings, wednesday["RowKey"], "resolved")["lobby-bypass-too-broad"]["ResolvedWhy"] == MOVED


def test_a_cancelled_occurrence_leaves_the_week(played: Fortnight) -> None:
    cancelled = lesson(played, "Year 9 Spanish", "Wed 01 Apr 09:00")
    assert cancelled["CancelledReason"].startswith((MOVED, CANCELLED))
    assert not findings_of(played.findings(), cancelled["RowKey"])
    # The pupils' copies say it is cancelled: the simulator served them so, and Graph notified each pupil's calendar.
    pupil = people()["y9-0"]
    copies = [e for e in played.tenant.events[pupil] if e.get("isCancelled")]
    assert any(e["subject"].startswith("Canceled: Year 9 Spanish") for e in copies)


def test_a_pattern_change_takes_away_the_occurrences_the_new_pattern_lacks(played: Fortnight) -> None:
    friday = lesson(played, "Year 9 tutor time", "Fri 03 Apr 08:40")
    assert called_off(friday) and MOVED in friday["CancelledReason"]
    held = lesson(played, "Year 9 tutor time", "Fri 27 Mar 08:40")
    assert not called_off(held) and "findings stand" in held["CancelledReason"]  # what happened stands


def test_pupils_left_alone_stay_reported_after_the_teacher_restricts_the_lobby(played: Fortnight) -> None:
    reused = lesson(played, "Year 9 Spanish", "Mon 23 Mar 16:00")
    for name in ("night after the lobby was restricted", "clinic deleted, its call record not yet in"):
        assert "pupils-unsupervised" in findings_of(played.snapshots[name], reused["RowKey"]), name
    alone = findings_of(played.findings(), reused["RowKey"])["pupils-unsupervised"]
    evidence = json.loads(alone["Evidence"])
    # Judged with the options read with its call record (16:53), before the teacher restricted the lobby (18:00).
    assert evidence["optionsInForce"] == {"moment": "call-record", "takenAt": "2026-03-23T16:53:00Z"}
    assert "ResolvedWhy" not in alone or not alone["ResolvedWhy"]


def test_a_lesson_cancelled_after_pupils_joined_is_judged_as_held(played: Fortnight) -> None:
    catch_up = lesson(played, "Science catch-up", "Wed 25 Mar 15:00")
    before = findings_of(played.snapshots["catch-up cancelled, its call record not yet in"], catch_up["RowKey"])
    assert set(before) == {"lobby-bypass-too-broad"}  # cancelled after its start: nothing resolved
    why = catch_up["CancelledReason"]
    assert why.startswith((DELETED, CANCELLED)) and "findings stand" in why
    assert not called_off(catch_up) and catch_up["HighCount"] == 1
    assert json.loads(findings_of(played.findings(), catch_up["RowKey"])["pupils-unsupervised"]["Evidence"])


def test_a_call_record_after_its_event_was_deleted_is_the_scheduled_lesson(played: Fortnight) -> None:
    clinic = lesson(played, "Year 11 revision clinic", "Thu 02 Apr 16:00")
    # Deleted after its start: Kai Lowe's invitation (no consent) stays reported while the call record is awaited.
    assert set(findings_of(played.snapshots["clinic deleted, its call record not yet in"], clinic["RowKey"])) == {
        "consent-missing"}
    assert clinic["Stages"].split() == ["scheduled", "held"] and not called_off(clinic)
    consent = findings_of(played.findings(), clinic["RowKey"])["consent-missing"]
    assert consent["Subject"] == people()["y11-4"]
    # No invited pupil reported uninvited, no second row for a "reused link": the fortnight has no such finding.
    assert not [f for f in played.findings() if f["Rule"] == "uninvited-attendee"]


def test_a_call_record_that_grows_on_update_adds_what_it_shows(played: Fortnight) -> None:
    monday = lesson(played, "Year 9 Spanish", "Mon 30 Mar 09:00")
    first = findings_of(played.snapshots["Monday 30th's first call record"], monday["RowKey"])
    grown = findings_of(played.snapshots["Monday 30th's call record updated"], monday["RowKey"])
    assert "pupils-unsupervised" not in first and "pupils-unsupervised" in grown
    evidence = json.loads(grown["pupils-unsupervised"]["Evidence"])
    assert evidence["longestGapStart"].startswith("2026-03-30T08:51")


def test_the_second_weeks_digest_counts_what_took_place(played: Fortnight) -> None:
    assert set(WEEKS) <= set(played.digests), "the digest timer sent each week's digest on its Monday"
    sent = [m for m in played.sim.sent_mail if "30 March" in json.dumps(m.message)]
    assert sent, "the second week's digest went out through Graph"
    text = (OUT / "digest.txt").read_text(encoding="utf-8")
    # Held: Spanish (Mon), Maths (Wed 15:30, Thu), tutor time (Thu), the revision clinic; nothing moved or cancelled.
    assert "5 meetings with pupils audited: 1 verified compliant" in text
    assert "Lessons put right by the teacher before they began: 1" in text
    assert "Year 11 revision clinic - Thu 2 Apr, 16:00" in text and "Year 9 Spanish - Mon 30 Mar, 09:00" in text
    assert "Tue 31 Mar" not in text and "Fri 3 Apr" not in text
    assert (OUT / "digest.html").stat().st_size > 5000


def picture(run: Fortnight) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What a fortnight leaves: every finding with its state and why it was resolved, every meeting-log row."""
    findings = sorted((r["OccurrenceId"], r["Rule"], r.get("Subject", ""), r["MachineState"],
                       r.get("ResolvedWhy", "")) for r in run.findings())
    meetings = sorted((r["RowKey"], r["Subject"], str(r.get("Stages", "")), int(r.get("FindingsCount") or 0),
                       bool(r.get("Cancelled")), called_off(r)) for r in run.meetings())
    return findings, meetings


def test_the_fortnight_under_faults_ends_as_the_clean_one(played: Fortnight, azurite: Azurite,
                                                         app_functions: dict[str, Any]) -> None:
    """Every 53rd storage call of the app fails (connection reset, the SDK's retries off) and every 97th Graph
    call loses its connection past the transport's own retries, for the whole fortnight: webhook deliveries are
    refused and redelivered, evaluations fail and are retried, timers fail and the next firing tries again. The
    findings and the meeting log end as in the clean fortnight."""
    fault = Periodic(every={"storage": 53, "graph": 97})
    fault.armed = True
    for run in open_fortnight(azurite, "chaos" + datetime.now(UTC).strftime("%H%M%S%f"),
                              functions=app_functions.values(), fault=fault):
        run.run()
        fault.armed = False
        assert fault.failed["storage"] >= 30 and fault.failed["graph"] >= 10, fault.failed
        assert run.runner.failures and run.timer_failures  # the faults reached the workers and the timers
        findings, meetings = picture(run)
        # A meeting whose evaluation met the faults on every delivery said so (evidence-unavailable), and a later
        # reconcile read it again: such a gap may remain in the history, resolved; none may be left open.
        filled = [f for f in findings if f[1] == "evidence-unavailable"]
        assert all(f[3] == "resolved" for f in filled), filled
        assert ([f for f in findings if f not in filled], meetings) == picture(played)
        assert run.app.stores.pending.count() == 0  # nothing owed is left behind
