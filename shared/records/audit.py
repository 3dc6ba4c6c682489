"""The audit table: every admin action (annotation, note, exemption, consent import or revocation, hold,
release, subject access, erasure, retention) with who, when and what. Pupils are named by a one-way reference,
so the audit itself survives an erasure without keeping the pupil's id."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def pupil_ref(pupil_id: str) -> str:
    """A stable, one-way reference to a pupil for the audit (the id itself is personal data)."""
    return "pupil#" + hashlib.sha256(pupil_id.strip().lower().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    target: str
    by: str
    at: datetime
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, table: Any) -> None:
        self.table = table

    def record(self, action: str, target: str, by: str, now: datetime, **detail: Any) -> None:
        at = now.astimezone(UTC)
        self.table.create_entity({
            "PartitionKey": at.strftime("%Y-%m"),
            "RowKey": f"{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}",
            "Action": action, "Target": target[:200], "By": by[:200], "At": at,
            "Detail": json.dumps(detail, ensure_ascii=False, default=str)[:30_000],
        })

    def entries(self, *, target: str | None = None, action: str | None = None) -> list[AuditEntry]:
        clauses: list[str] = []
        parameters: dict[str, Any] = {}
        if target is not None:
            clauses.append("Target eq @target")
            parameters["target"] = target
        if action is not None:
            clauses.append("Action eq @action")
            parameters["action"] = action
        rows = (self.table.query_entities(query_filter=" and ".join(clauses), parameters=parameters)
                if clauses else self.table.list_entities())
        out = []
        for row in rows:
            try:
                detail = json.loads(row.get("Detail") or "{}")
            except ValueError:
                detail = {}
            out.append(AuditEntry(str(row.get("Action", "")), str(row.get("Target", "")), str(row.get("By", "")),
                                  row.get("At") or datetime.min.replace(tzinfo=UTC),
                                  detail if isinstance(detail, dict) else {}))
        return sorted(out, key=lambda e: e.at)
