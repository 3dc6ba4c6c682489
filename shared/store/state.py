"""Small pieces of pipeline state: when the last notification arrived, drop counters, watermarks and delta
links, when reconcile and the digest last ran. One table, one row per fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

PARTITION = "state"


class StateStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return dict(self.table.get_entity(partition_key=PARTITION, row_key=name))
        except ResourceNotFoundError:
            return None

    def put(self, name: str, **values: Any) -> None:
        from azure.data.tables import UpdateMode

        self.table.upsert_entity({"PartitionKey": PARTITION, "RowKey": name, **values}, mode=UpdateMode.MERGE)

    def stamp(self, name: str, when: datetime | None = None, **values: Any) -> None:
        self.put(name, At=when or datetime.now(tz=UTC), **values)

    def add(self, name: str, counts: dict[str, int]) -> None:
        """Add to named counters (ETag-guarded read-modify-write; a lost race retries)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        for _ in range(5):
            try:
                entity = self.table.get_entity(partition_key=PARTITION, row_key=name)
            except ResourceNotFoundError:
                try:
                    self.table.create_entity({"PartitionKey": PARTITION, "RowKey": name,
                                              "Counts": json.dumps(counts, sort_keys=True)})
                    return
                except ResourceExistsError:
                    continue
            current = json.loads(entity.get("Counts") or "{}")
            for key, value in counts.items():
                current[key] = int(current.get(key, 0)) + value
            try:
                self.table.update_entity({"PartitionKey": PARTITION, "RowKey": name,
                                          "Counts": json.dumps(current, sort_keys=True)}, mode=UpdateMode.MERGE,
                                         etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                return
            except ResourceModifiedError:
                continue

    def counts(self, name: str) -> dict[str, int]:
        row = self.get(name)
        return json.loads(row["Counts"]) if row and row.get("Counts") else {}
