"""Annotations (history kept, who and when, accepted risk lapsing), teachers' notes, and exemptions
(matching by each scope, expiring, removed, never for consent-missing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from shared.admin import query as q
from shared.admin.annotate import NotFound, add_note, annotate
from shared.admin.context import Admin
from shared.admin.validate import InvalidInput
from shared.records.exemptions import apply_exemptions, exemption_for, series_id_of
from shared.store.keys import finding_id
from tests.admin.conftest import AFTER_THE_WEEK, LONDON, WEEK, Week, all_findings

NOW = AFTER_THE_WEEK


def one(admin: Admin, rule: str) -> dict:
    return next(r for r in all_findings(admin.stores) if r["Rule"] == rule)


def fid(row: dict) -> str:
    return finding_id(row["PartitionKey"], row["RowKey"])


def test_annotation_history_is_kept_with_who_and_when(admin: Admin, week: Week) -> None:
    row = one(admin, "pupils-unsupervised")
    table = admin.stores.findings.table
    annotate(table, admin.audit, fid(row), status="acknowledged", comment="Looking into it", by="dsl", now=NOW,
             zone=LONDON)
    annotate(table, admin.audit, fid(row), status="resolved", comment="Spoke to the teacher", by="head",
             now=NOW + timedelta(hours=2), zone=LONDON)
    stored = admin.stores.findings.get(row["PartitionKey"], row["RowKey"])
    assert stored is not None and stored["Status"] == "resolved"
    history = json.loads(stored["Annotations"])
    assert [(a["status"], a["by"], a["comment"]) for a in history] == [
        ("acknowledged", "dsl", "Looking into it"), ("resolved", "head", "Spoke to the teacher")]
    assert history[0]["at"] == NOW.isoformat()
    assert q.effective_status(stored, NOW) == "resolved"
    assert [e.action for e in admin.audit.entries(target=fid(row))] == ["annotate", "annotate"]
    # the machine's next evaluation merges its own fields and leaves people's alone
    from shared.engine import evaluate_raw
    from tests.admin.conftest import facts

    name = "2026-11-18-1030-year3-maths"
    admin.stores.recorder.record(facts(name, week.bundles[name]), evaluate_raw(week.bundles[name]),
                                 week.bundles[name], now=NOW.timestamp() + 60)
    again = admin.stores.findings.get(row["PartitionKey"], row["RowKey"])
    assert again is not None and again["Annotations"] == stored["Annotations"] and again["Status"] == "resolved"


def test_accepted_risk_lapses_after_its_date(admin: Admin, week: Week) -> None:
    row = one(admin, "meeting-chat-enabled")
    table = admin.stores.findings.table
    with pytest.raises(InvalidInput, match="until"):
        annotate(table, admin.audit, fid(row), status="accepted-risk", comment="Chat needed", by="dsl", now=NOW,
                 zone=LONDON)
    with pytest.raises(InvalidInput, match="past"):
        annotate(table, admin.audit, fid(row), status="accepted-risk", comment="Chat needed", by="dsl", now=NOW,
                 zone=LONDON, until=date(2026, 11, 1))
    annotate(table, admin.audit, fid(row), status="accepted-risk", comment="Chat needed for the SEN group",
             by="dsl", now=NOW, zone=LONDON, until=date(2026, 12, 18))
    stored = admin.stores.findings.get(row["PartitionKey"], row["RowKey"])
    assert stored is not None
    last_day = NOW.replace(year=2026, month=12, day=18, hour=23, minute=30)  # 23:30 London, still the 18th
    assert q.effective_status(stored, last_day) == "accepted-risk"
    assert q.effective_status(stored, last_day + timedelta(hours=1)) == "open"
    lapsed = q.FindingFilter.parse({"status": "open"}).query(LONDON, last_day + timedelta(hours=1))
    assert fid(row) in {finding_id(r["PartitionKey"], r["RowKey"]) for r in q.every(table, lapsed)}
    view = q.finding_view(stored, last_day + timedelta(hours=1))
    assert view["riskLapsed"] and view["annotations"][0]["until"] == "2026-12-18"
    with pytest.raises(InvalidInput, match="only an accepted risk"):
        annotate(table, admin.audit, fid(row), status="resolved", comment="x", by="dsl", now=NOW, zone=LONDON,
                 until=date(2026, 12, 18))


def test_annotating_refuses_bad_input(admin: Admin, week: Week) -> None:
    row = one(admin, "pupils-unsupervised")
    table = admin.stores.findings.table
    with pytest.raises(InvalidInput, match="status"):
        annotate(table, admin.audit, fid(row), status="open", comment="x", by="dsl", now=NOW, zone=LONDON)
    with pytest.raises(InvalidInput, match="comment"):
        annotate(table, admin.audit, fid(row), status="acknowledged", comment="  ", by="dsl", now=NOW, zone=LONDON)
    with pytest.raises(InvalidInput, match="not a finding id"):
        annotate(table, admin.audit, "2026-W47.' or 1 eq 1", status="acknowledged", comment="x", by="dsl", now=NOW,
                 zone=LONDON)
    with pytest.raises(NotFound):
        annotate(table, admin.audit, f"{WEEK}.{'0' * 40}", status="acknowledged", comment="x", by="dsl", now=NOW,
                 zone=LONDON)


def test_cli_annotate_and_note(admin: Admin, week: Week, cli: Callable[..., tuple[int, str, str]]) -> None:
    row = one(admin, "consent-missing")
    status, out, err = cli("annotate", fid(row), "--status", "false-positive", "--comment", "Consent form on paper",
                           "--by", "Mrs Okafor")
    assert status == 0, err
    stored = admin.stores.findings.get(row["PartitionKey"], row["RowKey"])
    assert stored is not None and json.loads(stored["Annotations"])[0]["by"] == "Mrs Okafor"
    status, _, err = cli("annotate", fid(row), "--status", "accepted-risk", "--comment", "x", "--until", "31/12/2026")
    assert status == 2 and err.count("\n") == 1 and "YYYY-MM-DD" in err
    meeting = f"{WEEK}.{week.occurrences['2026-11-18-1030-year3-maths']}"
    status, out, err = cli("note", meeting, "My internet dropped at 10:40; pupils waited in the meeting.",
                           "--by", "Mr Hughes")
    assert status == 0 and out.startswith(meeting), err
    status, _, err = cli("note", meeting, "Rejoined at 10:50.", "--by", "Mr Hughes")
    assert status == 0, err
    notes = json.loads(admin.stores.meetings.get(WEEK, meeting.split(".")[1]).entity["Note"])  # type: ignore[union-attr]
    assert [n["text"] for n in notes] == ["My internet dropped at 10:40; pupils waited in the meeting.",
                                          "Rejoined at 10:50."]
    with pytest.raises(NotFound):
        add_note(admin.stores.meetings.table, admin.audit, "0" * 32, text="x", by="y", now=NOW)


# ---------------------------------------------------------------------------------------------- exemptions
SEN = "2026-11-18-1530-year3-sen-reading"


def test_exemption_scopes_match_only_their_findings(admin: Admin, week: Week) -> None:
    rows = all_findings(admin.stores)
    series = series_id_of(week.bundles[SEN])
    assert series is not None
    one_to_one = next(r for r in rows if r["Rule"] == "one-to-one-with-pupil")
    by_series = admin.exemptions.add(rule="one-to-one-with-pupil", scope="series", value=series,
                                     reason="Approved SEN reading support", approver="DSL", expires=date(2027, 7, 23),
                                     by="admin", now=NOW, zone=LONDON)
    assert exemption_for(one_to_one, [by_series], NOW, series_id=series) == by_series
    assert exemption_for(one_to_one, [by_series], NOW, series_id="19:other@thread.v2") is None
    assert exemption_for({**one_to_one, "Rule": "pupils-unsupervised"}, [by_series], NOW, series_id=series) is None
    guest = next(r for r in rows if r["Subject"] == "Sofia's mum")
    with pytest.raises(InvalidInput, match="address"):
        admin.exemptions.add(rule="uninvited-attendee", scope="external", value="Sofia's mum", reason="x",
                             approver="DSL", expires=date(2027, 1, 1), by="admin", now=NOW, zone=LONDON)
    author = admin.exemptions.add(rule="uninvited-attendee", scope="external", value="author@books.example",
                                  reason="Visiting author", approver="Head", expires=date(2026, 12, 1), by="admin",
                                  now=NOW, zone=LONDON)
    assert exemption_for({**guest, "Subject": "Author@Books.example"}, [author], NOW) == author
    assert exemption_for(guest, [author], NOW) is None
    screen = next(r for r in rows if r["Rule"] == "pupil-screen-shared")
    pupil = admin.exemptions.add(rule="pupil-screen-shared", scope="pupil", value=screen["Subject"],
                                 reason="Presenting project", approver="DSL", expires=date(2026, 12, 1), by="admin",
                                 now=NOW, zone=LONDON)
    assert exemption_for(screen, [pupil], NOW) == pupil
    organiser = admin.exemptions.add(rule="not-in-class-team-general", scope="organiser",
                                     value=one_to_one["OrganiserId"], reason="Interventions lead", approver="Head",
                                     expires=date(2026, 12, 1), by="admin", now=NOW, zone=LONDON)
    general = [r for r in rows if r["Rule"] == "not-in-class-team-general"]
    matched = [r for r in general if exemption_for(r, [organiser], NOW)]
    assert matched and all(r["OrganiserId"] == one_to_one["OrganiserId"] for r in matched)
    assert len(matched) < len(general)


def test_exemptions_expire_and_can_be_removed(admin: Admin, week: Week) -> None:
    row = next(r for r in all_findings(admin.stores) if r["Rule"] == "pupil-screen-shared")
    exemption = admin.exemptions.add(rule="pupil-screen-shared", scope="pupil", value=row["Subject"], reason="x",
                                     approver="DSL", expires=date(2026, 11, 30), by="admin", now=NOW, zone=LONDON)
    last_evening = NOW.replace(day=30, hour=23, minute=59)  # UTC 23:59 = London 23:59 in winter
    assert exemption_for(row, admin.exemptions.all(), last_evening) is not None
    assert exemption_for(row, admin.exemptions.all(), last_evening + timedelta(minutes=2)) is None
    assert admin.exemptions.active(last_evening + timedelta(minutes=2)) == []
    admin.exemptions.remove(exemption.id, by="admin", now=NOW + timedelta(minutes=5))
    assert exemption_for(row, admin.exemptions.all(), NOW) is None
    assert [e.id for e in admin.exemptions.all()] == [exemption.id]  # kept on record
    assert [e.action for e in admin.audit.entries(target=f"exemption:{exemption.id}")] == ["exemption-add",
                                                                                           "exemption-remove"]


def test_consent_missing_and_evidence_unavailable_cannot_be_exempted(admin: Admin, week: Week) -> None:
    for rule in ("consent-missing", "evidence-unavailable"):
        with pytest.raises(InvalidInput, match="cannot be exempted"):
            admin.exemptions.add(rule=rule, scope="organiser", value="e995966a-ce95-4262-9671-04eb4ce9f070",
                                 reason="x", approver="y", expires=date(2026, 12, 1), by="z", now=NOW, zone=LONDON)
    with pytest.raises(InvalidInput, match="400 days"):
        admin.exemptions.add(rule="one-to-one-with-pupil", scope="organiser",
                             value="e995966a-ce95-4262-9671-04eb4ce9f070", reason="x", approver="y",
                             expires=date(2030, 1, 1), by="z", now=NOW, zone=LONDON)


def test_apply_exemptions_marks_findings_still_stored(admin: Admin, week: Week) -> None:
    series = series_id_of(week.bundles[SEN])
    admin.exemptions.add(rule="one-to-one-with-pupil", scope="series", value=series or "", reason="SEN",
                         approver="DSL", expires=date(2027, 7, 1), by="admin", now=NOW, zone=LONDON)
    occurrence = week.occurrences[SEN]
    marked = apply_exemptions(admin.stores.findings.table, WEEK, occurrence, admin.exemptions.active(NOW), NOW,
                              series_id=series)
    assert len(marked) == 1
    rows = [r for r in all_findings(admin.stores) if r["OccurrenceId"] == occurrence]
    assert len(rows) == 2  # both still stored
    exempt = [r for r in rows if r.get("ExemptionId")]
    assert [r["Rule"] for r in exempt] == ["one-to-one-with-pupil"]
    assert q.effective_status(exempt[0], NOW) == "exempt"
    assert apply_exemptions(admin.stores.findings.table, WEEK, occurrence, admin.exemptions.active(NOW), NOW,
                            series_id=series) == []


def test_cli_exemptions(admin: Admin, week: Week, cli: Callable[..., tuple[int, str, str]]) -> None:
    status, out, err = cli("exemption", "add", "--rule", "uninvited-attendee", "--external", "author@books.example",
                           "--reason", "Visiting author, World Book Day", "--approver", "Head",
                           "--expires", (date.today() + timedelta(days=30)).isoformat(), "--by", "admin")
    assert status == 0, err
    ident = out.split(":")[0]
    status, out, _ = cli("exemption", "list", "--format", "json")
    assert [e["id"] for e in json.loads(out)] == [ident]
    status, out, err = cli("exemption", "remove", ident, "--by", "admin")
    assert status == 0, err
    status, out, _ = cli("exemption", "list", "--format", "json")
    assert json.loads(out) == []
    status, _, err = cli("exemption", "add", "--rule", "consent-missing", "--organiser",
                         "e995966a-ce95-4262-9671-04eb4ce9f070", "--reason", "x", "--approver", "y",
                         "--expires", (date.today() + timedelta(days=3)).isoformat())
    assert status == 2 and "cannot be exempted" in err and err.count("\n") == 1
