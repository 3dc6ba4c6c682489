"""Evaluation: gather the occurrence(s) through the Graph gateway → evaluate against the policy → record the
findings, the meeting log and the minimised evidence → mark standing exemptions → same-day alerts.

Exactly once: the evaluation claims its pending row and releases it only after its findings, the meeting log
and the evidence are committed (and its same-day alerts registered), so a failure or a crash anywhere before
leaves the row claimed and the message on the queue; the host redelivers it (host.json ``maxDequeueCount``,
``visibilityTimeout``), then keeps it in the poison queue, which health reports, and the sweep re-drives the row
once it is past due. Graph throttling past the gateway's budget re-enqueues the evaluation with Graph's
``Retry-After`` as the visibility delay instead of burning a dequeue. Transient Graph errors (5xx, timeouts,
connection errors) raise on every delivery but the last, which records what it could not read as
``unavailable`` evidence of the occurrence (``shared.graph.client.delivery``). Recording is idempotent: a
redelivery adds no finding twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from shared.engine import evaluate_raw
from shared.evidence.minimise import minimise
from shared.evidence.reader import BundleError
from shared.evidence.times import parse_instant
from shared.graph.client import delivery
from shared.graph.errors import GraphThrottled
from shared.graph.session import GraphSession
from shared.occurrence_life import (
    CANCELLED,
    DELETED,
    HELD_RULES,
    MOVED,
    KnownOccurrence,
    OptionsSnapshot,
    in_force,
    left_behind,
    options_of,
    snapshot_evidence,
    snapshot_moment,
    vanished,
    with_options,
)
from shared.policy.policyfile import Policy
from shared.ports import Runtime
from shared.records.exemptions import ExemptionStore, apply_exemptions, series_id_of
from shared.scheduling import Scheduler
from shared.store.findings import MeetingFacts
from shared.store.keys import week_of
from shared.store.queues import MAX_DELIVERIES

if TYPE_CHECKING:
    from shared.graph.gateway import GatheredOccurrence as Occurrence

log = logging.getLogger("vcaudit.pipeline")


class Evaluator:
    def __init__(self, runtime: Runtime, session: GraphSession, scheduler: Scheduler, *, policy: Policy,
                 exemptions: Callable[[], ExemptionStore], clock: Callable[[], float],
                 on_new_findings: Callable[[list[str]], None] | None = None) -> None:
        self.runtime = runtime
        self.session = session
        self.scheduler = scheduler
        self.policy = policy
        self.zone = ZoneInfo(runtime.settings.time_zone)
        self.clock = clock
        self.on_new_findings = on_new_findings
        self._exemptions = exemptions
        self.reconcile: Callable[[], int] | None = None  # set by the pipeline: a coalesced reconcile is owed work

    def handle_evaluation(self, payload: dict[str, Any], attempt: int = 1) -> list[str]:
        """Gather, evaluate and record; returns the ids of findings that are new. Idempotent. ``attempt``: the
        host's dequeue count; the last one turns what Graph could not serve into ``unavailable`` evidence."""
        taken = self.scheduler.claim(payload)
        if taken is None:
            return []  # already evaluated (a duplicate, or a redelivery after the release): nothing to do
        message, claim = taken
        try:
            new = self.evaluate(message, final=attempt >= MAX_DELIVERIES, first=attempt <= 1)
        except GraphThrottled as throttled:
            delay = max(1, int(throttled.retry_after_seconds + 0.999))
            log.warning("Graph throttled: evaluation re-enqueued with a %d s delay", delay)
            self.scheduler.retry_later(claim, message, delay)
            return []
        if claim is not None:
            self.scheduler.release(claim)
        return new

    def evaluate(self, message: dict[str, Any], *, final: bool = True, first: bool = False) -> list[str]:
        gateway = self.session.graph.gateway

        def run(coro: Any) -> Any:
            return self.session.run(delivery(coro, final=final, first=first))

        kind = message.get("kind")
        if kind == "reconcile":
            if self.reconcile is not None:
                self.reconcile()
            return []
        tombstones = self.runtime.stores.tombstones
        gateway.tombstones = lambda organiser: tombstones.events(organiser, self.clock())
        gathered: list[Occurrence]
        if kind == "event":
            gathered = run(gateway.gather_event(message["mailbox"], message["eventId"]))
        elif kind == "callRecord":
            gathered = run(gateway.gather_call_record(message["id"]))
        elif kind == "recording":
            gathered = run(gateway.gather_recording(message["meetingId"], message["id"]))
        elif kind == "transcript":
            gathered = run(gateway.gather_transcript(message["meetingId"], message["id"]))
        elif kind == "eventDeleted":
            return self.event_deleted(message["mailbox"], message["eventId"])
        else:
            log.warning("unknown evaluation kind: skipped")
            return []
        new: list[str] = []
        current: list[str] = []
        for occurrence in gathered:
            outcome = self.record(occurrence, mailbox=message.get("mailbox"), event_id=message.get("eventId"))
            new.extend(outcome[0])
            current.extend(outcome[1])
        if kind == "event":
            self.compare_series(message["mailbox"], gathered)
        if new or current:
            self.alert(new, current)
        return new

    def alert(self, new: list[str], current: list[str]) -> None:
        """Same-day alerts for safeguarding concerns. The findings are recorded before; registering is part of
        the evaluation (a failure here is retried with it, and registering twice is a no-op), so a concern
        recorded by an attempt that failed later is still alerted by the retry. ``current``: every finding
        the evaluation stands for (a retry finds none new)."""
        if self.on_new_findings is not None:
            if new:
                self.on_new_findings(new)
            return
        from shared.digest.alerts import alert_new_findings
        from shared.digest.collect import MailContext
        from shared.digest.mail import GraphMailSender

        runtime = self.runtime
        context = MailContext.open(runtime.stores, runtime.settings, queues=runtime.queues, policy=self.policy)
        context.mailer = GraphMailSender.over(self.session.graph.transport)
        ids = list(dict.fromkeys(new + current))
        self.session.run(alert_new_findings(context, ids, datetime.fromtimestamp(self.clock(), tz=UTC)))

    def meeting_facts(self, occurrence: Occurrence, team: str | None = None) -> MeetingFacts:
        bundle = occurrence.bundle
        start = occurrence.scheduled_start.timestamp() if occurrence.scheduled_start else self._call_start(bundle)
        end = occurrence.scheduled_end.timestamp() if occurrence.scheduled_end else None
        users = (bundle.get("directory") or {}).get("users") or {}
        organiser = users.get(occurrence.organiser_id or "") or {}
        return MeetingFacts(occurrence.key.id, week_of(start, self.zone), start, end, occurrence.subject,
                            occurrence.organiser_id, organiser.get("displayName"), team)

    def _call_start(self, bundle: dict[str, Any]) -> float:
        record = bundle.get("callRecord") or {}
        value = record.get("startDateTime")
        return parse_instant(value) if isinstance(value, str) else self.clock()

    def record(self, occurrence: Occurrence, *, mailbox: str | None = None,
               event_id: str | None = None) -> tuple[list[str], list[str]]:
        """Record one occurrence; returns (ids of new findings, ids of every finding it stands for)."""
        now = self.clock()
        recorder = self.runtime.stores.recorder
        if occurrence.cancelled:
            facts = self.meeting_facts(occurrence)
            self.tombstone(facts, CANCELLED)
            recorder.cancel(facts, now, CANCELLED)
            return [], []
        bundle, snapshot = self.judged_bundle(occurrence, now)
        try:
            evaluation = evaluate_raw(bundle, self.policy)
        except BundleError as exc:  # a gateway defect, not bad input: fail loudly so the message is retried
            raise RuntimeError(f"gathered bundle is malformed: {exc}") from exc
        if snapshot is not None:  # say which options the held-stage findings were judged with
            said = snapshot_evidence(snapshot)
            evaluation.findings = [replace(f, evidence={**f.evidence, "optionsInForce": said})
                                   if f.rule in HELD_RULES else f for f in evaluation.findings]
        facts = self.meeting_facts(occurrence, team=evaluation.team)
        # The evidence kept is minimised: only the directory entries this meeting refers to (same findings).
        kept = minimise(bundle) if evaluation.in_scope else None
        outcome = recorder.record(facts, evaluation, kept, now)
        if outcome.written and evaluation.findings:
            self._apply_exemptions(facts, occurrence.bundle, now)
        if outcome.written:
            from shared.prevent import after_evaluation

            after_evaluation(self, occurrence, facts, evaluation, now)  # enforce, nudge: before the lesson
        if mailbox and event_id and occurrence.organiser_id and mailbox.lower() == occurrence.organiser_id.lower():
            # the organiser's event → its occurrences, so a deletion (which can no longer be read) resolves them
            self.runtime.stores.event_index.put(mailbox, event_id, facts)
        return list(outcome.new_findings), list(outcome.current_findings)

    def judged_bundle(self, occurrence: Occurrence,
                      now: float) -> tuple[dict[str, Any], OptionsSnapshot | None]:
        """Keep a snapshot of the meeting's options as read now; once the call has happened, the bundle to judge
        carries the options in force while the call ran (a later change of settings never rewrites what
        happened), and the snapshot used."""
        bundle = occurrence.bundle
        meeting = bundle.get("onlineMeeting")
        if not isinstance(meeting, dict) or occurrence.scheduled_start is None:
            return bundle, None
        records = [r for r in [bundle.get("callRecord"), *(bundle.get("callRecords") or [])] if isinstance(r, dict)]
        held = bool(records or bundle.get("attendanceReports"))
        start = occurrence.scheduled_start.timestamp()
        snapshots = self.runtime.stores.snapshots
        snapshots.add(occurrence.key.id, OptionsSnapshot(now, snapshot_moment(now, start, held), options_of(meeting)))
        if not held:
            return bundle, None
        ends = [parse_instant(r["endDateTime"]) for r in records if isinstance(r.get("endDateTime"), str)]
        call_end = max(ends) if ends else (occurrence.scheduled_end or occurrence.scheduled_start).timestamp()
        chosen = in_force(snapshots.all(occurrence.key.id), call_end)
        if chosen is None:
            return bundle, None
        return with_options(bundle, chosen), chosen

    def _apply_exemptions(self, facts: MeetingFacts, bundle: dict[str, Any], now: float) -> None:
        """Standing exemptions (an approved SEN one-to-one series, a visiting author): the findings stay stored,
        marked exempt, and the digest counts them apart."""
        moment = datetime.fromtimestamp(now, tz=UTC)
        active = self._exemptions().active(moment)
        if active:
            apply_exemptions(self.runtime.stores.findings.table, facts.week, facts.occurrence_id, active, moment,
                             series_id=series_id_of(bundle))

    def event_deleted(self, mailbox: str, event_id: str) -> list[str]:
        for facts in self.runtime.stores.event_index.occurrences(mailbox, event_id):
            self.tombstone(facts, DELETED)
            self.runtime.stores.recorder.cancel(facts, self.clock(), DELETED)
        return []

    def compare_series(self, mailbox: str, gathered: list[Occurrence]) -> None:
        """A series master was expanded: an occurrence known before but no longer in the expansion was moved or
        cancelled (the organiser's copy of a cancelled occurrence disappears). Its old key is resolved, unless
        it was held — then what happened stands and the log notes the change. Occurrences are known from every
        read: a master's expansion, and an occurrence or exception read on its own (reconcile's calendar view
        serves occurrences, never masters), so the first change to a series already has something to compare."""
        series = self.runtime.stores.series
        now = self.clock()
        for single in gathered:  # an occurrence read on its own (reconcile's calendar view): known from now on
            if single.series_id and not single.series_master_id and not single.cancelled:
                facts = self.meeting_facts(single)
                if single.original_start is not None:  # an exception: the slot it left is gone
                    for gone in left_behind(series.known(mailbox, single.series_id),
                                            single.original_start.timestamp(), facts.occurrence_id):
                        self._moved_away(mailbox, single.series_id, gone, now)
                series.put(mailbox, single.series_id, KnownOccurrence(facts.occurrence_id, facts.week, facts.start,
                                                                      facts.subject))
        masters = {o.series_master_id for o in gathered if o.series_master_id}
        if not masters:
            return
        gateway = self.session.graph.gateway
        lo = now - gateway.series_lookback.total_seconds()
        hi = now + gateway.series_horizon.total_seconds()
        for master in masters:
            current = [o for o in gathered if o.series_master_id == master and not o.cancelled]
            for gone in vanished(series.known(mailbox, master), (o.key.id for o in current), lo, hi):
                self._moved_away(mailbox, master, gone, now)
            for occurrence in current:
                facts = self.meeting_facts(occurrence)
                series.put(mailbox, master, KnownOccurrence(facts.occurrence_id, facts.week, facts.start,
                                                            facts.subject))

    def _moved_away(self, mailbox: str, master: str, gone: KnownOccurrence, now: float) -> None:
        """A known occurrence is no longer in its series at that start: resolved as moved (unless it was held)."""
        facts = MeetingFacts(gone.occurrence_id, gone.week, gone.start, None, gone.subject, mailbox, None, None)
        self.tombstone(facts, MOVED)
        self.runtime.stores.recorder.cancel(facts, now, MOVED)
        self.runtime.stores.series.forget(mailbox, master, gone.occurrence_id)

    def tombstone(self, facts: MeetingFacts, reason: str) -> None:
        """Keep a deleted or cancelled occurrence's event and options, as last read, until its call record can no
        longer be late, so a call on its link in its window is still judged as that lesson."""
        stores = self.runtime.stores
        log_entry = stores.meetings.get(facts.week, facts.occurrence_id)
        if log_entry is None or not log_entry.entity.get("EvidenceBlob"):
            return
        bundle = stores.evidence.load(str(log_entry.entity["EvidenceBlob"])) or {}
        event = bundle.get("event")
        organiser = str(log_entry.entity.get("OrganiserId") or facts.organiser_id or "")
        if not isinstance(event, dict) or not organiser:
            return
        end = log_entry.entity.get("End")
        until = end.timestamp() if isinstance(end, datetime) else facts.start + 3600
        stores.tombstones.keep(organiser, facts.occurrence_id, event, bundle.get("onlineMeeting"), until, reason)
