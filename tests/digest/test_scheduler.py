"""The digest goes out once per week and recipient: across repeated firings, a send that fails once, an
ambiguous send and a worker that died mid-send; at 07:00 school time on both sides of the clock changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.digest.collect import MailContext, collect
from shared.digest.mail import Outcome
from shared.digest.model import week_label
from shared.digest.scheduler import due_week, run_timer, send_digest
from shared.digest.store import SENT, UNCONFIRMED
from shared.store.tables import Stores

from .conftest import DSL, GOVERNOR, MONDAY_AFTER, SENDER, WEEK, FakeMailer, make_settings, record_week, run

LONDON = ZoneInfo("Europe/London")


def hourly(start: datetime, hours: int, minute: int = 5) -> Iterator[datetime]:
    """The timer's firings (``0 5 * * * *``: minute 5 of every hour, UTC)."""
    first = start.replace(minute=minute, second=0, microsecond=0)
    for h in range(hours):
        yield first + timedelta(hours=h)


def fire(ctx: MailContext, moments: Iterator[datetime]) -> list[datetime]:
    """Fire the timer at each moment; the moments at which something was sent."""
    sent_at = []
    for moment in moments:
        before = len(ctx.mailer.sent)  # type: ignore[union-attr]
        run(run_timer(ctx, moment))
        if len(ctx.mailer.sent) > before:  # type: ignore[union-attr]
            sent_at.append(moment)
    return sent_at


def test_due_week_is_the_week_before_the_configured_day_and_hour() -> None:
    assert due_week(datetime(2026, 11, 23, 6, 59, tzinfo=UTC), "monday", 7, LONDON)[0] == "2026-W46"
    week, due = due_week(datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "monday", 7, LONDON)
    assert week == "2026-W47" and due == datetime(2026, 11, 23, 7, tzinfo=LONDON)
    assert due_week(datetime(2026, 11, 27, 15, 0, tzinfo=UTC), "friday", 16, LONDON)[0] == "2026-W46"
    assert due_week(datetime(2026, 11, 27, 16, 0, tzinfo=UTC), "friday", 16, LONDON)[0] == "2026-W47"
    assert due_week(datetime(2027, 1, 4, 8, tzinfo=UTC), "monday", 7, LONDON)[0] == "2026-W53"


def test_sent_once_across_repeated_firings(stores: Stores, make_ctx: Callable[..., MailContext],
                                           mailer: FakeMailer) -> None:
    record_week(stores, ["2026-11-17-1030-year4-science"])
    ctx = make_ctx()
    sent_at = fire(ctx, hourly(datetime(2026, 11, 22, 20, tzinfo=UTC), 60))  # Sunday evening to Wednesday
    assert sent_at == [datetime(2026, 11, 23, 7, 5, tzinfo=UTC)]
    assert len(mailer.to(DSL)) == 1 and len(mailer.to(GOVERNOR)) == 1 and len(mailer.sent) == 2
    assert {s for s, _, _ in mailer.sent} == {SENDER}
    dsl = mailer.to(DSL)[0]
    assert dsl["attachments"][0]["name"] == "findings.csv" and "attachments" not in mailer.to(GOVERNOR)[0]
    records = {r.address: r for r in ctx.digests.records(WEEK)}
    assert {r.status for r in records.values()} == {SENT} and records[DSL].attempts == 1
    # Firing twice at the same moment (two instances of the timer) still sends nothing more.
    fire(ctx, iter([MONDAY_AFTER, MONDAY_AFTER]))
    assert len(mailer.sent) == 2


def test_two_claims_at_once_only_one_wins(stores: Stores, make_ctx: Callable[..., MailContext]) -> None:
    ctx = make_ctx()
    first = ctx.digests.claim(WEEK, DSL, "dsl", MONDAY_AFTER)
    second = ctx.digests.claim(WEEK, DSL, "dsl", MONDAY_AFTER)
    assert first is not None and first.status == "sending" and second is None


def test_a_clear_failure_is_retried_at_the_next_firing(stores: Stores, make_ctx: Callable[..., MailContext],
                                                       mailer: FakeMailer) -> None:
    mailer.outcomes = [Outcome.FAILED]  # the first send (to the DSL) is refused
    ctx = make_ctx()
    sent_at = fire(ctx, hourly(MONDAY_AFTER, 5))
    assert sent_at == [MONDAY_AFTER, MONDAY_AFTER + timedelta(hours=1)]
    assert [o for _, _, o in mailer.sent] == [Outcome.FAILED, Outcome.ACCEPTED_WITHOUT_ID,
                                               Outcome.ACCEPTED_WITHOUT_ID]
    assert len(mailer.accepted()) == 2 and len(mailer.to(DSL)) == 2 and len(mailer.to(GOVERNOR)) == 1
    record = ctx.digests.get(WEEK, DSL)
    assert record is not None and record.status == SENT and record.attempts == 2


def test_an_ambiguous_send_is_raised_in_health_not_sent_again(stores: Stores, make_ctx: Callable[..., MailContext],
                                                              mailer: FakeMailer) -> None:
    mailer.outcomes = [Outcome.UNKNOWN]
    ctx = make_ctx()
    fire(ctx, hourly(MONDAY_AFTER, 30))
    assert len(mailer.to(DSL)) == 1 and len(mailer.to(GOVERNOR)) == 1
    record = ctx.digests.get(WEEK, DSL)
    assert record is not None and record.status == UNCONFIRMED
    state = stores.state.get("digest-ambiguous")
    assert state is not None and state["Week"] == WEEK and state["Role"] == "dsl"
    following = collect(ctx, "2026-W48", MONDAY_AFTER + timedelta(days=7))
    assert not following.healthy
    assert any(f"The digest for {WEEK} to dsl was not confirmed" in line for h in following.health for line in h.items)


def test_a_worker_that_died_mid_send_is_unconfirmed_not_resent(stores: Stores,
                                                               make_ctx: Callable[..., MailContext],
                                                               mailer: FakeMailer) -> None:
    ctx = make_ctx()
    assert ctx.digests.claim(WEEK, DSL, "dsl", MONDAY_AFTER) is not None  # ... and the worker died
    fire(ctx, iter([MONDAY_AFTER + timedelta(minutes=10)]))
    assert mailer.to(DSL) == [] and len(mailer.to(GOVERNOR)) == 1
    fire(ctx, hourly(MONDAY_AFTER + timedelta(hours=1), 3))
    assert mailer.to(DSL) == []
    record = ctx.digests.get(WEEK, DSL)
    assert record is not None and record.status == UNCONFIRMED
    assert stores.state.get("digest-ambiguous") is not None


def test_resend_on_request_sends_again(stores: Stores, make_ctx: Callable[..., MailContext],
                                       mailer: FakeMailer) -> None:
    ctx = make_ctx()
    run(send_digest(ctx, WEEK, MONDAY_AFTER))
    run(send_digest(ctx, WEEK, MONDAY_AFTER))
    assert len(mailer.to(DSL)) == 1
    run(send_digest(ctx, WEEK, MONDAY_AFTER, force=True))
    assert len(mailer.to(DSL)) == 2
    record = ctx.digests.get(WEEK, DSL)
    assert record is not None and record.attempts == 2


@pytest.mark.parametrize(("sunday", "first_send_utc", "covered"), [
    (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 30, 6, 5, tzinfo=UTC), "2026-W13"),  # into BST
    (datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 26, 7, 5, tzinfo=UTC), "2026-W43"),  # into GMT
])
def test_the_clock_change_weeks_send_at_seven_local(stores: Stores, make_ctx: Callable[..., MailContext],
                                                     mailer: FakeMailer, sunday: datetime, first_send_utc: datetime,
                                                     covered: str) -> None:
    ctx = make_ctx(make_settings(VCAUDIT_DIGEST_RECIPIENTS=f"dsl:{DSL}"))
    sent_at = fire(ctx, hourly(sunday, 48))
    assert sent_at == [first_send_utc]
    local = first_send_utc.astimezone(LONDON)
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 5)
    assert [r.week for r in ctx.digests.records(covered)] == [covered]
    assert week_label(covered, LONDON)[0] in mailer.sent[0][1]["body"]["content"]
