"""The timers' work and what Graph's lifecycle notifications ask for: keep the subscriptions alive, recover
what notifications missed, re-check meetings about to start, and delete records past their retention.

- lifecycle: reauthorize, recreate, and on ``missed`` a reconcile, coalesced like an evaluation (one pending
  reconcile, delayed by the coalescing window, absorbs every ``missed`` of a burst, whatever the subscription);
- subscriptions: ensure and renew them;
- reconcile: first the sweep (pending evaluations past their due time are re-enqueued), then call records since
  a watermark into the call-record index (gathering only those never notified) and each monitored mailbox's
  calendar over this week and the next through calendarView/delta and its stored link;
- preflight: the options of meetings starting within the hour (options change without an event update);
- retention: findings, meeting-log entries and evidence older than the retention period, except holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from azure.core.exceptions import AzureError

from shared.evaluation import Evaluator
from shared.graph.errors import GraphError, GraphThrottled
from shared.graph.session import GraphSession
from shared.graph.subscriptions import ReconcileReport
from shared.ports import Runtime
from shared.records.audit import AuditLog
from shared.records.retention import PurgeReport, cutoff_week, purge_older_than
from shared.routing import Work, call_record, organised_event, passing_gap, read_again
from shared.scheduling import Scheduler
from shared.store.keys import previous_weeks, week_of
from shared.store.meetings import decode

log = logging.getLogger("vcaudit.pipeline")

CALL_RECORD_OVERLAP = timedelta(minutes=150 + 240)  # Graph's latest delivery plus the longest lesson we expect
RECONCILE = Work("reconcile|all", {"kind": "reconcile"})  # one pending reconcile covers every mailbox


class Upkeep:
    def __init__(self, runtime: Runtime, session: GraphSession, scheduler: Scheduler, evaluator: Evaluator, *,
                 audit: Callable[[], AuditLog], clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self.session = session
        self.scheduler = scheduler
        self.evaluator = evaluator
        self.clock = clock
        self._audit = audit

    def handle_lifecycle(self, payload: dict[str, Any]) -> list[str]:
        outcomes: list[str] = []
        graph = self.session.graph
        facts = self.session.run(graph.gateway.directory.facts())
        for item in payload.get("items", []):
            done: str = self.session.run(graph.manager.on_lifecycle(str(item.get("subscriptionId")),
                                                                    str(item.get("lifecycleEvent")), facts))
            outcomes.append(done)
        missed = outcomes.count("resync")
        if missed:
            # One reconcile covers every mailbox: a burst of `missed` (one per subscription) schedules one.
            self.scheduler.schedule(RECONCILE)
            self.runtime.stores.state.add("missed-notifications", {"missed": missed})
        return outcomes

    def ensure_subscriptions(self) -> ReconcileReport:
        graph = self.session.graph  # built outside the loop thread: coroutines must never block on it

        async def run() -> ReconcileReport:
            facts = await graph.gateway.directory.facts()
            return await graph.manager.reconcile(facts)

        report = self.session.run(run())
        self.runtime.stores.state.stamp("subscriptions", Failed=len(report.failed))
        return report

    def reconcile(self) -> int:
        """Recover what notifications missed: call records since the watermark (overlapping by the longest
        call plus Graph's delay) and every monitored mailbox's calendar over the current and next week.

        Each source is read on its own: a mailbox (or the call-record listing) Graph fails on is left for the next
        reconcile, the others go ahead; the call-record watermark moves only once the listing was read whole.
        Failures are counted in the ``reconcile`` state row (``Failed``) and logged, never silently dropped."""
        self.scheduler.sweep()
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        state = self.runtime.stores.state
        graph = self.session.graph
        mark = (state.get("call-record-watermark") or {}).get("At")
        since = (mark if isinstance(mark, datetime) else now - timedelta(days=7)) - CALL_RECORD_OVERLAP
        scheduled = failed = 0
        # Call records by a startDateTime window, paged, into vcaudit's index: only those whose notification was
        # missed (unknown to the index) are gathered.
        try:
            for record_id in self.session.run(graph.gateway.index_call_records(since, now)):
                scheduled += self.scheduler.schedule(call_record(record_id))
        except (GraphError, GraphThrottled, AzureError) as exc:
            failed += 1
            log.warning("reconcile: the call records could not be listed (%s); the next reconcile reads them",
                        type(exc).__name__)
        else:
            state.stamp("call-record-watermark", now)

        async def mailboxes() -> list[str]:
            facts = await graph.gateway.directory.facts()
            return list(facts.staff) + (list(facts.pupils) if self.runtime.settings.monitor_pupil_mailboxes
                                        else [])

        start = (now - timedelta(days=now.weekday())).strftime("%Y-%m-%dT00:00:00Z")
        end = (now + timedelta(days=14 - now.weekday())).strftime("%Y-%m-%dT00:00:00Z")

        async def calendar(mailbox: str) -> list[dict[str, Any]]:
            key = f"{mailbox}|{start}"  # a new week is a new window: a fresh delta round
            items, link = await graph.calendar.organised_changes(mailbox, start, end, await graph.delta_links.get(key))
            if link:
                await graph.delta_links.put(key, link)
            return list(items)

        for mailbox in self.session.run(mailboxes()):
            try:
                for event in self.session.run(calendar(mailbox)):
                    scheduled += self.scheduler.schedule(organised_event(mailbox, event))
            except (GraphError, GraphThrottled, AzureError) as exc:
                failed += 1  # what was scheduled stays scheduled; the next reconcile reads the calendar again
                log.warning("reconcile: a calendar could not be read (%s); the next reconcile reads it",
                            type(exc).__name__)
        try:
            scheduled += self._read_gaps_again(now)
        except AzureError as exc:
            failed += 1
            log.warning("reconcile: the meeting log could not be read for gaps (%s); the next reconcile reads it",
                        type(exc).__name__)
        state.stamp("reconcile", now, Scheduled=scheduled, Failed=failed)
        if failed:
            return scheduled
        missed = state.counts("missed-notifications")  # every `missed` so far is covered by this reconcile
        outstanding = int(missed.get("missed", 0)) - int(missed.get("recovered", 0))
        if outstanding > 0:
            state.add("missed-notifications", {"recovered": outstanding})
        return scheduled

    def _read_gaps_again(self, now: datetime) -> int:
        """Meetings of this week and last whose evidence could not all be read for a reason that passes (Graph
        failing past every retry of their evaluation): read again, so an outage does not leave a gap for good.
        A good read replaces the evaluation and resolves its ``evidence-unavailable``; a gap that persists is
        read again by each reconcile, and stays reported meanwhile."""
        stores = self.runtime.stores
        week = week_of(now.timestamp(), ZoneInfo(self.runtime.settings.time_zone))
        scheduled = 0
        for partition in previous_weeks(week, 2):
            for row in stores.meetings.with_gaps(partition):
                gaps = decode(row, "Unavailable") or []
                if not any(passing_gap(g) for g in gaps if isinstance(g, dict)):
                    continue
                blob = str(row.get("EvidenceBlob") or "")
                work = read_again(stores.evidence.load(blob) if blob else None, str(row.get("OrganiserId") or ""))
                if work is not None:
                    scheduled += self.scheduler.schedule(work)
        return scheduled

    def preflight(self, horizon: timedelta = timedelta(hours=1)) -> int:
        """Re-check the options of meetings starting within the hour: options change without an event update."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        graph = self.session.graph

        async def soon() -> list[tuple[str, dict[str, Any]]]:
            facts = await graph.gateway.directory.facts()
            found: list[tuple[str, dict[str, Any]]] = []
            for mailbox in facts.staff:
                found.extend((mailbox, item)
                             for item in await graph.calendar.online_meetings_starting(mailbox, now, now + horizon))
            return found

        checked = 0
        for mailbox, event in self.session.run(soon()):
            self.evaluator.evaluate({"kind": "event", "mailbox": mailbox, "eventId": event["id"]})
            checked += 1
        self.runtime.stores.state.stamp("preflight", now, Checked=checked)
        return checked

    def retention(self) -> PurgeReport:
        """Delete findings, meeting-log entries and evidence older than the retention period, except holds."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        stores = self.runtime.stores
        settings = self.runtime.settings
        cutoff = cutoff_week(now, settings.retention_days, ZoneInfo(settings.time_zone))
        report = purge_older_than(stores, cutoff, audit=self._audit(), now=now)
        stores.state.stamp("retention", now, Cutoff=cutoff)
        return report
