"""The pipeline's two working tables.

- ``Pending``: one row per coalescing key while its evaluation waits in the queue, so a burst of notifications
  about one lesson schedules one evaluation. The organiser's copy, when it arrives, replaces the message.
- ``EventIndex``: the organiser's event → the occurrences recorded from it, so a deletion (which can no longer
  be read from Graph) still resolves to the meeting-log entries to cancel.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.store.findings import MeetingFacts

PARTITION = "pending"


def row_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


@dataclass(slots=True)
class PendingEvaluations:
    table: Any

    def add(self, key: str, message: dict[str, Any], preferred: bool, since: datetime) -> str | None:
        """The row id of a new pending evaluation for ``key``; None when one is pending already (the message
        is replaced when this one is ``preferred``)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.data.tables import UpdateMode

        row = {"PartitionKey": PARTITION, "RowKey": row_key(key), "Key": key, "Message": json.dumps(message),
               "Preferred": preferred, "Since": since}
        try:
            self.table.create_entity(row)
        except ResourceExistsError:
            if preferred:  # the organiser's own copy is the one to gather from
                self.table.update_entity({"PartitionKey": PARTITION, "RowKey": row_key(key),
                                          "Message": json.dumps(message), "Preferred": True}, mode=UpdateMode.MERGE)
            return None
        return row_key(key)

    def take(self, pending: str) -> dict[str, Any] | None:
        """The message of pending row ``pending``, released; None when it is gone (already evaluated)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self.table.get_entity(partition_key=PARTITION, row_key=pending)
        except ResourceNotFoundError:
            return None
        message: dict[str, Any] = json.loads(row["Message"])
        self.table.delete_entity(partition_key=PARTITION, row_key=pending)
        return message


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
