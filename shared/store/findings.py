"""The findings table: one row per (meeting occurrence, rule, subject), partitioned by ISO week.

Machine-written fields are merged on every evaluation and never replace what people wrote: ``Status`` and
``Annotations`` (acknowledged, accepted risk, false positive, resolved; who, when, why) and ``Hold`` are only
ever written by the admin tools. A finding that a later evaluation no longer produces is marked resolved by
the machine (a setting fixed before the lesson), never deleted; only retention deletes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.engine import Finding
from shared.policy.catalogue import catalogue
from shared.store.keys import WEEK, finding_id, finding_row_key

SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Table Storage: a string property holds at most 64 KiB (32K UTF-16 code units); an entity 1 MiB.
EVIDENCE_LIMIT = 30_000
SUMMARY_LIMIT = 2_000
# Findings about the meeting's options: frozen at the lesson's start (fixing next week's options must not
# rewrite this week's findings).
SETTING_RULES = frozenset(spec.id for spec in catalogue().values() if spec.frozen_at_start)
MACHINE_FIELDS = ("OccurrenceId", "Rule", "Severity", "Subject", "SubjectName", "Clauses", "Summary", "Evidence",
                  "MeetingSubject", "OrganiserId", "OrganiserName", "Team", "Start", "MachineState", "LastSeen")
PEOPLE_FIELDS = ("Status", "Annotations", "Hold", "ExemptionId")


def capped_json(value: Any, limit: int = EVIDENCE_LIMIT) -> str:
    """JSON of ``value`` within a table string property; the whole bundle is kept in Blob storage."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(text) <= limit:
        return text
    return json.dumps({"truncated": True, "size": len(text), "head": text[: limit - 200]}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What the findings and the meeting log say about the meeting itself."""

    occurrence_id: str
    week: str
    start: float  # scheduled start (or the call's start), epoch seconds
    end: float | None
    subject: str | None
    organiser_id: str | None
    organiser_name: str | None
    team: str | None  # class team's name, for a channel meeting

    def __post_init__(self) -> None:
        # Both become table keys: no character Table Storage forbids (/ \ # ? controls), bounded length.
        if not SAFE_KEY.fullmatch(self.occurrence_id):
            raise ValueError(f"occurrence id '{self.occurrence_id[:60]}' is not a safe table key")
        if not WEEK.fullmatch(self.week):
            raise ValueError(f"'{self.week[:20]}' is not an ISO week")


def _iso(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class FindingStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def existing(self, week: str, occurrence_id: str) -> dict[str, dict[str, Any]]:
        rows = self.table.query_entities(
            query_filter="PartitionKey eq @week and OccurrenceId eq @occurrence",
            parameters={"week": week, "occurrence": occurrence_id})
        return {row["RowKey"]: dict(row) for row in rows}

    def record(self, meeting: MeetingFacts, findings: Iterable[Finding], now: float, *,
               frozen_rules: frozenset[str] = frozenset(), unresolvable: frozenset[str] = frozenset(),
               before: dict[str, dict[str, Any]] | None = None,
               reason: Callable[[str], str] | None = None) -> tuple[list[str], list[str]]:
        """Write one evaluation's findings; returns (new finding ids, finding ids the machine resolved).

        Rows of ``frozen_rules`` are left exactly as they are; open rows of ``unresolvable`` rules may be added to
        and updated but are never resolved (what happened in a held call stands). Every resolution records why
        (``reason(rule)``) in ``ResolvedWhy``. ``before``: the occurrence's rows, when the
        caller has already read them. All writes for one occurrence are one batch
        transaction (same partition), so a failure mid-way leaves the previous state whole.
        """
        if before is None:
            before = self.existing(meeting.week, meeting.occurrence_id)
        stamp = _iso(now)
        operations: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        seen: set[str] = set()
        new: list[str] = []
        for finding in findings:
            if finding.rule in frozen_rules:
                continue
            row = finding_row_key(meeting.occurrence_id, finding.rule, finding.subject)
            if row in seen:
                continue
            seen.add(row)
            entity: dict[str, Any] = {
                "PartitionKey": meeting.week, "RowKey": row, "OccurrenceId": meeting.occurrence_id,
                "Rule": finding.rule, "Severity": finding.severity, "Subject": finding.subject or "",
                "SubjectName": finding.subject_name or "", "Clauses": " ".join(finding.clauses),
                "Summary": finding.summary[:SUMMARY_LIMIT], "Evidence": capped_json(finding.evidence),
                "MeetingSubject": meeting.subject or "", "OrganiserId": meeting.organiser_id or "",
                "OrganiserName": meeting.organiser_name or "", "Team": meeting.team or "",
                "Start": _iso(meeting.start), "MachineState": "open", "LastSeen": stamp,
            }
            if row not in before:
                entity["FirstSeen"] = stamp
                new.append(finding_id(meeting.week, row))
            elif before[row].get("MachineState") == "resolved":
                entity["ResolvedWhy"] = ""  # open again: the earlier resolution's reason no longer holds
            elif _same(before[row], entity):
                continue  # a redelivery: nothing changed, nothing written
            operations.append(("upsert", entity, {"mode": "merge"}))
        resolved: list[str] = []
        for row, old in before.items():
            if row in seen or old.get("Rule") in frozen_rules or old.get("MachineState") == "resolved":
                continue
            if old.get("Rule") in unresolvable:
                continue
            why = reason(str(old.get("Rule", ""))) if reason else "a later reading of the meeting no longer shows it"
            operations.append(("upsert", {"PartitionKey": meeting.week, "RowKey": row, "MachineState": "resolved",
                                          "ResolvedAt": stamp, "ResolvedWhy": why[:500]}, {"mode": "merge"}))
            resolved.append(finding_id(meeting.week, row))
        self._submit(operations)
        return new, resolved

    def _submit(self, operations: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        from azure.data.tables import UpdateMode

        batch = [(op, entity, {"mode": UpdateMode.MERGE}) for op, entity, _ in operations]
        for start in range(0, len(batch), 100):  # a transaction holds at most 100 operations
            self.table.submit_transaction(batch[start:start + 100])

    def week(self, week: str) -> Iterator[dict[str, Any]]:
        return (dict(row) for row in self.table.query_entities(query_filter="PartitionKey eq @week",
                                                              parameters={"week": week}))

    def get(self, week: str, row: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return dict(self.table.get_entity(partition_key=week, row_key=row))
        except ResourceNotFoundError:
            return None


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    for key, value in new.items():
        if key in ("LastSeen", "PartitionKey", "RowKey"):
            continue
        current = old.get(key)
        if isinstance(value, datetime) and isinstance(current, datetime):
            if abs((value - current).total_seconds()) > 0.001:
                return False
        elif current != value:
            return False
    return True
