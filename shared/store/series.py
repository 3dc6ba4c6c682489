"""The occurrences of each series as last expanded, so the next expansion can tell which ones vanished (moved or
cancelled) — and the tombstones of deleted or cancelled events, kept until their call records can have arrived.

``SeriesIndex``: one partition per series (organiser's mailbox and master id), one row per known occurrence key.
``Tombstones``: one partition per organiser, one row per occurrence; the event's facts (window, attendees,
organiser, join link, options) as read before it went, with the time after which it may be forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.occurrence_life import KnownOccurrence
from shared.store.pending import row_key

# Call records are created after a call ends and may be updated later
# (https://learn.microsoft.com/en-us/graph/changenotifications-for-callrecords); the first version can come up to
# about 150 minutes after the call (a figure not confirmed on a Learn page). A tombstone is kept 150 minutes after
# the scheduled end, plus 30 minutes for late notifications and a call that overran.
TOMBSTONE_SECONDS = 150 * 60 + 30 * 60


@dataclass(slots=True)
class SeriesIndex:
    table: Any

    @staticmethod
    def _partition(mailbox: str, master_id: str) -> str:
        return row_key(f"series|{mailbox.lower()}|{master_id}")

    def known(self, mailbox: str, master_id: str) -> list[KnownOccurrence]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p",
                                         parameters={"p": self._partition(mailbox, master_id)})
        return [KnownOccurrence(row["RowKey"], row["Week"], row["Start"].timestamp(), row.get("Subject") or None)
                for row in rows]

    def put(self, mailbox: str, master_id: str, occurrence: KnownOccurrence) -> None:
        self.table.upsert_entity({"PartitionKey": self._partition(mailbox, master_id),
                                  "RowKey": occurrence.occurrence_id, "Week": occurrence.week,
                                  "Start": datetime.fromtimestamp(occurrence.start, tz=UTC),
                                  "Subject": occurrence.subject or ""})

    def forget(self, mailbox: str, master_id: str, occurrence_id: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.table.delete_entity(partition_key=self._partition(mailbox, master_id), row_key=occurrence_id)
        except ResourceNotFoundError:
            return


@dataclass(slots=True)
class Tombstones:
    table: Any

    @staticmethod
    def _partition(organiser: str) -> str:
        return row_key(f"tomb|{organiser.lower()}")

    def keep(self, organiser: str, occurrence_id: str, event: dict[str, Any], meeting: dict[str, Any] | None,
             end: float, reason: str) -> None:
        """Keep a deleted or cancelled event's facts until its call record can no longer be late."""
        self.table.upsert_entity({"PartitionKey": self._partition(organiser), "RowKey": occurrence_id,
                                  "Event": json.dumps(event)[:30_000],
                                  "Meeting": json.dumps(meeting)[:30_000] if meeting else "",
                                  "Reason": reason[:200],
                                  "KeepUntil": datetime.fromtimestamp(end + TOMBSTONE_SECONDS, tz=UTC)})

    def events(self, organiser: str, now: float) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """The organiser's tombstoned events (and their meetings' options, when known) still kept at ``now``."""
        rows = self.table.query_entities(query_filter="PartitionKey eq @p",
                                         parameters={"p": self._partition(organiser)})
        out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for row in rows:
            if row["KeepUntil"].timestamp() < now:
                continue
            meeting = json.loads(row["Meeting"]) if row.get("Meeting") else None
            out.append((json.loads(row["Event"]), meeting))
        return out
