"""The meeting log: one entry per meeting occurrence (the policy's "keep a brief log": what, when, where,
who organised, how many pupils and staff, stages evaluated, findings). Written with ETag checks so a thinner
evaluation never overwrites a fuller one and two workers never interleave."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.engine import Evaluation
from shared.store.findings import MeetingFacts, capped_json


class ConcurrentUpdate(RuntimeError):
    """Another evaluation of the same occurrence wrote first; re-read and try again."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    entity: dict[str, Any]
    etag: str | None

    @property
    def fullness(self) -> tuple[int, int]:
        return int(self.entity.get("StageCount", 0)), int(self.entity.get("EvidenceKinds", 0))

    @property
    def settings_frozen(self) -> bool:
        return bool(self.entity.get("SettingsFrozenAt"))


def fullness(evaluation: Evaluation, evidence_kinds: int) -> tuple[int, int]:
    return len(evaluation.stages), evidence_kinds


class MeetingLogStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, week: str, occurrence_id: str) -> LogEntry | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self.table.get_entity(partition_key=week, row_key=occurrence_id)
        except ResourceNotFoundError:
            return None
        return LogEntry(dict(entity), entity.metadata.get("etag"))

    def write(self, meeting: MeetingFacts, evaluation: Evaluation, *, evidence_kinds: int, now: float,
              previous: LogEntry | None, settings_frozen_at: float | None, evidence_blob: str | None,
              findings_count: int, call_fingerprint: str = "") -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        severities = [f.severity for f in evaluation.findings]
        entity: dict[str, Any] = {
            "PartitionKey": meeting.week, "RowKey": meeting.occurrence_id,
            "Subject": meeting.subject or "", "Start": datetime.fromtimestamp(meeting.start, tz=UTC),
            "OrganiserId": meeting.organiser_id or "", "OrganiserName": meeting.organiser_name or "",
            "Team": meeting.team or "", "Where": meeting.team or "private meeting",
            "InScope": evaluation.in_scope, "Stages": " ".join(evaluation.stages),
            "StageCount": len(evaluation.stages), "EvidenceKinds": evidence_kinds,
            "StaffCount": evaluation.staff_count, "PupilCount": evaluation.pupil_count,
            "FindingsCount": findings_count, "HighCount": severities.count("high"),
            "Compliant": evaluation.compliant,
            "Coverage": capped_json(evaluation.coverage_gaps, 8000),
            "Unavailable": capped_json(evaluation.unavailable, 8000),
            "UnclassifiedAdults": capped_json(evaluation.unclassified_adults, 8000),
            "EvaluatedAt": datetime.fromtimestamp(now, tz=UTC),
            "EvidenceBlob": evidence_blob or "",
        }
        if call_fingerprint:
            entity["CallFingerprint"] = call_fingerprint
        if meeting.end is not None:
            entity["End"] = datetime.fromtimestamp(meeting.end, tz=UTC)
        if settings_frozen_at is not None:
            entity["SettingsFrozenAt"] = datetime.fromtimestamp(settings_frozen_at, tz=UTC)
        try:
            if previous is None:
                self.table.create_entity(entity)
            else:
                self.table.update_entity(entity, mode=UpdateMode.MERGE, etag=previous.etag,
                                         match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise ConcurrentUpdate(f"meeting log {meeting.week}/{meeting.occurrence_id} changed meanwhile") from exc

    def mark_cancelled(self, week: str, occurrence_id: str, now: float, reason: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import UpdateMode

        try:
            self.table.update_entity({"PartitionKey": week, "RowKey": occurrence_id, "Cancelled": True,
                                      "CancelledReason": reason[:200],
                                      "EvaluatedAt": datetime.fromtimestamp(now, tz=UTC)}, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            return

    def with_gaps(self, week: str) -> list[dict[str, Any]]:
        """The week's rows whose evidence could not all be read (``Unavailable`` other than ``[]``)."""
        return [dict(row) for row in self.table.query_entities(
            query_filter="PartitionKey eq @week and Unavailable ne @none",
            parameters={"week": week, "none": "[]"},
            select=["PartitionKey", "RowKey", "Unavailable", "EvidenceBlob", "OrganiserId"])]

    def week(self, week: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self.table.query_entities(query_filter="PartitionKey eq @week",
                                                              parameters={"week": week})]


def decode(entity: dict[str, Any], key: str) -> Any:
    value = entity.get(key)
    return json.loads(value) if isinstance(value, str) and value else None
