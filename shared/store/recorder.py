"""Recording one evaluation of a meeting occurrence: findings, the meeting log and the evidence, idempotently.

Redeliveries and stages arriving out of order converge to the same rows: row keys are deterministic, an
evaluation thinner than the one already logged is ignored, and the meeting log's ETag makes two concurrent
evaluations of one occurrence take turns (the loser re-reads and tries again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.engine import Evaluation
from shared.occurrence_life import call_fingerprint, resolution_reason, unresolvable_rules
from shared.store.evidence import EvidenceStore
from shared.store.findings import SETTING_RULES, FindingStore, MeetingFacts
from shared.store.keys import finding_id, finding_row_key
from shared.store.meetings import ConcurrentUpdate, MeetingLogStore, fullness

EVIDENCE_KEYS = ("event", "onlineMeeting", "attendanceReports", "callRecord", "callRecords", "recordings",
                 "transcripts")


@dataclass(slots=True)
class RecordOutcome:
    written: bool
    new_findings: list[str] = field(default_factory=list)
    resolved_findings: list[str] = field(default_factory=list)
    reason: str = ""
    current_findings: list[str] = field(default_factory=list)  # every finding this evaluation stands for


def evidence_kinds(bundle: dict[str, Any] | None) -> int:
    if not bundle:
        return 0
    return sum(1 for key in EVIDENCE_KEYS if bundle.get(key))


class Recorder:
    def __init__(self, findings: FindingStore, meetings: MeetingLogStore, evidence: EvidenceStore | None = None,
                 attempts: int = 5) -> None:
        self.findings = findings
        self.meetings = meetings
        self.evidence = evidence
        self.attempts = attempts

    def record(self, meeting: MeetingFacts, evaluation: Evaluation, bundle: dict[str, Any] | None,
               now: float) -> RecordOutcome:
        for _ in range(self.attempts):
            try:
                return self._record_once(meeting, evaluation, bundle, now)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"meeting log {meeting.week}/{meeting.occurrence_id}: gave up after "
                               f"{self.attempts} concurrent updates")

    def _record_once(self, meeting: MeetingFacts, evaluation: Evaluation, bundle: dict[str, Any] | None,
                     now: float) -> RecordOutcome:
        previous = self.meetings.get(meeting.week, meeting.occurrence_id)
        kinds = evidence_kinds(bundle)
        if previous is not None and previous.fullness > fullness(evaluation, kinds):
            return RecordOutcome(False, reason="a fuller evaluation of this occurrence is already recorded")
        frozen: frozenset[str] = frozenset()
        frozen_at: float | None = None
        if now >= meeting.start:
            if previous is not None and previous.settings_frozen:
                frozen = SETTING_RULES  # the lesson has started: its setting findings stand as they were
            else:
                frozen_at = now
        blob = None
        if self.evidence is not None and evaluation.in_scope and bundle is not None:
            blob = self.evidence.save(meeting.week, meeting.occurrence_id, bundle)
        before = self.findings.existing(meeting.week, meeting.occurrence_id)
        # What happened in a held call stands: its held-stage findings are resolved only by new evidence about
        # the call itself (a fuller or corrected call record), never by a later reading of options or calendar.
        fingerprint = call_fingerprint(bundle)
        previous_stages = str(previous.entity.get("Stages", "")) if previous is not None else ""
        previous_fingerprint = str(previous.entity.get("CallFingerprint", "")) if previous is not None else ""
        keep = unresolvable_rules(previous_stages, previous_fingerprint, fingerprint)
        held_before = "held" in previous_stages.split()
        changed = bool(fingerprint) and fingerprint != previous_fingerprint

        def why(rule: str) -> str:
            return resolution_reason(rule, held_before=held_before, call_changed=changed)

        new, resolved = self.findings.record(meeting, evaluation.findings, now, frozen_rules=frozen,
                                             unresolvable=keep, before=before, reason=why)
        settings_frozen_at = frozen_at
        produced = {f.rule for f in evaluation.findings}
        # Frozen setting findings stand as recorded at the lesson's start, and held-stage ones as the call showed
        # them: count those still open.
        findings_count = len([f for f in evaluation.findings if f.rule not in frozen]) + sum(
            1 for row in before.values() if row.get("MachineState") == "open" and (
                row.get("Rule") in frozen or (row.get("Rule") in keep and row.get("Rule") not in produced)))
        self.meetings.write(meeting, evaluation, evidence_kinds=kinds, now=now, previous=previous,
                            settings_frozen_at=settings_frozen_at, evidence_blob=blob,
                            findings_count=findings_count, call_fingerprint=fingerprint or previous_fingerprint)
        current = sorted({finding_id(meeting.week, finding_row_key(meeting.occurrence_id, f.rule, f.subject))
                          for f in evaluation.findings})
        return RecordOutcome(True, new, resolved, current_findings=current)

    def cancel(self, meeting: MeetingFacts, now: float, reason: str) -> list[str]:
        """A cancelled, moved or deleted event resolves its old occurrence's open findings, when the meeting
        had not taken place. Once a lesson has started or been held, deleting its calendar entry must not
        silence what happened in it: the findings stand and the log notes the deletion."""
        previous = self.meetings.get(meeting.week, meeting.occurrence_id)
        held = previous is not None and "held" in str(previous.entity.get("Stages", "")).split()
        if now >= meeting.start or held:
            self.meetings.mark_cancelled(meeting.week, meeting.occurrence_id, now,
                                         f"{reason} after the meeting's start; its findings stand")
            return []
        _, resolved = self.findings.record(meeting, [], now, reason=lambda _rule: reason)
        self.meetings.mark_cancelled(meeting.week, meeting.occurrence_id, now, reason)
        return resolved
