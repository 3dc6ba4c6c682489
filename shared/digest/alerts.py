"""Same-day alerts: a new ``high`` finding reaches the DSL the same day, not next Monday.

The evaluation worker calls :func:`alert_new_findings` with the ids ``Recorder.record`` returned as new. Each
high, open finding is registered once in the alerts table (never alerted twice, however often the worker
redelivers). Then :func:`flush_alerts` sends what is pending: at most one email per quarter hour of school
time (the first concern goes at once on its own; concerns arriving later in the same quarter hour wait and go
together, as one batch, from the next quarter hour's flush: the quarter-hour timer or the next evaluation),
and at most ``VCAUDIT_ALERT_DAILY_CAP`` emails a day. Past the cap the day's pending concerns are *held*:
the weekly digest marks them and says how many were held back. A concern left pending for more than a day
(no sender or DSL configured then) is held too: it is no longer a same-day alert.

Alerts name pupils, so they go to the recipients with the ``dsl`` role only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.digest.collect import ALERT_UNCONFIRMED, MailContext, school_name
from shared.digest.mail import Outcome, SendResult
from shared.digest.model import CLOSED_BY_PEOPLE, finding_view
from shared.digest.render import render_alert
from shared.digest.store import FAILED, HELD, PENDING, SENDING, SENT, UNCONFIRMED, AlertRow
from shared.store.keys import parse_finding_id

log = logging.getLogger("vcaudit.alerts")
QUARTER_MINUTES = 15
SAME_DAY = timedelta(hours=24)


@dataclass
class AlertRun:
    registered: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    outcome: str = ""


def slot_of(now: datetime, ctx: MailContext) -> tuple[str, str]:
    """The school's local date and quarter hour of ``now``: ("2026-11-17", "10:15")."""
    local = now.astimezone(ctx.settings.zone)
    return f"{local:%Y-%m-%d}", f"{local.hour:02d}:{local.minute - local.minute % QUARTER_MINUTES:02d}"


async def alert_new_findings(ctx: MailContext, finding_ids: Iterable[str], now: datetime) -> AlertRun:
    """Register the new findings that are safeguarding concerns, then send what may be sent now."""
    registered: list[str] = []
    for fid in finding_ids:
        try:
            week, row_key = parse_finding_id(fid)
        except ValueError:
            log.warning("alert: ignored a malformed finding id")
            continue
        row = ctx.stores.findings.get(week, row_key)
        if row is None or row.get("Severity") != "high" or row.get("MachineState", "open") != "open":
            continue
        if row.get("Status") in CLOSED_BY_PEOPLE:
            continue
        if ctx.alerts.register(fid, week, now):
            registered.append(fid)
    run = await flush_alerts(ctx, now)
    run.registered = registered
    return run


async def flush_alerts(ctx: MailContext, now: datetime) -> AlertRun:
    """Send the pending concerns if this quarter hour has no alert email yet and the day's cap allows."""
    run = AlertRun()
    pending = ctx.alerts.with_status(PENDING)
    if not pending:
        return run
    fresh: list[AlertRow] = []
    for row in pending:
        if row.registered is not None and now - row.registered > SAME_DAY:
            if ctx.alerts.move(row, HELD, now):
                run.held.append(row.finding_id)
        else:
            fresh.append(row)
    dsl = [r.address for r in ctx.settings.digest_recipients if r.sees_names]
    if not fresh or not dsl or not ctx.settings.digest_sender or ctx.mailer is None:
        run.waiting = [r.finding_id for r in fresh]
        return run
    day, slot = slot_of(now, ctx)
    if ctx.alerts.emails_on(day) >= ctx.settings.alert_daily_cap:
        for row in fresh:
            if ctx.alerts.move(row, HELD, now):
                run.held.append(row.finding_id)
        log.warning("alert cap of %d reached on %s: %d concern(s) held for the digest",
                    ctx.settings.alert_daily_cap, day, len(run.held))
        return run
    if not ctx.alerts.reserve_slot(day, slot, now):
        run.waiting = [r.finding_id for r in fresh]  # this quarter hour has had its email: the next one sends
        return run
    claimed = [row for row in fresh if ctx.alerts.move(row, SENDING, now, slot)]
    views = []
    for row in claimed:
        week, row_key = parse_finding_id(row.finding_id)
        entity = ctx.stores.findings.get(week, row_key)
        if entity is not None:
            views.append(finding_view(entity, ctx.settings.zone))
    ids = [row.finding_id for row in claimed]
    if not views:
        ctx.alerts.finish_slot(day, slot, "empty", ids)
        return run
    mail = render_alert(views, school=school_name(ctx.policy), digest_day=ctx.settings.digest_weekday.capitalize(),
                        links=ctx.settings.desk_url, now=now)
    try:
        result = await ctx.mailer.send_mail(ctx.settings.digest_sender, mail.message(dsl))
    except Exception as exc:  # whether Graph got it is unknown
        result = SendResult(Outcome.UNKNOWN, detail=f"the mail sender raised {type(exc).__name__}")
    if result.accepted:
        ctx.alerts.set_status(ids, SENT, now)
        ctx.alerts.finish_slot(day, slot, SENT, ids, result.detail)
        run.sent = ids
    elif result.failed_clearly:
        ctx.alerts.set_status(ids, PENDING, now)  # nothing went out: the next quarter hour tries again
        ctx.alerts.finish_slot(day, slot, FAILED, ids, result.detail)
        run.waiting = ids
    else:
        ctx.alerts.set_status(ids, UNCONFIRMED, now)
        ctx.alerts.finish_slot(day, slot, UNCONFIRMED, ids, result.detail)
        ctx.stores.state.stamp(ALERT_UNCONFIRMED, now, Findings=len(ids), Detail=result.detail[:500])
    run.outcome = result.outcome.value
    return run
