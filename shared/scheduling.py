"""Coalescing and scheduling: notifications (and reconcile's finds) → one pending evaluation per meeting.

The first item of a burst records the evaluation as pending (``shared.store.pending``) and sends a delayed
"evaluate" message; the others are absorbed, the organiser's copy replacing the message to gather from. The
pending row is written first but carries a due time, so nothing is owed that cannot be re-driven: a failed
enqueue is retried by the notification's own retry (the row says it was never queued), and :meth:`sweep`
re-enqueues any row past its due time. The evaluation worker claims the row, and releases it only once the
evaluation is committed; a notification absorbed meanwhile makes the release schedule a fresh evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.graph.errors import GraphThrottled
from shared.graph.session import GraphSession
from shared.ports import Runtime
from shared.routing import Work, deleted_event, event, route
from shared.store.pending import REDRIVE_AFTER, Claim
from shared.store.queues import EVALUATIONS

log = logging.getLogger("vcaudit.pipeline")


class Scheduler:
    def __init__(self, runtime: Runtime, session: GraphSession, *, coalesce_seconds: int,
                 clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self.session = session
        self.coalesce_seconds = coalesce_seconds
        self.clock = clock

    def handle_notifications(self, payload: dict[str, Any]) -> int:
        """Schedule (or absorb) evaluations for the items of one webhook delivery; returns how many it scheduled."""
        items = [i for i in payload.get("items", []) if isinstance(i, dict)]
        routed = route(items)
        for _ in range(routed.skipped):
            log.info("notification for a resource vcaudit does not evaluate: skipped")
        work = routed.work + [deleted_event(c) for c in routed.events if c.deleted]
        live = [c for c in routed.events if not c.deleted]
        if live:
            calendar = self.session.graph.calendar
            identities: list[dict[str, Any] | None]
            try:
                identities = self.session.run(calendar.identify([(c.mailbox, c.event_id) for c in live]))
            except GraphThrottled:
                # Graph keeps throttling (e.g. a mailbox's 4 concurrent requests): each copy is scheduled on its
                # own rather than failing the delivery; its evaluation is re-enqueued with Graph's Retry-After.
                log.warning("Graph throttled while identifying events: each is scheduled on its own")
                identities = [None] * len(live)
            work.extend(event(c.mailbox, c.event_id, identity) for c, identity in zip(live, identities, strict=True))
        scheduled = sum(self.schedule(w) for w in work)
        self.runtime.stores.state.stamp("last-notification-processed", Count=len(items))
        return scheduled

    def schedule(self, work: Work) -> int:
        """Record ``work.key`` as owed an evaluation and enqueue it, unless one is already queued."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        delay = timedelta(seconds=self.coalesce_seconds)
        row, send = self.runtime.stores.pending.add(work.key, work.message, work.preferred, now, delay)
        if not send:
            return 0
        self.enqueue(row, self.coalesce_seconds)
        return 1

    def enqueue(self, row: str, delay_seconds: int) -> None:
        """Send the evaluate message of pending row ``row``, then note it queued (a failure in between leaves
        the row due, and the sweep or the caller's retry sends it again: a duplicate message finds the row
        released and does nothing)."""
        self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", "pending": row}, delay_seconds=delay_seconds)
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        self.runtime.stores.pending.queued(row, now + timedelta(seconds=delay_seconds) + REDRIVE_AFTER)

    def claim(self, payload: dict[str, Any]) -> tuple[dict[str, Any], Claim | None] | None:
        """The evaluate message a queue payload stands for, with its claim on the pending row; None when the
        row is gone (already evaluated: a duplicate or a redelivery after the release)."""
        if "pending" in payload:
            claim = self.runtime.stores.pending.claim(str(payload["pending"]),
                                                      datetime.fromtimestamp(self.clock(), tz=UTC))
            return None if claim is None else (claim.message, claim)
        message: dict[str, Any] = payload.get("message", payload)
        return message, None

    def release(self, claim: Claim) -> None:
        """The evaluation is committed: release its row, or schedule a fresh evaluation when a notification was
        absorbed while it ran."""
        if not self.runtime.stores.pending.release(claim):
            log.info("a notification arrived during the evaluation: a fresh evaluation is scheduled")
            self.enqueue(claim.row, self.coalesce_seconds)

    def retry_later(self, claim: Claim | None, message: dict[str, Any], delay_seconds: int) -> None:
        if claim is None:
            self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", "message": message},
                                     delay_seconds=delay_seconds)
        else:
            self.enqueue(claim.row, delay_seconds)

    def sweep(self) -> int:
        """Re-enqueue every pending evaluation past its due time (never queued, or queued and not released in
        time: a crashed worker, a message that reached the poison queue); returns how many."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        rows = self.runtime.stores.pending.overdue(now)
        for row in rows:
            self.enqueue(row, 0)
        if rows:
            log.warning("%d overdue pending evaluation(s) re-enqueued", len(rows))
        return len(rows)
