"""Coalescing and scheduling: notifications (and reconcile's finds) → one pending evaluation per meeting.

The first item of a burst schedules a delayed "evaluate" message and records it as pending
(``shared.store.pending``); the others are absorbed, the organiser's copy replacing the message to gather from.
The evaluation worker takes the pending row back before gathering, so a notification arriving meanwhile
schedules a fresh evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.graph.errors import GraphThrottled
from shared.graph.session import GraphSession
from shared.ports import Runtime
from shared.routing import Work, deleted_event, event, route
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
        """Create the pending row for ``work.key`` and enqueue its evaluation, unless one is already pending."""
        pending = self.runtime.stores.pending.add(work.key, work.message, work.preferred,
                                                  datetime.fromtimestamp(self.clock(), tz=UTC))
        if pending is None:
            return 0
        self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", "pending": pending},
                                 delay_seconds=self.coalesce_seconds)
        return 1

    def take(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The evaluate message a queue payload stands for; None when its pending row is gone (a redelivery)."""
        if "pending" in payload:
            return self.runtime.stores.pending.take(payload["pending"])
        message: dict[str, Any] = payload.get("message", payload)
        return message

    def retry_later(self, message: dict[str, Any], delay_seconds: int) -> None:
        self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", "message": message}, delay_seconds=delay_seconds)
