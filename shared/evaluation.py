"""Evaluation: gather the occurrence(s) through the Graph gateway → evaluate against the policy → record the
findings, the meeting log and the minimised evidence → mark standing exemptions → same-day alerts.

Graph throttling past the gateway's budget re-enqueues the message with Graph's ``Retry-After`` as the
visibility delay instead of burning a dequeue; any other failure raises, so the host retries and finally keeps
the message in the poison queue. Recording is idempotent: a redelivery adds no finding twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from shared.engine import evaluate_raw
from shared.evidence.minimise import minimise
from shared.evidence.reader import BundleError
from shared.evidence.times import parse_instant
from shared.graph.errors import GraphThrottled
from shared.graph.session import GraphSession
from shared.policy.policyfile import Policy
from shared.ports import Runtime
from shared.records.exemptions import ExemptionStore, apply_exemptions, series_id_of
from shared.scheduling import Scheduler
from shared.store.findings import MeetingFacts
from shared.store.keys import week_of

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

    def handle_evaluation(self, payload: dict[str, Any]) -> list[str]:
        """Gather, evaluate and record; returns the ids of findings that are new. Idempotent."""
        message = self.scheduler.take(payload)
        if message is None:
            return []  # already evaluated (a redelivery): nothing to do
        try:
            return self.evaluate(message)
        except GraphThrottled as throttled:
            delay = max(1, int(throttled.retry_after_seconds + 0.999))
            log.warning("Graph throttled: evaluation re-enqueued with a %d s delay", delay)
            self.scheduler.retry_later(message, delay)
            return []

    def evaluate(self, message: dict[str, Any]) -> list[str]:
        gateway = self.session.graph.gateway
        run = self.session.run
        kind = message.get("kind")
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
        for occurrence in gathered:
            new.extend(self.record(occurrence, mailbox=message.get("mailbox"), event_id=message.get("eventId")))
        if new:
            self.alert(new)
        return new

    def alert(self, new: list[str]) -> None:
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
            context = MailContext.open(runtime.stores, runtime.settings, queues=runtime.queues, policy=self.policy)
            context.mailer = GraphMailSender.over(self.session.graph.transport)
            self.session.run(alert_new_findings(context, new, datetime.fromtimestamp(self.clock(), tz=UTC)))
        except Exception:
            log.exception("same-day alerts could not be registered; the alert timer will retry")

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
               event_id: str | None = None) -> list[str]:
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
        if outcome.written:
            from shared.prevent import after_evaluation

            after_evaluation(self, occurrence, facts, evaluation, now)  # enforce, nudge: before the lesson
        if mailbox and event_id and occurrence.organiser_id and mailbox.lower() == occurrence.organiser_id.lower():
            # the organiser's event → its occurrences, so a deletion (which can no longer be read) resolves them
            self.runtime.stores.event_index.put(mailbox, event_id, facts)
        new: list[str] = outcome.new_findings
        return new

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
            self.runtime.stores.recorder.cancel(facts, self.clock(), "the event was deleted")
        return []
