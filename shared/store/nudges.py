"""The nudge ledger (table ``Nudges``): what each teacher was told, so a lesson is nudged once (per series for a
recurring lesson) and again only when it gets worse, with a per-teacher daily count and a per-week log the
digest counts.

Rows: ``ledger``/hash(series or occurrence) holds the rules already nudged; ``day-YYYY-MM-DD``/hash(teacher)
the day's count; the lesson's ISO week/hash(key)-time one row per nudge sent (or held as undeliverable).
A claim is written (ETag-guarded) before the mail goes, so two evaluations racing for one lesson send one nudge.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LEDGER = "ledger"


def _hash(value: str) -> str:
    return hashlib.sha256(value.lower().encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    previous: frozenset[str] | None
    etag: str | None


class NudgeLedger:
    def __init__(self, table: Any) -> None:
        self.table = table

    def nudged(self, key: str) -> tuple[frozenset[str] | None, str | None]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self.table.get_entity(partition_key=LEDGER, row_key=_hash(key))
        except ResourceNotFoundError:
            return None, None
        return frozenset(str(row.get("Rules", "")).split()), row.metadata.get("etag")

    def sent_today(self, organiser: str, day: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self.table.get_entity(partition_key=f"day-{day}", row_key=_hash(organiser))
        except ResourceNotFoundError:
            return 0
        return int(row.get("Count", 0))

    def claim(self, key: str, rules: tuple[str, ...], previous: frozenset[str] | None, etag: str | None,
              now: float) -> bool:
        """Record ``rules`` (with those before) as nudged; False when another evaluation got there first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": LEDGER, "RowKey": _hash(key), "Key": key[:1000],
                  "Rules": " ".join(sorted(set(rules) | set(previous or ()))),
                  "LastSent": datetime.fromtimestamp(now, tz=UTC)}
        try:
            if etag is None:
                self.table.create_entity(entity)
            else:
                self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                         match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    def release(self, key: str, previous: frozenset[str] | None) -> None:
        """The mail did not go (a clear failure): forget the claim so a later evaluation tries again."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import UpdateMode

        if previous is None:
            with contextlib.suppress(ResourceNotFoundError):
                self.table.delete_entity(partition_key=LEDGER, row_key=_hash(key))
            return
        self.table.upsert_entity({"PartitionKey": LEDGER, "RowKey": _hash(key), "Key": key[:1000],
                                  "Rules": " ".join(sorted(previous))}, mode=UpdateMode.MERGE)

    def count_sent(self, organiser: str, day: str) -> None:
        from azure.data.tables import UpdateMode

        current = self.sent_today(organiser, day)
        self.table.upsert_entity({"PartitionKey": f"day-{day}", "RowKey": _hash(organiser), "Count": current + 1},
                                 mode=UpdateMode.REPLACE)

    def log(self, week: str, key: str, occurrence_id: str, organiser: str, rules: tuple[str, ...], now: float,
            outcome: str) -> None:
        self.table.upsert_entity({"PartitionKey": week, "RowKey": f"{_hash(key)}-{int(now)}",
                                  "OccurrenceId": occurrence_id, "OrganiserId": organiser,
                                  "Rules": " ".join(rules), "Outcome": outcome,
                                  "At": datetime.fromtimestamp(now, tz=UTC)})

    def week(self, week: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.table.query_entities(query_filter="PartitionKey eq @week",
                                                           parameters={"week": week})]

    def enforcement(self, week: str, occurrence_id: str, organiser: str, changes: tuple[str, ...], now: float,
                    outcome: str, note: str) -> None:
        """One row per occurrence and outcome (a re-evaluation rewrites it, never adds another)."""
        self.table.upsert_entity({"PartitionKey": week, "RowKey": f"enforce-{_hash(occurrence_id)}-{outcome}",
                                  "OccurrenceId": occurrence_id, "OrganiserId": organiser,
                                  "Rules": " ".join(changes), "Outcome": outcome, "Note": note[:1000],
                                  "At": datetime.fromtimestamp(now, tz=UTC)})

    def refused_before(self, meeting_id: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.table.get_entity(partition_key="refused", row_key=_hash(meeting_id))
        except ResourceNotFoundError:
            return False
        return True

    def refuse(self, meeting_id: str, note: str, now: float) -> None:
        self.table.upsert_entity({"PartitionKey": "refused", "RowKey": _hash(meeting_id), "Note": note[:1000],
                                  "At": datetime.fromtimestamp(now, tz=UTC)})
