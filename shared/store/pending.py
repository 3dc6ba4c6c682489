"""The pipeline's two working tables.

- ``Pending``: one row per coalescing key while its evaluation is owed, so a burst of notifications about one
  lesson schedules one evaluation. The organiser's copy, when it arrives, replaces the message. The row is the
  claim on the work and carries what re-drives it: ``Due`` (after which the sweep re-enqueues it), ``Queued``
  (its message was sent) and ``Generation`` (bumped by every notification absorbed). The evaluation releases
  the row only after its findings, log row and evidence are committed, and only if no notification arrived
  meanwhile (the row's ETag); otherwise it schedules a fresh evaluation.
- ``EventIndex``: the organiser's event → the occurrences recorded from it, so a deletion (which can no longer
  be read from Graph) still resolves to the meeting-log entries to cancel.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.store.findings import MeetingFacts

PARTITION = "pending"
# How long an owed evaluation may wait past its coalescing delay before the sweep re-drives it: longer than
# the host's whole retry budget (host.json: maxDequeueCount x (visibilityTimeout + functionTimeout) is the
# worst case; evaluations take seconds), so the sweep never races a healthy retry.
REDRIVE_AFTER = timedelta(minutes=15)


def row_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Claim:
    """An evaluation taken from its pending row: the message to gather from, and the row's ETag when taken
    (a notification absorbed after that changes it, so the release schedules a fresh evaluation)."""

    row: str
    message: dict[str, Any]
    etag: str


@dataclass(slots=True)
class PendingEvaluations:
    table: Any

    def add(self, key: str, message: dict[str, Any], preferred: bool, since: datetime,
            delay: timedelta = timedelta(0)) -> tuple[str, bool]:
        """Record that ``key`` is owed an evaluation. Returns (row id, whether its message must be sent): a new
        row, or an existing one whose message was never sent (a failed enqueue), needs one; a row already
        queued absorbs this notification (its generation is bumped; the message replaced when ``preferred``)."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        row = row_key(key)
        entity = {"PartitionKey": PARTITION, "RowKey": row, "Key": key, "Message": json.dumps(message),
                  "Preferred": preferred, "Since": since, "Due": since + delay + REDRIVE_AFTER, "Queued": False,
                  "Generation": 0, "Claims": 0}
        try:
            self.table.create_entity(entity)
            return row, True
        except ResourceExistsError:
            pass
        try:
            current = self.table.get_entity(partition_key=PARTITION, row_key=row)
        except ResourceNotFoundError:  # released in between: start afresh
            self.table.create_entity(entity)
            return row, True
        change: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": row,
                                  "Generation": int(current.get("Generation") or 0) + 1}
        if preferred and not current.get("Preferred"):  # the organiser's own copy is the one to gather from
            change.update(Message=json.dumps(message), Preferred=True)
        self.table.update_entity(change, mode=UpdateMode.MERGE)
        return row, not current.get("Queued")

    def queued(self, row: str, due: datetime) -> None:
        """The row's message is on the queue: the sweep leaves it alone until ``due``."""
        from azure.data.tables import UpdateMode

        self.table.update_entity({"PartitionKey": PARTITION, "RowKey": row, "Queued": True, "Due": due},
                                 mode=UpdateMode.MERGE)

    def claim(self, row: str, now: datetime) -> Claim | None:
        """Take the evaluation of ``row`` (the row stays until :meth:`release`); None when it is gone."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        for _ in range(5):
            try:
                current = self.table.get_entity(partition_key=PARTITION, row_key=row)
            except ResourceNotFoundError:
                return None
            try:
                answer = self.table.update_entity(
                    {"PartitionKey": PARTITION, "RowKey": row, "Claims": int(current.get("Claims") or 0) + 1,
                     "Due": now + REDRIVE_AFTER},
                    mode=UpdateMode.MERGE, etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                continue  # a notification was absorbed just now: read it again
            except ResourceNotFoundError:
                return None
            return Claim(row, json.loads(current["Message"]), str(answer["etag"]))
        raise RuntimeError("pending evaluation kept changing while being claimed")

    def release(self, claim: Claim) -> bool:
        """Delete the row if nothing changed since the claim; False when a notification arrived meanwhile (the
        row stays, and the caller schedules a fresh evaluation)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            self.table.delete_entity(partition_key=PARTITION, row_key=claim.row, etag=claim.etag,
                                     match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return False
        except ResourceNotFoundError:
            return True
        return True

    def overdue(self, now: datetime) -> list[str]:
        """Rows whose evaluation is owed and past due: never queued, or queued and not released in time."""
        rows = self.table.query_entities(query_filter="PartitionKey eq @p and Due lt @now",
                                         parameters={"p": PARTITION, "now": now}, select=["RowKey"])
        return [str(r["RowKey"]) for r in rows]

    def count(self) -> int:
        return sum(1 for _ in self.table.query_entities(query_filter="PartitionKey eq @p",
                                                        parameters={"p": PARTITION}, select=["RowKey"]))


@dataclass(slots=True)
class EventIndex:
    table: Any

    def put(self, mailbox: str, event_id: str, facts: MeetingFacts) -> None:
        entity = {"PartitionKey": row_key(f"{mailbox.lower()}|{event_id}"), "RowKey": facts.occurrence_id,
                  "Week": facts.week, "Start": datetime.fromtimestamp(facts.start, tz=UTC),
                  "Subject": facts.subject or ""}
        self.table.upsert_entity(entity)

    def occurrences(self, mailbox: str, event_id: str) -> list[MeetingFacts]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p",
                                         parameters={"p": row_key(f"{mailbox.lower()}|{event_id}")})
        return [MeetingFacts(row["RowKey"], row["Week"], row["Start"].timestamp(), None, row.get("Subject"),
                             mailbox, None, None) for row in rows]
