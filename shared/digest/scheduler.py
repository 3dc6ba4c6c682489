"""When the weekly digest goes out, and sending it exactly once per week and recipient.

The digest timer fires hourly. The digest of ISO week W falls due at the configured weekday and hour
(default Monday 07:00) of the week after W, in the school's time zone: a complete week, Monday to Sunday, is
the only one whose counts no longer change. ``zoneinfo`` does the GMT/BST arithmetic, so "07:00" is 07:00 on
the clocks of the school in both halves of the year (06:00 UTC in summer, 07:00 UTC in winter).

At each firing the latest due week is looked up in the digests table; recipients without a final record get
it (see ``store``): "sending" is recorded before Graph is called, a clear failure is retried at the next
firing, an unclear outcome is never sent again but raised in monitoring health (the ``digest-ambiguous``
state row, and the next digest's health section). A week with no meetings still gets its digest.

A digest is caught up for ``CATCH_UP`` after it fell due (the app was stopped on Monday morning: it goes out when
the app is back that day or the next); older ones are left to ``vcaudit digest --week … --send``, so a fresh
deployment never mails the digest of a week it did not watch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.digest.collect import DIGEST_UNCONFIRMED, MailContext, collect, counters
from shared.digest.mail import Outcome, SendResult
from shared.digest.render import Mail, render_digest
from shared.digest.store import FAILED, SENDING, SENT, STALE_SENDING, UNCONFIRMED
from shared.settings import WEEKDAYS, Recipient

log = logging.getLogger("vcaudit.digest")
CATCH_UP = timedelta(hours=48)


class NotConfigured(RuntimeError):
    """No sender mailbox, no recipient, or no mail sender: nothing can be sent."""


def iso_week(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def due_week(now: datetime, weekday: str, hour: int, zone: ZoneInfo) -> tuple[str, datetime]:
    """The latest week whose digest has fallen due by ``now``, and the moment it fell due (school time)."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    send_day = monday + timedelta(days=WEEKDAYS.index(weekday))
    due = datetime(send_day.year, send_day.month, send_day.day, hour, tzinfo=zone)
    if now < due:
        send_day -= timedelta(days=7)
        due = datetime(send_day.year, send_day.month, send_day.day, hour, tzinfo=zone)
    send_monday = send_day - timedelta(days=send_day.weekday())
    return iso_week(send_monday - timedelta(days=7)), due


@dataclass
class Delivery:
    address: str
    role: str
    status: str  # sent | failed | unconfirmed | skipped
    detail: str = ""


@dataclass
class DigestRun:
    week: str
    deliveries: list[Delivery] = field(default_factory=list)
    digest_rendered: bool = False

    @property
    def sent(self) -> list[str]:
        return [d.address for d in self.deliveries if d.status == SENT]


def _needs_sending(ctx: MailContext, week: str, now: datetime) -> list[Recipient]:
    records = {r.address.lower(): r for r in ctx.digests.records(week)}
    out = []
    for recipient in ctx.settings.digest_recipients:
        record = records.get(recipient.address.lower())
        if record is None or record.status == FAILED:
            out.append(recipient)
        elif record.status == SENDING and record.started is not None and now - record.started > STALE_SENDING:
            out.append(recipient)  # ``claim`` turns it into "unconfirmed" and raises it
    return out


async def send_digest(ctx: MailContext, week: str, now: datetime, *, force: bool = False,
                      recipients: tuple[Recipient, ...] | None = None) -> DigestRun:
    """Render the week's digest and send it to each recipient that has no final record (all, with ``force``)."""
    sender = ctx.settings.digest_sender
    chosen = ctx.settings.digest_recipients if recipients is None else recipients
    if not sender or not chosen or ctx.mailer is None:
        ctx.stores.state.stamp("digest-not-configured", now, Week=week)
        raise NotConfigured("the digest needs VCAUDIT_DIGEST_SENDER and VCAUDIT_DIGEST_RECIPIENTS")
    run = DigestRun(week)
    digest = collect(ctx, week, now)  # read everything before claiming anything
    mails: dict[bool, Mail] = {}
    for recipient in chosen:
        full = recipient.sees_names
        if full not in mails:
            mails[full] = render_digest(digest, full=full)
            run.digest_rendered = True
        record = ctx.digests.claim(week, recipient.address, recipient.role, now, force=force)
        if record is None:
            current = ctx.digests.get(week, recipient.address)
            status = current.status if current else "skipped"
            if status == UNCONFIRMED:
                _raise_unconfirmed(ctx, week, recipient, now, current.detail if current else "")
            run.deliveries.append(Delivery(recipient.address, recipient.role, "skipped", f"already {status}"))
            continue
        mail = mails[full]
        try:
            result = await ctx.mailer.send_mail(sender, mail.message([recipient.address]))
        except Exception as exc:  # a sender that raised: whether Graph got it is unknown
            result = SendResult(Outcome.UNKNOWN, detail=f"the mail sender raised {type(exc).__name__}")
        status = SENT if result.accepted else FAILED if result.failed_clearly else UNCONFIRMED
        ctx.digests.finish(record, status, now, result.detail, Outcome=result.outcome.value,
                           MessageId=result.message_id, Bytes=mail.request_bytes([recipient.address]),
                           CsvRows=mail.csv_rows)
        if status == UNCONFIRMED:
            _raise_unconfirmed(ctx, week, recipient, now, result.detail)
        log.info("digest %s to %s: %s (%s)", week, recipient.role, status, result.detail)
        run.deliveries.append(Delivery(recipient.address, recipient.role, status, result.detail))
    if any(d.status in (SENT, UNCONFIRMED) for d in run.deliveries):
        ctx.digests.save_week(week, counters(ctx))
    if any(d.status == SENT for d in run.deliveries):
        ctx.stores.state.stamp("digest", now, Week=week)
    return run


def _raise_unconfirmed(ctx: MailContext, week: str, recipient: Recipient, now: datetime, detail: str) -> None:
    ctx.stores.state.stamp(DIGEST_UNCONFIRMED, now, Week=week, Role=recipient.role, Open=True,
                           Detail=(detail or "no answer from Graph")[:500])


async def run_timer(ctx: MailContext, now: datetime) -> DigestRun | None:
    """One firing of the hourly digest timer. None when nothing is due or everything due is sent."""
    settings = ctx.settings
    week, due = due_week(now, settings.digest_weekday, settings.digest_hour, settings.zone)
    if not settings.digest_recipients or now - due > CATCH_UP:
        return None
    if not _needs_sending(ctx, week, now):
        return None
    log.info("digest %s fell due %s; sending", week, due.isoformat())
    return await send_digest(ctx, week, now)
