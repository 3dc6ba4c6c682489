"""Holds surviving retention, a subject-access export and an erasure, each audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.admin.context import Admin
from shared.admin.validate import InvalidInput
from shared.records import retention as records
from shared.records.audit import pupil_ref
from shared.store.keys import finding_id
from tests.admin.conftest import AFTER_THE_WEEK, WEEK, Week, all_findings

NOW = AFTER_THE_WEEK
SCREEN_SHARER = "aaa49ea7-8d19-5596-a963-c1a5a2a76606"  # Year 6 English: shared their screen
SCREEN_LESSON = "2026-11-17-0900-year6-english"


def blobs(admin: Admin) -> set[str]:
    return {b.name for b in admin.stores.evidence.container.list_blobs()}


def test_holds_survive_retention(admin: Admin, week: Week) -> None:
    rows = all_findings(admin.stores)
    held_finding = next(r for r in rows if r["Rule"] == "pupils-unsupervised")
    held_meeting = week.occurrences["2026-11-17-1030-year4-science"]
    records.hold(admin.stores, admin.audit, "finding", finding_id(WEEK, held_finding["RowKey"]),
                 reason="Child-protection referral 2026-114", by="dsl", now=NOW)
    records.hold(admin.stores, admin.audit, "meeting", f"{WEEK}.{held_meeting}", reason="LADO enquiry", by="dsl",
                 now=NOW)
    assert len(blobs(admin)) == 16
    untouched = records.purge_older_than(admin.stores, WEEK)  # nothing is older than its own week
    assert (untouched.findings_deleted, untouched.meetings_deleted, untouched.blobs_deleted) == (0, 0, 0)
    report = records.purge_older_than(admin.stores, "2026-W48", audit=admin.audit, now=NOW)
    left = all_findings(admin.stores)
    kept_occurrences = {held_finding["OccurrenceId"], held_meeting}
    assert {r["OccurrenceId"] for r in left} == kept_occurrences
    assert len(left) == 3 + 2  # a held finding keeps its meeting's findings; so does a held meeting
    assert {m["RowKey"] for m in admin.stores.meetings.table.list_entities()} == kept_occurrences
    assert blobs(admin) == {f"{WEEK}/{o}.json" for o in kept_occurrences}
    assert report.findings_deleted == 26 - 5 and report.meetings_deleted == 16 and report.blobs_deleted == 14
    assert [e.action for e in admin.audit.entries(action="retention")] == ["retention"]
    # released, the next run deletes them
    records.release(admin.stores, admin.audit, "meeting", held_meeting, reason="Enquiry closed", by="dsl", now=NOW)
    records.release(admin.stores, admin.audit, "finding", finding_id(WEEK, held_finding["RowKey"]),
                    reason="Referral closed", by="dsl", now=NOW)
    with pytest.raises(InvalidInput, match="not on hold"):
        records.release(admin.stores, admin.audit, "finding", finding_id(WEEK, held_finding["RowKey"]), reason="x",
                        by="dsl", now=NOW)
    records.purge_older_than(admin.stores, "2026-W48")
    assert all_findings(admin.stores) == [] and blobs(admin) == set()


def test_subject_access_exports_one_pupils_data_only(admin: Admin, week: Week, tmp_path: Path,
                                                     cli: Callable[..., tuple[int, str, str]]) -> None:
    out = tmp_path / "sar.json"
    status, _text, err = cli("subject-access", SCREEN_SHARER, "--out", str(out), "--by", "dpo")
    assert status == 0, err
    export = json.loads(out.read_text())
    assert export["pupil"] == SCREEN_SHARER
    assert [f["rule"] for f in export["findings"]] == ["pupil-screen-shared"]
    lessons = {m["meeting"].split(".")[1] for m in export["meetings"]}
    assert week.occurrences[SCREEN_LESSON] in lessons
    assert all(m["log"] is not None for m in export["meetings"])
    everyone = set(week.bundles[SCREEN_LESSON]["directory"]["pupils"]) - {SCREEN_SHARER}
    dumped = json.dumps(export["meetings"])
    assert SCREEN_SHARER in dumped
    assert not any(other in dumped for other in everyone), "other pupils' data leaked into the export"
    assert export["directory"]["displayName"]
    status, _, err = cli("subject-access", SCREEN_SHARER, "--out", str(out))
    assert status == 2 and "exists" in err
    assert [e.action for e in admin.audit.entries(target=pupil_ref(SCREEN_SHARER))] == ["subject-access"]


def test_erasure_removes_the_pupil_except_what_is_held(admin: Admin, week: Week,
                                                       cli: Callable[..., tuple[int, str, str]]) -> None:
    uninvited = "f31e2235-4f02-5f77-83c0-0864bc9cfc74"  # Year 5 English: an uninvited pupil
    held = next(r for r in all_findings(admin.stores) if r["Subject"] == uninvited)
    records.hold(admin.stores, admin.audit, "finding", finding_id(WEEK, held["RowKey"]), reason="CP case",
                 by="dsl", now=NOW)
    status, out, err = cli("erase", SCREEN_SHARER, "--reason", "Request 2026-07")
    assert status == 2 and "--yes" in err
    status, out, err = cli("erase", SCREEN_SHARER, "--reason", "Request 2026-07", "--yes", "--by", "dpo")
    assert status == 0, err
    assert not any(r["Subject"] == SCREEN_SHARER for r in all_findings(admin.stores))
    held_blob = f"{WEEK}/{held['OccurrenceId']}.json"  # a meeting with a finding on hold is kept whole
    for name in blobs(admin) - {held_blob}:
        assert SCREEN_SHARER not in admin.stores.evidence.container.download_blob(name).readall().decode()
    assert "findings deleted: 1" in out
    # a held finding's pupil: the held finding and its meeting's evidence stay
    report = records.erase(admin.stores, admin.exemptions, admin.consent, admin.audit, uninvited, by="dpo", now=NOW,
                           reason="Request 2026-08")
    assert finding_id(WEEK, held["RowKey"]) in report.kept_on_hold
    assert any(r["Subject"] == uninvited for r in all_findings(admin.stores))
    lesson = week.occurrences["2026-11-18-0900-year5-english"]
    assert uninvited in admin.stores.evidence.container.download_blob(f"{WEEK}/{lesson}.json").readall().decode()
    erasures = admin.audit.entries(action="erase")
    assert sorted(e.target for e in erasures) == sorted([pupil_ref(SCREEN_SHARER), pupil_ref(uninvited)])
    assert SCREEN_SHARER not in json.dumps([e.detail for e in erasures])


@pytest.mark.parametrize("held_key", ["0" * 40, "f" * 40], ids=["held-row-read-first", "held-row-read-last"])
def test_erasure_decides_per_meeting_whatever_the_row_order(admin: Admin, week: Week, held_key: str) -> None:
    """A meeting with two findings, one of them on hold (read before the pupil's finding, or after it): the
    whole meeting stays as it is, listed, and a second erasure changes nothing more."""
    pupil = SCREEN_SHARER
    mine = next(r for r in all_findings(admin.stores) if r["Subject"] == pupil)
    occurrence = mine["OccurrenceId"]
    # a second finding of the same meeting (another person), stored with a key that sorts first or last
    other = {k: v for k, v in mine.items() if k not in ("Timestamp",)}
    other.update(RowKey=held_key, Subject="00000000-1111-2222-3333-444444444444", SubjectName="Another Pupil",
                 Summary="Another pupil's finding", Evidence="{}")
    admin.stores.findings.table.create_entity(other)
    held = other
    records.hold(admin.stores, admin.audit, "finding", finding_id(WEEK, held["RowKey"]), reason="CP case",
                 by="dsl", now=NOW)
    blob = f"{WEEK}/{occurrence}.json"
    evidence_before = admin.stores.evidence.container.download_blob(blob).readall()
    before = {r["RowKey"]: (r.get("Summary"), r.get("Evidence")) for r in all_findings(admin.stores)
              if r["OccurrenceId"] == occurrence}
    report = records.erase(admin.stores, admin.exemptions, admin.consent, admin.audit, pupil, by="dpo", now=NOW,
                           reason="Request")
    after = {r["RowKey"]: (r.get("Summary"), r.get("Evidence")) for r in all_findings(admin.stores)
             if r["OccurrenceId"] == occurrence}
    assert after == before, "a finding of a meeting on hold was changed"
    assert admin.stores.evidence.container.download_blob(blob).readall() == evidence_before
    assert f"{WEEK}.{occurrence}" in report.kept_on_hold
    # elsewhere the pupil is gone, name and all
    names = [u.get("displayName") for b in week.bundles.values() for uid, u in b["directory"]["users"].items()
             if uid == pupil]
    for name in blobs(admin) - {blob}:
        stored = admin.stores.evidence.container.download_blob(name).readall().decode()
        assert pupil not in stored and not any(n and n in stored for n in names), name
    assert not any(r["Subject"] == pupil for r in all_findings(admin.stores) if r["OccurrenceId"] != occurrence)
    again = records.erase(admin.stores, admin.exemptions, admin.consent, admin.audit, pupil, by="dpo", now=NOW,
                          reason="Request")
    assert (again.findings_deleted, again.findings_redacted, again.kept_on_hold) == (0, 0, report.kept_on_hold)
