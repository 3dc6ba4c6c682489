"""Querying findings and the meeting log: each filter, paging past 1,000 rows, and OData injection attempts
that must find nothing more than the literal value would."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from azure.data.tables import UpdateMode

from shared.admin import query as q
from shared.admin.context import Admin
from shared.admin.validate import InvalidInput
from shared.store.keys import finding_row_key
from tests.admin.conftest import AFTER_THE_WEEK, LONDON, WEEK, Week, all_findings

NOW = AFTER_THE_WEEK
PATEL = "e995966a-ce95-4262-9671-04eb4ce9f070"


def found(admin: Admin, now=NOW, resolver=None, **raw: str) -> list[dict]:
    query = q.FindingFilter.parse(raw).query(LONDON, now, resolver)
    return list(q.every(admin.stores.findings.table, query))


def meetings(admin: Admin, **raw: str) -> list[dict]:
    query = q.MeetingFilter.parse(raw).query(LONDON, NOW)
    return list(q.every(admin.stores.meetings.table, query))


def test_no_filter_lists_every_finding(admin: Admin, week: Week) -> None:
    rows = found(admin)
    assert len(rows) == len(all_findings(admin.stores)) == 26


def test_week_filter(admin: Admin, week: Week) -> None:
    assert len(found(admin, week=WEEK)) == 26
    assert found(admin, week="2026-W48") == []


def test_date_range_filter_by_local_day(admin: Admin, week: Week) -> None:
    tuesday = found(admin, **{"from": "2026-11-17", "to": "2026-11-17"})
    assert {r["OccurrenceId"] for r in tuesday} == {week.occurrences[n] for n in (
        "2026-11-17-0900-year6-english", "2026-11-17-1030-year4-science", "2026-11-17-1600-year6-homework-help")}
    assert len(found(admin, **{"from": "2026-11-19"})) == 6
    assert len(found(admin, **{"to": "2026-11-16"})) == 6
    with pytest.raises(InvalidInput, match="before"):
        found(admin, **{"from": "2026-11-19", "to": "2026-11-18"})
    with pytest.raises(InvalidInput, match="not both"):
        found(admin, week=WEEK, **{"from": "2026-11-19"})


def test_rule_and_severity_filters(admin: Admin, week: Week) -> None:
    rows = found(admin, rule="not-in-class-team-general")
    assert len(rows) == 6 and {r["Rule"] for r in rows} == {"not-in-class-team-general"}
    high = found(admin, severity="high")
    assert high and all(r["Severity"] == "high" for r in high)
    assert len(high) < 26
    with pytest.raises(InvalidInput, match="rule"):
        found(admin, rule="no-such-rule")


def test_organiser_by_id_name_and_upn(admin: Admin, week: Week) -> None:
    by_id = found(admin, organiser=PATEL)
    assert by_id and all(r["OrganiserId"] == PATEL for r in by_id)
    assert found(admin, organiser="Sarah Patel") == by_id
    directory = week.bundles["2026-11-17-1030-year4-science"]["directory"]["users"]
    upns = {u["userPrincipalName"].lower(): uid for uid, u in directory.items()}
    assert found(admin, resolver=upns.get, organiser="s.patel@elmgrove.sch.uk") == by_id
    with pytest.raises(InvalidInput, match="no user"):
        found(admin, resolver=upns.get, organiser="nobody@elmgrove.sch.uk")
    with pytest.raises(InvalidInput, match="directory"):
        found(admin, organiser="s.patel@elmgrove.sch.uk")  # no directory: never a guess


def test_team_filter(admin: Admin, week: Week) -> None:
    teams = {r["Team"] for r in all_findings(admin.stores) if r["Team"]}
    assert teams
    team = sorted(teams)[0]
    rows = found(admin, team=team)
    assert rows and all(r["Team"] == team for r in rows)


def test_subject_filter_by_id_and_by_name(admin: Admin, week: Week) -> None:
    pupil = "aaa49ea7-8d19-5596-a963-c1a5a2a76606"
    rows = found(admin, subject=pupil)
    assert [r["Rule"] for r in rows] == ["pupil-screen-shared"]
    assert found(admin, subject=pupil.upper()) == rows
    name = rows[0]["SubjectName"]
    assert found(admin, subject=name) == rows
    guest = found(admin, subject="Sofia's mum")  # a quote in a value is data, not syntax
    assert [r["Rule"] for r in guest] == ["uninvited-attendee"]


def test_status_filter_follows_people_and_machine(admin: Admin, week: Week) -> None:
    rows = all_findings(admin.stores)
    table = admin.stores.findings.table
    first, second, third = rows[0], rows[1], rows[2]
    table.update_entity({"PartitionKey": WEEK, "RowKey": first["RowKey"], "Status": "false-positive"},
                        mode=UpdateMode.MERGE)
    table.update_entity({"PartitionKey": WEEK, "RowKey": second["RowKey"], "Status": "acknowledged"},
                        mode=UpdateMode.MERGE)
    table.update_entity({"PartitionKey": WEEK, "RowKey": third["RowKey"], "MachineState": "resolved"},
                        mode=UpdateMode.MERGE)
    assert [r["RowKey"] for r in found(admin, status="false-positive")] == [first["RowKey"]]
    assert [r["RowKey"] for r in found(admin, status="acknowledged")] == [second["RowKey"]]
    assert [r["RowKey"] for r in found(admin, status="resolved")] == [third["RowKey"]]
    assert len(found(admin, status="open")) == 23
    assert found(admin, status="exempt") == []


def test_meeting_filters(admin: Admin, week: Week) -> None:
    assert len(meetings(admin, week=WEEK)) == 18
    assert len(meetings(admin, in_scope="no")) == 2  # the staff briefing and the governors
    patel = meetings(admin, organiser="Sarah Patel")
    assert patel and all(m["OrganiserName"] == "Sarah Patel" for m in patel)
    titled = meetings(admin, title="Spelling catch-up")
    assert [m["RowKey"] for m in titled] == [week.occurrences["2026-11-16-1100-year4-spelling-catch-up"]]
    occurrences = {(r["PartitionKey"], r["OccurrenceId"]) for r in found(admin, rule="pupils-unsupervised")}
    having = list(q.every(admin.stores.meetings.table,
                          q.MeetingFilter.parse({"rule": "pupils-unsupervised"}).query(LONDON, NOW, None, occurrences)))
    assert {m["RowKey"] for m in having} == {week.occurrences["2026-11-17-1600-year6-homework-help"],
                                             week.occurrences["2026-11-18-1030-year3-maths"]}


def _bulk(admin: Admin, count: int, week_key: str = "2026-W10") -> None:
    from datetime import UTC, datetime

    table = admin.stores.findings.table
    rows = [{"PartitionKey": week_key, "RowKey": finding_row_key(f"occ{i:05d}", "pupils-unsupervised", None),
             "OccurrenceId": f"occ{i:05d}", "Rule": "pupils-unsupervised" if i % 3 else "consent-missing",
             "Severity": "high", "Subject": "", "Start": datetime(2026, 3, 3, 10, tzinfo=UTC),
             "MachineState": "open", "Summary": f"row {i}"} for i in range(count)]
    for start in range(0, count, 100):
        table.submit_transaction([("upsert", r) for r in rows[start:start + 100]])


def test_paging_over_more_than_1000_findings(admin: Admin) -> None:
    _bulk(admin, 1234)
    query = q.FindingFilter.parse({"week": "2026-W10"}).query(LONDON, NOW)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        result = q.page(admin.stores.findings.table, query, limit=500, continuation=token)
        assert len(result.items) <= 500
        seen.extend(r["RowKey"] for r in result.items)
        pages += 1
        token = result.continuation
        if token is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 1234
    assert len(list(q.every(admin.stores.findings.table, query))) == 1234  # the service's own 1,000-row pages
    # a filter that only this side can judge (status) still pages exactly
    table = admin.stores.findings.table
    for row in list(table.list_entities())[:7]:
        table.update_entity({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], "Status": "acknowledged"},
                            mode=UpdateMode.MERGE)
    acknowledged = q.FindingFilter.parse({"week": "2026-W10", "status": "acknowledged"}).query(LONDON, NOW)
    first = q.page(table, acknowledged, limit=5)
    assert len(first.items) == 5 and first.continuation
    rest = q.page(table, acknowledged, limit=500, continuation=first.continuation)
    assert len(rest.items) == 2


def test_continuation_tokens_are_checked(admin: Admin) -> None:
    query = q.FindingFilter.parse({}).query(LONDON, NOW)
    for bad in ("not-a-token", "eyJ4IjoxfQ", "x" * 2000):
        with pytest.raises(InvalidInput, match="continuation"):
            q.page(admin.stores.findings.table, query, limit=10, continuation=bad)


INJECTIONS = ("' or 1 eq 1", "x' or PartitionKey ne '", "' or ''='", "x) or (1 eq 1", "@week", "' or true or '",
              "2026-W47' or RowKey ne '")


@pytest.mark.parametrize("field", ["rule", "severity", "status", "organiser", "team", "subject", "week", "from",
                                   "to"])
def test_injection_in_every_finding_filter_finds_nothing_extra(admin: Admin, week: Week, field: str) -> None:
    for attempt in INJECTIONS:
        try:
            rows = found(admin, **{field: attempt})
        except InvalidInput:
            continue  # refused outright: nothing found either
        assert rows == [], f"{field}={attempt!r} found {len(rows)} rows"


@pytest.mark.parametrize("field", ["title", "organiser", "team", "in_scope", "week"])
def test_injection_in_every_meeting_filter_finds_nothing_extra(admin: Admin, week: Week, field: str) -> None:
    for attempt in INJECTIONS:
        try:
            rows = meetings(admin, **{field: attempt})
        except InvalidInput:
            continue
        assert rows == [], f"{field}={attempt!r} found {len(rows)} rows"


def test_views_and_cli_output(admin: Admin, week: Week, cli: Callable[..., tuple[int, str, str]]) -> None:
    status, out, err = cli("findings", "--week", WEEK, "--rule", "pupils-unsupervised", "--format", "json")
    assert status == 0, err
    rows = json.loads(out)
    assert {r["rule"] for r in rows} == {"pupils-unsupervised"} and len(rows) == 2
    assert all(r["id"].startswith(WEEK + ".") and r["status"] == "open" and r["evidence"] for r in rows)
    status, out, _ = cli("findings", "--severity", "high", "--format", "csv")
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("id,week,status,severity")
    assert len(lines) - 1 == len(found(admin, severity="high"))
    status, out, err = cli("findings", "--limit", "10")
    assert status == 0 and "10 row(s)" in out
    token = err.split("--continue ")[1].strip()
    status, out, err = cli("findings", "--continue", token)
    assert status == 0 and "16 row(s)" in out and err == ""
    status, out, err = cli("findings", "--rule", "' or 1 eq 1")
    assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith("vcaudit: rule:")
    status, out, err = cli("meetings", "--week", WEEK, "--in-scope", "yes")
    assert status == 0 and "16 row(s)" in out
    occurrence = week.occurrences["2026-11-18-1530-year3-sen-reading"]
    status, out, err = cli("meeting", f"{WEEK}.{occurrence}", "--format", "json")
    assert status == 0, err
    detail = json.loads(out)
    assert detail["meeting"]["series"].startswith("19:meeting_ntiw")
    assert {f["rule"] for f in detail["findings"]} == {"not-in-class-team-general", "one-to-one-with-pupil"}
    assert all("evidence" in f for f in detail["findings"])
    status, out, err = cli("meeting", occurrence)
    assert status == 0 and "one-to-one-with-pupil" in out
    status, _, err = cli("meeting", "2026-W47.' or 1 eq 1")
    assert status == 2 and "not a meeting id" in err


def test_date_helpers_reject_nonsense(admin: Admin) -> None:
    for raw in ({"week": "2026-W54"}, {"from": "2026-02-30"}, {"to": "yesterday"}, {"severity": "urgent"},
                {"status": "closed"}, {"team": "x" * 300}, {"subject": "a\x00b"}):
        with pytest.raises(InvalidInput):
            q.FindingFilter.parse(raw)
    assert q.FindingFilter.parse({"from": "2026-11-16"}).date_from == date(2026, 11, 16)
