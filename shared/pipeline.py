"""The pipeline behind the queues and timers: notifications → coalesced evaluations → findings and the log.

- ``notifications``: each valid item from the webhook names a resource (an event in a mailbox, a call record,
  a recording, a transcript). Every attendee's mailbox notifies its own copy of a lesson, so items are
  coalesced per meeting: events by their ``iCalUId`` (one ``$batch`` of ``$select`` reads tells them apart),
  call records by id, artefacts by meeting. The first item of a burst schedules a delayed "evaluate" message
  and records it as pending; the others are absorbed.
- ``evaluate``: gathers the occurrence(s) through the Graph gateway, evaluates each against the policy and
  records findings, the meeting log and the evidence. Graph throttling past the gateway's budget re-enqueues
  the message with Graph's ``Retry-After`` as the visibility delay instead of burning a dequeue; any other
  failure raises, so the host retries and finally keeps the message in the poison queue.
- ``lifecycle``: reauthorize, recreate, and on ``missed`` a reconcile.
- timers: subscriptions (ensure and renew), preflight (options of meetings starting within the hour),
  reconcile (calendar changes and call records since a watermark), retention.

Graph calls run on one event loop in a background thread per process, so the msgraph-sdk connection is built
once and reused by every invocation (graph-facts.md §10: one connection belongs to one loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from shared.engine import evaluate_raw
from shared.evidence.minimise import minimise
from shared.evidence.reader import BundleError
from shared.graph.errors import GraphThrottled
from shared.policy.policyfile import Policy, load_policy
from shared.store.findings import MeetingFacts
from shared.store.keys import week_of
from shared.store.queues import EVALUATIONS

log = logging.getLogger("vcaudit.pipeline")
T = TypeVar("T")

EVENT_RESOURCE = re.compile(r"^/?users/([^/]+)/events/([^/?]+)$", re.IGNORECASE)
CALL_RESOURCE = re.compile(r"^/?communications/callRecords/([^/?]+)$", re.IGNORECASE)
ARTEFACT_RESOURCE = re.compile(
    r"^/?communications/onlineMeetings\('?([^')]+)'?\)/(recordings|transcripts)\('?([^')]+)'?\)", re.IGNORECASE)
IDENTIFY_SELECT = "id,iCalUId,isOrganizer,type,seriesMasterId,organizer"
CALL_RECORD_OVERLAP = timedelta(minutes=150 + 240)  # Graph's latest delivery plus the longest lesson we expect
PENDING = "Pending"
EVENT_INDEX = "EventIndex"


class LoopThread:
    """One asyncio loop in a daemon thread; coroutines from any thread run on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vcaudit-graph", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 540.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@dataclass
class Graph:
    """The Graph side of one process: the transport, the gateway and the subscription manager."""

    transport: Any
    gateway: Any
    manager: Any


GraphFactory = Callable[[Any], Coroutine[Any, Any, Graph]]


async def default_graph(runtime: Any) -> Graph:
    from shared.graph.client import GraphTransport, connect
    from shared.graph.gateway import GraphGateway
    from shared.graph.subscriptions import SubscriptionManager

    settings = runtime.settings
    connection = connect(settings.graph_base_url)
    transport = GraphTransport(connection.sender(), connection.base_url)
    gateway = GraphGateway.from_settings(transport, settings, runtime.consent_source())
    manager = SubscriptionManager(transport, runtime.subscriptions, notification_url=runtime.notification_url(),
                                  lifecycle_url=runtime.lifecycle_url(),
                                  monitor_pupil_mailboxes=settings.monitor_pupil_mailboxes)
    return Graph(transport, gateway, manager)


APP_ROOT = Path(__file__).resolve().parent.parent


def policy_path(setting: str) -> Path | None:
    """VCAUDIT_POLICY_FILE, relative to the app root (the deployed package), not to the worker's directory."""
    if not setting:
        return None
    path = Path(setting)
    return path if path.is_absolute() else APP_ROOT / path


def _row(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


class Pipeline:
    def __init__(self, runtime: Any, *, graph_factory: GraphFactory = default_graph, coalesce_seconds: int = 60,
                 clock: Callable[[], float] = time.time, policy: Policy | None = None,
                 on_new_findings: Callable[[list[str]], None] | None = None) -> None:
        self.runtime = runtime
        self.coalesce_seconds = coalesce_seconds
        self.clock = clock
        self.policy = policy or load_policy(policy_path(runtime.settings.policy_file))
        self.zone = ZoneInfo(runtime.settings.time_zone)
        self.on_new_findings = on_new_findings
        self._graph_factory = graph_factory
        self._graph: Graph | None = None
        self._loop = LoopThread()
        self._tables_ready = False
        self._admin: Any = None

    # ------------------------------------------------------------------ plumbing
    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = self._loop.run(self._graph_factory(self.runtime))
        return self._graph

    def _table(self, name: str) -> Any:
        service = self.runtime.stores.table_service
        if not self._tables_ready:
            for table in (PENDING, EVENT_INDEX):
                service.create_table_if_not_exists(self.runtime.prefix + table)
            self._tables_ready = True
        return service.get_table_client(self.runtime.prefix + name)

    # ------------------------------------------------------------------ notifications → pending evaluations
    def handle_notifications(self, payload: dict[str, Any]) -> int:
        """Schedule (or absorb) evaluations for the items of one webhook delivery; returns how many it scheduled."""
        items = [i for i in payload.get("items", []) if isinstance(i, dict)]
        work: list[tuple[str, dict[str, Any], bool]] = []  # (coalescing key, evaluate message, preferred copy)
        events: list[tuple[str, str, str]] = []  # (mailbox, event id, change type)
        for item in items:
            resource = str(item.get("resource", ""))
            change = str(item.get("changeType", ""))
            if m := EVENT_RESOURCE.match(resource):
                events.append((m.group(1), m.group(2), change))
            elif m := CALL_RESOURCE.match(resource):
                work.append((f"call|{m.group(1).lower()}", {"kind": "callRecord", "id": m.group(1)}, True))
            elif m := ARTEFACT_RESOURCE.match(resource):
                kind = "recording" if m.group(2).lower() == "recordings" else "transcript"
                work.append((f"artefact|{m.group(1)}", {"kind": kind, "meetingId": m.group(1), "id": m.group(3)}, True))
            else:
                log.info("notification for a resource vcaudit does not evaluate: skipped")
        if events:
            work.extend(self._identify_events(events))
        scheduled = 0
        for key, message, preferred in work:
            scheduled += self._schedule(key, message, preferred)
        self.runtime.stores.state.stamp("last-notification-processed", Count=len(items))
        return scheduled

    def _identify_events(self, events: list[tuple[str, str, str]]) -> list[tuple[str, dict[str, Any], bool]]:
        from urllib.parse import quote

        from shared.graph.client import Request

        out: list[tuple[str, dict[str, Any], bool]] = []
        live = [(m, e) for m, e, change in events if change.lower() != "deleted"]
        for mailbox, event_id, change in events:
            if change.lower() == "deleted":
                out.append((f"deleted|{mailbox.lower()}|{event_id}",
                            {"kind": "eventDeleted", "mailbox": mailbox, "eventId": event_id}, True))
        if not live:
            return out
        requests = [Request("GET", f"/users/{m}/events/{quote(e, safe='')}?$select={IDENTIFY_SELECT}")
                    for m, e in live]
        try:
            replies = self._loop.run(self.graph.transport.many(requests))
        except GraphThrottled:
            # Graph keeps throttling (e.g. the mailbox's 4 concurrent requests): schedule each copy on its own
            # rather than fail the delivery; its evaluation is re-enqueued with Graph's Retry-After if still throttled.
            log.warning("Graph throttled while identifying events: each is scheduled on its own")
            return out + [(f"event|{m.lower()}|{e}", {"kind": "event", "mailbox": m, "eventId": e}, True)
                          for m, e in live]
        for (mailbox, event_id), reply in zip(live, replies, strict=True):
            message = {"kind": "event", "mailbox": mailbox, "eventId": event_id}
            if not reply.ok:
                # unreadable now (deleted since, or no access): evaluate this copy on its own; the gateway
                # turns what it cannot read into `unavailable` evidence
                out.append((f"event|{mailbox.lower()}|{event_id}", message, True))
                continue
            body = reply.json
            series = body.get("seriesMasterId") if body.get("type") in ("occurrence", "exception") else None
            ical = body.get("iCalUId") or event_id
            key = f"ical|{ical}|{series or ''}"
            out.append((key, message, bool(body.get("isOrganizer"))))
        return out

    def _schedule(self, key: str, message: dict[str, Any], preferred: bool) -> int:
        """Create the pending row for ``key`` and enqueue its evaluation, unless one is already pending."""
        from azure.core.exceptions import ResourceExistsError
        from azure.data.tables import UpdateMode

        table = self._table(PENDING)
        row = {"PartitionKey": "pending", "RowKey": _row(key), "Key": key, "Message": json.dumps(message),
               "Preferred": preferred, "Since": datetime.fromtimestamp(self.clock(), tz=UTC)}
        try:
            table.create_entity(row)
        except ResourceExistsError:
            if preferred:  # the organiser's own copy is the one to gather from
                table.update_entity({"PartitionKey": "pending", "RowKey": _row(key), "Message": json.dumps(message),
                                     "Preferred": True}, mode=UpdateMode.MERGE)
            return 0
        self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", "pending": _row(key)},
                                 delay_seconds=self.coalesce_seconds)
        return 1

    # ------------------------------------------------------------------ evaluate
    def handle_evaluation(self, payload: dict[str, Any]) -> list[str]:
        """Gather, evaluate and record; returns the ids of findings that are new. Idempotent."""
        from azure.core.exceptions import ResourceNotFoundError

        if "pending" in payload:
            table = self._table(PENDING)
            try:
                row = table.get_entity(partition_key="pending", row_key=payload["pending"])
            except ResourceNotFoundError:
                return []  # already evaluated (a redelivery): nothing to do
            message = json.loads(row["Message"])
            # Released before gathering: a notification arriving meanwhile schedules a fresh evaluation.
            table.delete_entity(partition_key="pending", row_key=payload["pending"])
        else:
            message = payload
        try:
            return self._evaluate(message)
        except GraphThrottled as throttled:
            delay = max(1, int(throttled.retry_after_seconds + 0.999))
            log.warning("Graph throttled: evaluation re-enqueued with a %d s delay", delay)
            self.runtime.queues.send(EVALUATIONS, {"kind": "evaluate", **{"message": message}}, delay_seconds=delay)
            return []

    def _evaluate(self, message: dict[str, Any]) -> list[str]:
        if "message" in message:
            message = message["message"]
        gateway = self.graph.gateway
        kind = message.get("kind")
        if kind == "event":
            gathered = self._loop.run(gateway.gather_event(message["mailbox"], message["eventId"]))
        elif kind == "callRecord":
            gathered = self._loop.run(gateway.gather_call_record(message["id"]))
        elif kind == "recording":
            gathered = self._loop.run(gateway.gather_recording(message["meetingId"], message["id"]))
        elif kind == "transcript":
            gathered = self._loop.run(gateway.gather_transcript(message["meetingId"], message["id"]))
        elif kind == "eventDeleted":
            return self._event_deleted(message["mailbox"], message["eventId"])
        else:
            log.warning("unknown evaluation kind: skipped")
            return []
        new: list[str] = []
        for occurrence in gathered:
            new.extend(self.record(occurrence, mailbox=message.get("mailbox"), event_id=message.get("eventId")))
        if new:
            self._alert(new)
        return new

    def _alert(self, new: list[str]) -> None:
        """Same-day alerts for new safeguarding concerns. The findings are recorded whatever happens here: a
        failed alert is retried by the alert timer, never at the cost of the evaluation."""
        if self.on_new_findings is not None:
            self.on_new_findings(new)
            return
        try:
            from shared.digest.alerts import alert_new_findings
            from shared.digest.collect import MailContext
            from shared.digest.mail import GraphMailSender

            runtime = self.runtime
            context = MailContext.open(runtime.stores, runtime.settings, queues=runtime.queues)
            context.mailer = GraphMailSender.over(self.graph.transport)
            self._loop.run(alert_new_findings(context, new, datetime.fromtimestamp(self.clock(), tz=UTC)))
        except Exception:
            log.exception("same-day alerts could not be registered; the alert timer will retry")

    def meeting_facts(self, occurrence: Any, team: str | None = None) -> MeetingFacts:
        bundle = occurrence.bundle
        start = occurrence.scheduled_start.timestamp() if occurrence.scheduled_start else self._call_start(bundle)
        end = occurrence.scheduled_end.timestamp() if occurrence.scheduled_end else None
        users = (bundle.get("directory") or {}).get("users") or {}
        organiser = users.get(occurrence.organiser_id or "") or {}
        return MeetingFacts(occurrence.key.id, week_of(start, self.zone), start, end, occurrence.subject,
                            occurrence.organiser_id, organiser.get("displayName"), team)

    def _call_start(self, bundle: dict[str, Any]) -> float:
        from shared.evidence.times import parse_instant

        record = bundle.get("callRecord") or {}
        value = record.get("startDateTime")
        return parse_instant(value) if isinstance(value, str) else self.clock()

    def record(self, occurrence: Any, *, mailbox: str | None = None, event_id: str | None = None) -> list[str]:
        now = self.clock()
        recorder = self.runtime.stores.recorder
        if occurrence.cancelled:
            recorder.cancel(self.meeting_facts(occurrence), now, "the event was cancelled")
            return []
        try:
            evaluation = evaluate_raw(occurrence.bundle, self.policy)
        except BundleError as exc:  # a gateway defect, not bad input: fail loudly so the message is retried
            raise RuntimeError(f"gathered bundle is malformed: {exc}") from exc
        facts = self.meeting_facts(occurrence, team=evaluation.team)
        # The evidence kept is minimised: only the directory entries this meeting refers to (same findings).
        kept = minimise(occurrence.bundle) if evaluation.in_scope else None
        outcome = recorder.record(facts, evaluation, kept, now)
        if outcome.written and evaluation.findings:
            self._apply_exemptions(facts, occurrence.bundle, now)
        if mailbox and event_id and occurrence.organiser_id and mailbox.lower() == occurrence.organiser_id.lower():
            self._index_event(mailbox, event_id, facts)
        new: list[str] = outcome.new_findings
        return new

    def _apply_exemptions(self, facts: MeetingFacts, bundle: dict[str, Any], now: float) -> None:
        """Standing exemptions (an approved SEN one-to-one series, a visiting author): the findings stay stored,
        marked exempt, and the digest counts them apart."""
        from shared.admin.context import open_admin
        from shared.admin.exemptions import apply_exemptions, series_id_of

        moment = datetime.fromtimestamp(now, tz=UTC)
        stores = self.runtime.stores
        if self._admin is None:
            self._admin = open_admin(stores, self.zone)
        active = self._admin.exemptions.active(moment)
        if active:
            apply_exemptions(stores.findings.table, facts.week, facts.occurrence_id, active, moment,
                             series_id=series_id_of(bundle))

    def retention(self) -> Any:
        """Delete findings, meeting-log entries and evidence older than the retention period, except holds."""
        from shared.admin.context import open_admin
        from shared.admin.records import cutoff_week, purge_older_than

        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        stores = self.runtime.stores
        cutoff = cutoff_week(now, self.runtime.settings.retention_days, self.zone)
        report = purge_older_than(stores, cutoff, audit=open_admin(stores, self.zone).audit, now=now)
        stores.state.stamp("retention", now, Cutoff=cutoff)
        return report

    def _index_event(self, mailbox: str, event_id: str, facts: MeetingFacts) -> None:
        """The organiser's event → its occurrences, so a deletion (which can no longer be read) resolves them."""
        entity = {"PartitionKey": _row(f"{mailbox.lower()}|{event_id}"), "RowKey": facts.occurrence_id,
                  "Week": facts.week, "Start": datetime.fromtimestamp(facts.start, tz=UTC),
                  "Subject": facts.subject or ""}
        self._table(EVENT_INDEX).upsert_entity(entity)

    def _event_deleted(self, mailbox: str, event_id: str) -> list[str]:
        rows = self._table(EVENT_INDEX).query_entities(query_filter="PartitionKey eq @p",
                                                       parameters={"p": _row(f"{mailbox.lower()}|{event_id}")})
        for row in rows:
            facts = MeetingFacts(row["RowKey"], row["Week"], row["Start"].timestamp(), None, row.get("Subject"),
                                 mailbox, None, None)
            self.runtime.stores.recorder.cancel(facts, self.clock(), "the event was deleted")
        return []

    # ------------------------------------------------------------------ lifecycle and timers
    def handle_lifecycle(self, payload: dict[str, Any]) -> list[str]:
        outcomes: list[str] = []
        facts = self._loop.run(self.graph.gateway.directory.facts())
        for item in payload.get("items", []):
            done: str = self._loop.run(self.graph.manager.on_lifecycle(str(item.get("subscriptionId")),
                                                                  str(item.get("lifecycleEvent")), facts))
            outcomes.append(done)
            if done == "resync":
                self.runtime.stores.state.add("missed-notifications", {"missed": 1})
                self.reconcile()
                self.runtime.stores.state.add("missed-notifications", {"recovered": 1})
        return outcomes

    def ensure_subscriptions(self) -> Any:
        graph = self.graph  # built outside the loop thread: coroutines must never block on it

        async def run() -> Any:
            facts = await graph.gateway.directory.facts()
            return await graph.manager.reconcile(facts)

        report = self._loop.run(run())
        self.runtime.stores.state.stamp("subscriptions", Failed=len(report.failed))
        return report

    def reconcile(self) -> int:
        """Recover what notifications missed: call records since the watermark (overlapping by the longest
        call plus Graph's delay) and every monitored mailbox's calendar over the current and next week."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        state = self.runtime.stores.state
        graph = self.graph
        mark = (state.get("call-record-watermark") or {}).get("At")
        since = (mark if isinstance(mark, datetime) else now - timedelta(days=7)) - CALL_RECORD_OVERLAP
        scheduled = 0

        async def calls() -> list[dict[str, Any]]:
            stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
            items: list[dict[str, Any]]
            items, _ = await graph.transport.get_all(
                f"/communications/callRecords?$filter=startDateTime ge {stamp}")
            return items

        for record in self._loop.run(calls()):
            if isinstance(record.get("id"), str):
                scheduled += self._schedule(f"call|{record['id'].lower()}", {"kind": "callRecord",
                                                                             "id": record["id"]}, True)

        async def calendars() -> list[tuple[str, dict[str, Any]]]:
            facts = await graph.gateway.directory.facts()
            mailboxes = list(facts.staff) + (list(facts.pupils) if self.runtime.settings.monitor_pupil_mailboxes
                                             else [])
            start = (now - timedelta(days=now.weekday())).strftime("%Y-%m-%dT00:00:00Z")
            end = (now + timedelta(days=14 - now.weekday())).strftime("%Y-%m-%dT00:00:00Z")
            found: list[tuple[str, dict[str, Any]]] = []
            for mailbox in mailboxes:
                items, _ = await graph.transport.get_all(
                    f"/users/{mailbox}/calendarView?startDateTime={start}&endDateTime={end}"
                    f"&$select=id,iCalUId,isOrganizer,isOnlineMeeting,seriesMasterId,type&$top=200")
                found.extend((mailbox, item) for item in items if item.get("isOrganizer"))
            return found

        for mailbox, event in self._loop.run(calendars()):
            ical = event.get("iCalUId") or event.get("id")
            scheduled += self._schedule(f"ical|{ical}|{event.get('seriesMasterId') or ''}",
                                        {"kind": "event", "mailbox": mailbox, "eventId": event["id"]}, True)
        state.stamp("call-record-watermark", now)
        state.stamp("reconcile", now, Scheduled=scheduled)
        return scheduled

    def preflight(self, horizon: timedelta = timedelta(hours=1)) -> int:
        """Re-check the options of meetings starting within the hour: options change without an event update."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        graph = self.graph

        async def soon() -> list[tuple[str, dict[str, Any]]]:
            facts = await graph.gateway.directory.facts()
            found: list[tuple[str, dict[str, Any]]] = []
            start, end = now.strftime("%Y-%m-%dT%H:%M:%SZ"), (now + horizon).strftime("%Y-%m-%dT%H:%M:%SZ")
            for mailbox in facts.staff:
                items, _ = await graph.transport.get_all(
                    f"/users/{mailbox}/calendarView?startDateTime={start}&endDateTime={end}"
                    f"&$select=id,isOrganizer,isOnlineMeeting&$top=50")
                found.extend((mailbox, item) for item in items if item.get("isOrganizer")
                             and item.get("isOnlineMeeting"))
            return found

        checked = 0
        for mailbox, event in self._loop.run(soon()):
            self._evaluate({"kind": "event", "mailbox": mailbox, "eventId": event["id"]})
            checked += 1
        self.runtime.stores.state.stamp("preflight", now, Checked=checked)
        return checked
