"""The consent register: a Google Forms export matched to directory pupils by UPN or name, never guessing;
bad rows reported by line; all or nothing (a new version, then the pointer); revocation; the gateway's source."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from shared.admin.context import Admin
from shared.admin.directory import Pupil
from shared.admin.validate import InvalidInput
from shared.graph.directory import ConsentSource
from shared.records.consent import Columns, ImportRefused, plan_import
from tests.admin.conftest import AFTER_THE_WEEK, LONDON

NOW = AFTER_THE_WEEK
HEADER = "Timestamp,Pupil's name or school email,Parent or carer name,Do you consent to video lessons?\n"
COLUMNS = Columns(pupil="Pupil", parent="Parent", answer="consent")


def school(count: int = 150) -> list[Pupil]:
    pupils = [Pupil(str(uuid.UUID(int=i + 1)), f"Pupil {i:03d}", f"p{i:03d}@elmgrove.sch.uk") for i in range(count)]
    # two pupils with one name: a name alone can never say which
    pupils.append(Pupil(str(uuid.UUID(int=900)), "Amelia Jones", "a.jones1@elmgrove.sch.uk"))
    pupils.append(Pupil(str(uuid.UUID(int=901)), "Amelia Jones", "a.jones2@elmgrove.sch.uk"))
    return pupils


def csv_of(rows: list[str]) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def good_rows(count: int) -> list[str]:
    return [f"03/09/2026 08:{i % 60:02d}:00,p{i:03d}@elmgrove.sch.uk,Parent {i},Yes" if i % 2 else
            f"03/09/2026 09:{i % 60:02d}:00,  pupil {i:03d} ,Parent {i},\"Yes, I consent\"" for i in range(count)]


def test_import_of_more_than_100_rows_with_duplicates(admin: Admin) -> None:
    rows = good_rows(130)
    rows.append("04/09/2026 10:00:00,P005@ELMGROVE.SCH.UK,Parent 5,No")  # a parent changing their mind: later wins
    rows.append("01/09/2026 10:00:00,Pupil 007,Parent 7,No")  # older than that pupil's yes: the yes stands
    plan = plan_import(csv_of(rows), school(), LONDON, columns=COLUMNS)
    assert plan.problems == [] and plan.rows == 132 and plan.duplicates == 2
    assert any("line 132: duplicate of line 7" in n and "(line 132, no) stands" in n for n in plan.notes)
    assert any("line 133: duplicate of line 9" in n and "(line 9, yes) stands" in n for n in plan.notes)
    result = admin.consent.import_plan(plan, source="consent.csv", by="office", now=NOW)
    assert (result.rows, result.consented, result.refused) == (132, 129, 1)
    consented = admin.consent.consented()
    assert len(consented) == 129
    assert str(uuid.UUID(int=6)) not in consented and str(uuid.UUID(int=8)) in consented
    assert admin.consent.imports()[0]["By"] == "office"
    assert admin.consent.imports()[0]["Consented"] == 129
    assert [e.action for e in admin.audit.entries(action="consent-import")] == ["consent-import"]


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(admin: Admin) -> None:
    first = admin.consent.import_plan(plan_import(csv_of(good_rows(3)), school(), LONDON, columns=COLUMNS),
                                      source="first.csv", by="office", now=NOW)
    before = admin.consent.consented()
    rows = good_rows(120)
    rows[10] = "03/09/2026 08:10:00,Amelia Jones,Mr Jones,Yes"  # line 12: ambiguous
    rows[20] = "03/09/2026 08:20:00,Nobody Known,Ms X,Yes"  # line 22: unmatched
    rows[30] = "31/02/2026 08:30:00,p030@elmgrove.sch.uk,Parent,Yes"  # line 32: no such date
    rows[40] = "03/09/2026 08:40:00,p040@elmgrove.sch.uk,Parent,Maybe"  # line 42: neither yes nor no
    rows[50] = "03/09/2026 08:50:00,p050@elmgrove.sch.uk,,Yes"  # line 52: no parent
    rows[60] = "03/09/2026 09:00:00,p060@elmgrove.sch.uk,Parent"  # line 62: a field short
    plan = plan_import(csv_of(rows), school(), LONDON, columns=COLUMNS)
    assert [(p.line, p.kind) for p in plan.problems] == [(12, "ambiguous"), (22, "unmatched"), (32, "malformed"),
                                                         (42, "malformed"), (52, "malformed"), (62, "malformed")]
    assert all("\n" not in str(p) for p in plan.problems)
    assert "a.jones1@elmgrove.sch.uk, a.jones2@elmgrove.sch.uk" in str(plan.problems[0])
    with pytest.raises(ImportRefused) as refused:
        admin.consent.import_plan(plan, source="second.csv", by="office", now=NOW + timedelta(minutes=1))
    assert "nothing imported: 6 problem row(s)" in str(refused.value)
    assert admin.consent.active_version() == first.version and admin.consent.consented() == before
    assert len(admin.consent.imports()) == 1
    versions = {r["PartitionKey"] for r in admin.tables.consent_register.list_entities()}
    assert versions == {"active", first.version}  # no half-written version left behind
    # skipping unmatched rows is a choice; malformed rows still refuse
    with pytest.raises(ImportRefused) as refused:
        admin.consent.import_plan(plan, source="second.csv", by="office", now=NOW, skip_unmatched=True)
    assert [p.line for p in refused.value.problems] == [32, 42, 52, 62]


def test_header_problems_are_one_line(admin: Admin) -> None:
    with pytest.raises(InvalidInput, match="no column 'Consent'"):
        plan_import("Timestamp,Pupil,Parent,Answer\n", school(), LONDON)
    with pytest.raises(InvalidInput, match="empty file"):
        plan_import("", school(), LONDON)
    plan = plan_import("Timestamp,Pupil,Parent,Answer\n2026/09/03 8:41:12 am GMT+1,Pupil 001,Mum,yes\n", school(),
                       LONDON, columns=Columns(answer="Answer"))
    assert plan.answers[0].answered_at.isoformat() == "2026-09-03T07:41:12+00:00"


def test_revocation_is_a_new_version_and_outlives_an_older_yes(admin: Admin) -> None:
    text = csv_of(good_rows(4))
    admin.consent.import_plan(plan_import(text, school(), LONDON, columns=COLUMNS), source="a.csv", by="office",
                              now=NOW)
    pupil = str(uuid.UUID(int=2))
    assert pupil in admin.consent.consented()
    admin.consent.revoke("p001@elmgrove.sch.uk", reason="Parent's email of 20 Nov", by="office", now=NOW)
    assert pupil not in admin.consent.consented() and len(admin.consent.consented()) == 3
    again = admin.consent.import_plan(plan_import(text, school(), LONDON, columns=COLUMNS), source="a.csv",
                                      by="office", now=NOW + timedelta(days=1))
    assert pupil not in admin.consent.consented()
    assert any("stays revoked" in n for n in again.notes)
    later = text + "25/11/2026 10:00:00,p001@elmgrove.sch.uk,Parent 1,Yes\n"  # a new yes after the revocation
    admin.consent.import_plan(plan_import(later, school(), LONDON, columns=COLUMNS), source="b.csv", by="office",
                              now=NOW + timedelta(days=3))
    assert pupil in admin.consent.consented()
    with pytest.raises(InvalidInput, match="no consent recorded"):
        admin.consent.revoke("p099@elmgrove.sch.uk", reason="x", by="office", now=NOW)


def test_table_consent_source_serves_the_gateway(admin: Admin) -> None:
    source: ConsentSource = admin.consent_source()
    assert asyncio.run(source.consented_pupils()) == frozenset()  # no register yet: nobody consented
    admin.consent.import_plan(plan_import(csv_of(good_rows(2)), school(), LONDON, columns=COLUMNS),
                              source="a.csv", by="office", now=NOW)
    assert asyncio.run(source.consented_pupils()) == {str(uuid.UUID(int=1)), str(uuid.UUID(int=2))}


def test_cli_consent_import(admin: Admin, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    directory = tmp_path / "users.json"
    directory.write_text(json.dumps([p.to_json() for p in school()]))
    good = tmp_path / "consent.csv"
    good.write_text(csv_of(good_rows(101)))
    status, out, err = cli("consent", "import", str(good), "--directory", str(directory),
                           "--pupil-column", "Pupil", "--parent-column", "Parent", "--answer-column", "consent",
                           "--by", "office")
    assert status == 0, err
    assert "imported 101 row(s)" in out and "101 consented" in out
    bad = tmp_path / "bad.csv"
    rows = good_rows(3)
    rows[1] = "03/09/2026 08:01:00,Amelia Jones,Mr Jones,Yes"
    bad.write_text(csv_of(rows))
    status, out, err = cli("consent", "import", str(bad), "--directory", str(directory), "--pupil-column", "Pupil",
                           "--parent-column", "Parent", "--answer-column", "consent")
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"vcaudit: {bad}: line 3: 'Amelia Jones' matches 2 pupils")
    assert lines[-1].endswith("nothing imported: 1 problem row(s)")
    assert len(admin.consent.consented()) == 101
    status, out, _ = cli("consent", "list", "--format", "json")
    assert len(json.loads(out)) == 101
    status, out, err = cli("consent", "revoke", "p003@elmgrove.sch.uk", "--reason", "Withdrawn", "--by", "office")
    assert status == 0, err
    assert len(admin.consent.consented()) == 100


# ---------------------------------------------------------------------------------------------- all or nothing
def _import(admin: Admin, rows: list[str], **options: object) -> object:
    plan = plan_import(csv_of(rows), school(), LONDON, columns=COLUMNS)
    return admin.consent.import_plan(plan, source="consent.csv", by="office", now=NOW, **options)  # type: ignore[arg-type]


def test_an_import_that_would_empty_the_register_is_refused_unless_confirmed(
        admin: Admin, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    from shared.records.consent import RemovalsRefused

    _import(admin, good_rows(120))
    before = admin.consent.active_version()
    with pytest.raises(RemovalsRefused) as refused:
        _import(admin, [])  # a header-only file
    assert str(refused.value) == ("consent.csv: nothing imported: it would remove 120 of the 120 current consent(s) "
                                  "(all; more than 10% needs confirming); check the file, or confirm with "
                                  "--confirm-removals")
    assert admin.consent.active_version() == before and len(admin.consent.consented()) == 120
    # every row skipped with --skip-unmatched: the same
    directory = tmp_path / "users.json"
    directory.write_text(json.dumps([p.to_json() for p in school()]))
    unmatched = tmp_path / "unmatched.csv"
    unmatched.write_text(csv_of([f"03/09/2026 08:0{i}:00,Nobody {i},Parent,Yes" for i in range(3)]))
    args = ("consent", "import", str(unmatched), "--directory", str(directory), "--pupil-column", "Pupil",
            "--parent-column", "Parent", "--answer-column", "consent", "--skip-unmatched")
    status, out, err = cli(*args)
    assert (status, out) == (2, "")
    assert err == (f"vcaudit: {unmatched}: nothing imported: it would remove 120 of the 120 current consent(s) "
                   "(all; more than 10% needs confirming); check the file, or confirm with --confirm-removals\n")
    assert admin.consent.active_version() == before
    # a few fewer is an ordinary import; confirmed, even all may go
    _import(admin, good_rows(110))
    assert len(admin.consent.consented()) == 110
    status, out, err = cli(*args, "--confirm-removals")
    assert status == 0, err
    assert admin.consent.consented() == frozenset()


class FailingTransactions:
    """The register's table client, failing its ``fail_at``-th transaction once (a storage error mid-write)."""

    def __init__(self, table: object, fail_at: int) -> None:
        self.table = table
        self.fail_at = fail_at
        self.count = 0

    def submit_transaction(self, operations: list) -> object:
        self.count += 1
        if self.count == self.fail_at:
            from azure.core.exceptions import ServiceRequestError

            raise ServiceRequestError("connection reset (injected)")
        return self.table.submit_transaction(operations)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.table, name)


def _versions(admin: Admin) -> set[str]:
    return {str(r["PartitionKey"]) for r in admin.consent.register.list_entities(select=["PartitionKey"])} - {"active"}


def test_a_failed_import_leaves_none_of_its_rows(admin: Admin) -> None:
    _import(admin, good_rows(30))
    before = admin.consent.active_version()
    register = admin.consent
    register.register = FailingTransactions(register.register, fail_at=2)  # the next import's 2nd batch of 100
    from azure.core.exceptions import ServiceRequestError

    plan = plan_import(csv_of(good_rows(150)), school(), LONDON, columns=COLUMNS)
    with pytest.raises(ServiceRequestError):
        register.import_plan(plan, source="consent.csv", by="office", now=NOW)
    assert register.register.count >= 2  # the failure happened mid-write, after a first batch
    assert _versions(admin) == {before}
    assert admin.consent.active_version() == before and len(admin.consent.consented()) == 30


def test_a_killed_imports_rows_are_never_shown_and_swept_by_the_next_import(admin: Admin) -> None:
    _import(admin, good_rows(30))
    pupil = str(uuid.UUID(int=1))
    killed = "v20260903T070000000000-dead01"  # hours before NOW's imports: its writer is long gone
    admin.consent.register.create_entity({"PartitionKey": killed, "RowKey": pupil, "Consent": True,
                                          "Parent": "Half-written", "Source": "import"})
    about = admin.consent.about_pupil(pupil)
    assert "Half-written" not in json.dumps(about, default=str)
    assert len(about["active"]) == 1
    _import(admin, good_rows(30))
    assert killed not in _versions(admin)
    assert len(admin.consent.about_pupil(pupil)["earlierVersions"]) == 1
