"""The call-record index and the calendar delta links in a table (``shared.graph.index`` says why).

Call records: PartitionKey ``call|<meeting identity hash>``, RowKey the record id, with ``Start``/``End``; a
second row ``callid|<record id>`` says the id is known (reconcile asks which listed ids were never notified).
Delta links: PartitionKey ``delta``, RowKey the mailbox id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from shared.graph.index import IndexedCall, meeting_identity


def _meeting_key(join_url: str) -> str | None:
    identity = meeting_identity(join_url)
    return "call|" + hashlib.sha256(identity.encode()).hexdigest()[:40] if identity else None


def _safe(value: str) -> str:
    return "".join(c if c not in "/\\#?" and ord(c) >= 32 else "_" for c in value)


class TableCallRecordIndex:
    def __init__(self, table: Any) -> None:
        self.table = table

    async def note(self, record_id: str, join_url: str, start: datetime, end: datetime | None) -> None:
        partition = _meeting_key(join_url)
        if partition is None:
            return
        entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": _safe(record_id), "RecordId": record_id,
                                  "Start": start}
        if end is not None:
            entity["End"] = end
        self.table.upsert_entity(entity)
        self.table.upsert_entity({"PartitionKey": "callid", "RowKey": _safe(record_id)})

    async def on_meeting(self, join_url: str, lo: datetime, hi: datetime) -> list[IndexedCall]:
        partition = _meeting_key(join_url)
        if partition is None:
            return []
        rows = self.table.query_entities(query_filter="PartitionKey eq @p", parameters={"p": partition})
        calls = [IndexedCall(str(r["RecordId"]), r["Start"], r.get("End")) for r in rows
                 if isinstance(r.get("Start"), datetime)]
        return sorted((c for c in calls if lo <= c.start < hi), key=lambda c: c.start)

    async def known(self, record_ids: list[str]) -> set[str]:
        from azure.core.exceptions import ResourceNotFoundError

        found: set[str] = set()
        for rid in record_ids:
            try:
                self.table.get_entity(partition_key="callid", row_key=_safe(rid))
                found.add(rid)
            except ResourceNotFoundError:
                continue
        return found


class TableDeltaLinks:
    def __init__(self, table: Any) -> None:
        self.table = table

    async def get(self, mailbox: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self.table.get_entity(partition_key="delta", row_key=_safe(mailbox.lower()))
        except ResourceNotFoundError:
            return None
        link = row.get("Link")
        return str(link) if link else None

    async def put(self, mailbox: str, link: str) -> None:
        self.table.upsert_entity({"PartitionKey": "delta", "RowKey": _safe(mailbox.lower()), "Link": link})
