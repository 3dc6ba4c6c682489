"""Same-day alerts: once per new high finding, at most one email per quarter hour (a batch when several
arrive), the daily cap, and the digest's note about concerns the cap held back."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.digest.alerts import alert_new_findings, flush_alerts
from shared.digest.collect import MailContext, collect
from shared.digest.render import render_digest
from shared.store.keys import parse_finding_id
from shared.store.tables import Stores

from .conftest import DSL, MONDAY_AFTER, WEEK, FakeMailer, make_settings, record_week, run

TUESDAY = datetime(2026, 11, 17, 14, 2, tzinfo=UTC)


def alerted_ids(mailer: FakeMailer) -> list[str]:
    ids = []
    for _, message, _ in mailer.sent:
        body = message["body"]["content"]
        ids += re.findall(r'/concerns/(2026-W47\.[0-9a-f]+)"', body)  # each concern links to its desk page
    return ids


def high_ids(stores: Stores) -> set[str]:
    return {f"{WEEK}.{r['RowKey']}" for r in stores.findings.week(WEEK) if r["Severity"] == "high"}


def test_each_new_high_finding_is_alerted_once(stores: Stores, make_ctx: Callable[..., MailContext],
                                               mailer: FakeMailer) -> None:
    new = record_week(stores)
    ctx = make_ctx()
    moment = TUESDAY
    for ids in new.values():  # as the evaluation worker reports them, one meeting at a time
        run(alert_new_findings(ctx, ids, moment))
        moment += timedelta(minutes=16)  # each in its own quarter hour
    everything = [i for ids in new.values() for i in ids]
    for _ in range(3):  # redeliveries report the same ids again
        run(alert_new_findings(ctx, everything, moment))
        moment += timedelta(minutes=16)
    assert sorted(alerted_ids(mailer)) == sorted(high_ids(stores))
    assert all(m["toRecipients"] == [{"emailAddress": {"address": DSL}}] for _, m, _ in mailer.sent)
    meetings_with_concerns = [name for name, ids in new.items() if set(ids) & high_ids(stores)]
    assert len(mailer.sent) == len(meetings_with_concerns) == 8  # one email per meeting's new concerns
    first = mailer.sent[0][1]
    assert first["subject"].startswith("Safeguarding concern: ") and "attachments" not in first


def test_several_in_one_quarter_hour_go_as_one_batch(stores: Stores, make_ctx: Callable[..., MailContext],
                                                      mailer: FakeMailer) -> None:
    new = record_week(stores, ["2026-11-17-1030-year4-science", "2026-11-17-1600-year6-homework-help",
                               "2026-11-18-1030-year3-maths"])
    ctx = make_ctx()
    science, homework, maths = new.values()
    run(alert_new_findings(ctx, maths, TUESDAY))  # 14:02: goes at once, alone
    run(alert_new_findings(ctx, science, TUESDAY + timedelta(minutes=3)))  # same quarter hour: waits
    run(alert_new_findings(ctx, homework, TUESDAY + timedelta(minutes=9)))
    assert len(mailer.sent) == 1 and alerted_ids(mailer) == maths
    run(flush_alerts(ctx, TUESDAY + timedelta(minutes=14)))  # 14:16 local is the next quarter hour
    run(flush_alerts(ctx, datetime(2026, 11, 17, 14, 16, tzinfo=UTC)))
    run(flush_alerts(ctx, datetime(2026, 11, 17, 14, 31, tzinfo=UTC)))
    assert len(mailer.sent) == 2
    batch = mailer.sent[1][1]
    assert batch["subject"] == "4 safeguarding concerns in Teams meetings"
    assert sorted(alerted_ids(mailer)[1:]) == sorted(i for i in science + homework if i in high_ids(stores))


def test_the_daily_cap_holds_back_and_the_digest_says_so(stores: Stores, make_ctx: Callable[..., MailContext],
                                                         mailer: FakeMailer) -> None:
    new = record_week(stores)
    ctx = make_ctx(make_settings(VCAUDIT_ALERT_DAILY_CAP="2"))
    moment = TUESDAY
    for ids in new.values():
        run(alert_new_findings(ctx, ids, moment))
        moment += timedelta(minutes=15)
    assert len(mailer.sent) == 2
    held = ctx.alerts.held(WEEK)
    alerted = alerted_ids(mailer)
    assert sorted(held + alerted) == sorted(high_ids(stores)) and len(held) >= 3
    run(alert_new_findings(ctx, [], moment + timedelta(days=1)))  # a new day: nothing held is sent late
    assert len(mailer.sent) == 2
    digest = collect(ctx, WEEK, MONDAY_AFTER)
    assert digest.alerts_held == len(held)
    assert {v.id for v in digest.concerns if v.alert_held} == set(held)
    html = render_digest(digest, full=True).html
    assert f"The daily cap of 2 same-day alert emails held back {len(held)} concerns this week" in html


def test_only_high_open_findings_alert(stores: Stores, make_ctx: Callable[..., MailContext],
                                       mailer: FakeMailer) -> None:
    new = record_week(stores, ["2026-11-16-1100-year4-spelling-catch-up"])  # six setting findings, none high
    ctx = make_ctx()
    ids = new["2026-11-16-1100-year4-spelling-catch-up"]
    assert len(ids) == 6 and all(parse_finding_id(i)[0] == WEEK for i in ids)
    report = run(alert_new_findings(ctx, [*ids, "not-an-id"], TUESDAY))
    assert report.registered == [] and mailer.sent == []
