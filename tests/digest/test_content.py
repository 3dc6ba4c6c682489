"""What the digest says: every concern and issue of a simulated week, in order and in groups; escaping and
formula neutralising; an unhealthy week leads with the warning; a non-DSL copy names no pupil."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser

from devtools.digest_preview import bundles
from shared.digest.collect import MailContext, collect
from shared.digest.csvfile import FORMULA_START, neutralise
from shared.digest.render import render_digest
from shared.store.keys import finding_id
from shared.store.queues import Queues
from shared.store.tables import Stores

from .conftest import MONDAY_AFTER, WEEK, record_week, watch

SECTIONS = ("Needs your decision (", "Setting issues to mention to staff (", "Monitoring What vcaudit could not see",
            "The week in numbers")


def positions(text: str, needles: tuple[str, ...]) -> list[int]:
    return [text.index(n) for n in needles]


class Visible(HTMLParser):
    """The text a reader sees (no tags, entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def pupil_names() -> set[str]:
    directory = bundles()[0][1]["directory"]
    return {directory["users"][p]["displayName"] for p in directory["pupils"] if p in directory["users"]}


def test_the_week_holds_every_concern_and_issue_in_order_and_groups(
        stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    record_week(stores)
    ctx = make_ctx()
    rows = list(stores.findings.week(WEEK))
    digest = collect(ctx, WEEK, MONDAY_AFTER)
    high = {finding_id(WEEK, r["RowKey"]) for r in rows if r["Severity"] == "high"}
    assert len(high) == 10
    assert {v.id for v in digest.concerns} == high
    starts = [v.start for v in digest.concerns]
    assert starts == sorted(starts), "concerns in the order they happened"
    # Setting issues: every other finding once, except the unreadable-evidence one (it is in health), grouped by
    # the meeting's organiser.
    grouped = [v for g in digest.staff for m in g.meetings for v in m.issues]
    others = {finding_id(WEEK, r["RowKey"]) for r in rows
              if r["Severity"] != "high" and r["Rule"] != "evidence-unavailable"}
    assert sorted(v.id for v in grouped) == sorted(others)
    by_name = {g.name: g for g in digest.staff}
    mensah = by_name["James Mensah"]
    assert [m.meeting for m in mensah.meetings] == ["Spelling catch-up", "Times tables club"]
    assert mensah.count == 8 and digest.staff[0] is mensah, "most issues first"
    assert {v.organiser for g in digest.staff if g.is_staff for m in g.meetings for v in m.issues} == {
        g.name for g in digest.staff if g.is_staff}
    not_staff = by_name["Meetings not organised by a member of staff"]
    assert [m.meeting for m in not_staff.meetings] == ["homework help"] and digest.staff[-1] is not_staff
    # Numbers, coverage, closing clauses
    assert (digest.audited, digest.out_of_scope, digest.compliant) == (16, 2, 4)
    assert sum(r.count for r in digest.by_rule) == len(rows)
    assert digest.trend[-1].findings == len(rows) and digest.trend[-1].high == 10 and len(digest.trend) == 8
    assert {g.group for g in digest.consent_gaps} == {"Year 6", "year6@elmgrove.sch.uk"}
    assert {n for n, _ in digest.unclassified} == {"Lucy Barnes", "Year 5 Class iPad"}
    assert ("S13", "Professional boundaries, appropriate language", "not machine-checkable") in digest.not_checkable
    mail = render_digest(digest, full=True)
    text = visible(mail.html)
    assert positions(text, SECTIONS) == sorted(positions(text, SECTIONS))
    for view in digest.concerns:
        assert view.summary in text and view.id not in text
    concern_block = text[text.index("Needs your decision"):text.index("Setting issues to mention to staff")]
    meetings = tuple(dict.fromkeys(v.meeting for v in digest.concerns))
    assert positions(concern_block, meetings) == sorted(positions(concern_block, meetings))
    issues_block = text[text.index("Setting issues to mention to staff"):text.index("The week in numbers")]
    assert positions(issues_block, ("James Mensah", "David Hughes", "Meetings not organised by a member of staff")) \
        == sorted(positions(issues_block, ("James Mensah", "David Hughes",
                                          "Meetings not organised by a member of staff")))
    assert "What no machine can check" not in text and "Suitable clothing" not in text  # once a term only
    for needle in ("NEEDS YOUR DECISION (10)", "SETTING ISSUES TO MENTION TO STAFF (15)", "Noah Okoro"):
        assert needle in mail.text
    assert mail.csv is not None and mail.csv_rows == len(rows)
    assert "10 safeguarding concerns" in mail.subject and "16 meetings audited" in mail.subject
    hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)', mail.html)
    assert hidden and "Week w/c 16 Nov 2026: 10 safeguarding concerns" in hidden.group(1)
    assert "<script" not in mail.html.lower() and "<img" not in mail.html.lower() and "http://" not in \
        mail.html.replace("http://www.w3.org", "")


def test_html_is_escaped_and_csv_formulas_neutralised(stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    evil_subject = "<script>alert(1)</script>=cmd|' /C calc'!A0"
    evil_name = "<img src=x onerror=alert(2)>"

    def change(name: str, bundle: dict) -> None:
        bundle["onlineMeeting"]["subject"] = evil_subject
        text = json.dumps(bundle).replace("Sofia's mum", "@SUM(1+1)*cmd|' /C calc'!A0")
        text = text.replace("Alex Morgan (Guest)", evil_name)
        bundle.clear()
        bundle.update(json.loads(text))

    record_week(stores, ["2026-11-17-1030-year4-science"], change)
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    assert any(v.meeting == evil_subject for v in digest.concerns)
    for full in (True, False):
        mail = render_digest(digest, full=full)
        assert "<script>" not in mail.html and "<img" not in mail.html
        if full:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;=cmd|" in mail.html
            assert "&lt;img src=x onerror=alert(2)&gt;" in mail.html
    mail = render_digest(digest, full=True)
    assert mail.csv is not None
    cells = [cell for row in csv.reader(io.StringIO(mail.csv.decode("utf-8-sig"))) for cell in row]
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert all(not cell.startswith(FORMULA_START) for cell in cells)
    assert any(cell.startswith("<script>") for cell in cells)  # HTML stays text in a CSV; only formulas matter
    for start in FORMULA_START:
        assert neutralise(start + "cmd|x") == "'" + start + "cmd|x"
    assert neutralise("Year 4 = maths") == "Year 4 = maths"


def test_an_unhealthy_week_leads_with_the_warning(stores: Stores, make_ctx: Callable[..., MailContext],
                                                  azurite_queues: Queues) -> None:
    record_week(stores, ["2026-11-16-0900-year5-maths", "2026-11-20-1300-year6-maths"])  # compliant lessons
    ctx = make_ctx(healthy_monitoring=False)
    watch(stores, expires=MONDAY_AFTER + timedelta(days=2))
    ctx.queues = azurite_queues
    healthy = render_digest(collect(ctx, WEEK, MONDAY_AFTER), full=True)
    assert "Monitoring was not fully healthy" not in healthy.html
    assert "this week's picture may be incomplete" not in visible(healthy.html).lower()
    assert not healthy.subject.startswith("[monitoring not healthy]")
    watch(stores, expires=MONDAY_AFTER - timedelta(hours=30), notified=MONDAY_AFTER - timedelta(days=4))
    azurite_queues.send("occurrence-evaluations-poison", {"occurrence": "x"})
    digest = collect(ctx, WEEK, MONDAY_AFTER)
    titles = [h.title for h in digest.health]
    assert titles == ["1 Graph subscription lapsed", "Change notifications stopped arriving",
                      "1 message failed repeatedly and were set aside"]
    for full in (True, False):
        mail = render_digest(digest, full=full)
        text = visible(mail.html)
        assert mail.subject.startswith("[monitoring not healthy]")
        first = text.index("Monitoring was not fully healthy")
        concerns = "Needs your decision" if full else "Safeguarding concerns this week"
        assert first < text.index(concerns) < text.lower().index("this week's picture may be incomplete")
        assert mail.text.index("Monitoring was not fully healthy") < mail.text.index(concerns.upper())


def test_evidence_that_could_not_be_read_is_a_health_warning(stores: Stores,
                                                              make_ctx: Callable[..., MailContext]) -> None:
    record_week(stores, ["2026-11-20-0900-year5-science"])
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    assert [h.title for h in digest.health] == ["Evidence could not be read for 1 meeting"]
    assert "attendance reports" in digest.health[0].items[0] and digest.compliant == 0


def test_a_non_dsl_copy_holds_no_pupil_name_and_no_csv(stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    record_week(stores)
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    names = pupil_names()
    assert len(names) == 31
    full = render_digest(digest, full=True)
    assert {n for n in names if n in full.html}, "the DSL's copy names pupils (so this test can fail)"
    summary = render_digest(digest, full=False)
    for body in (summary.html, summary.text, summary.subject):
        leaked = {n for n in names if n in body or n.split()[0] in body.split()}
        assert leaked == set()
    assert summary.csv is None and "attachments" not in summary.message(["governor@elmgrove.sch.uk"])
    assert "10" in visible(summary.html) and "Someone joined who was not invited" in summary.html


def test_a_week_without_meetings_says_so(stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    mail = render_digest(digest, full=True)
    assert digest.no_findings and mail.csv is None
    assert "No meetings with pupils were seen this week" in visible(mail.html)
    assert "0 safeguarding concerns" in mail.subject


def test_annotated_and_carried_over_items(stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    from azure.data.tables import UpdateMode

    record_week(stores, ["2026-11-18-1030-year3-maths", "2026-11-19-1100-year6-reading-group"], shift_days=14)
    record_week(stores, ["2026-11-18-1530-year3-sen-reading"])
    earlier = {r["Rule"]: r for r in stores.findings.week("2026-W45")}
    stores.findings.table.update_entity({"PartitionKey": "2026-W45", "RowKey": earlier["consent-missing"]["RowKey"],
                                         "Status": "false-positive", "Annotations": json.dumps(
                                             [{"status": "false-positive", "by": "dsl", "at": "2026-11-18T10:00:00Z",
                                               "note": "consent arrived on paper"}])}, mode=UpdateMode.MERGE)
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    assert [v.rule for v in digest.carried] == ["pupils-unsupervised"]
    assert [(v.rule, v.status_label) for v in digest.annotated] == [("consent-missing", "false positive")]
    text = visible(render_digest(digest, full=True).html)
    assert "consent arrived on paper" in text and "Still open from earlier weeks (1)" in text


def test_exempt_findings_are_counted_apart_not_among_concerns(stores: Stores,
                                                              make_ctx: Callable[..., MailContext]) -> None:
    from azure.data.tables import UpdateMode

    record_week(stores, ["2026-11-18-1530-year3-sen-reading"])  # an approved SEN one-to-one series
    rows = {r["Rule"]: r for r in stores.findings.week(WEEK)}
    one_to_one = rows["one-to-one-with-pupil"]
    stores.findings.table.update_entity({"PartitionKey": WEEK, "RowKey": one_to_one["RowKey"],
                                         "ExemptionId": "exm-sen-reading"}, mode=UpdateMode.MERGE)
    digest = collect(make_ctx(), WEEK, MONDAY_AFTER)
    assert [(v.rule, v.status_label) for v in digest.annotated] == [("one-to-one-with-pupil", "standing exemption")]
    assert "standing exemption" in visible(render_digest(digest, full=True).html)
