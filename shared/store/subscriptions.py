"""Graph subscriptions and their clientState secrets, in a table.

The subscription manager stores a record (with its random clientState) *before* asking Graph for the
subscription, so the validation handshake and the first notifications find it. The webhook reads the table
through a short-lived cache and compares clientState values in constant time. An unknown subscription id
re-reads the table at most once every ``miss_refresh_seconds`` (a brand-new subscription is found within that
time; a flood of forged ids costs one read per interval, not one per item).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.graph.secrets import verify_client_state
from shared.graph.subscriptions import StoredSubscription, norm_resource
from shared.store.keys import finding_row_key

PARTITION = "subscription"


def _row(resource: str) -> str:
    return finding_row_key("subscription", norm_resource(resource), None)


def _when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _record(row: Any) -> StoredSubscription:
    return StoredSubscription(row["Resource"], row.get("ClientState") or "", row.get("SubscriptionId") or None,
                              _when(row.get("Expiration")), status=str(row.get("Status") or "pending"),
                              error_status=int(row.get("ErrorStatus") or 0) or None,
                              error_code=str(row.get("ErrorCode") or ""),
                              error_message=str(row.get("ErrorMessage") or ""),
                              failing_since=_when(row.get("FailingSince")), reason=str(row.get("Reason") or ""),
                              label=str(row.get("Label") or ""),
                              lifetime_minutes=int(row.get("LifetimeMinutes") or 0) or None)


class TableSubscriptionStore:
    def __init__(self, table: Any, *, cache_seconds: float = 30.0, miss_refresh_seconds: float = 2.0) -> None:
        self.table = table
        self.cache_seconds = cache_seconds
        self.miss_refresh_seconds = miss_refresh_seconds
        self._cache: tuple[float, list[StoredSubscription]] | None = None

    # The subscription manager's protocol (async; the table client is sync and fast).
    async def put(self, record: StoredSubscription) -> None:
        from azure.data.tables import UpdateMode

        entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": _row(record.resource),
                                  "Resource": record.resource, "ClientState": record.client_state,
                                  "SubscriptionId": record.subscription_id or ""}
        if record.expiration is not None:
            entity["Expiration"] = record.expiration
        entity.update({"Status": record.status, "ErrorStatus": record.error_status or 0,
                       "ErrorCode": record.error_code, "ErrorMessage": record.error_message[:2000],
                       "Reason": record.reason, "Label": record.label,
                       "LifetimeMinutes": record.lifetime_minutes or 0})
        if record.failing_since is not None:
            entity["FailingSince"] = record.failing_since
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        self._cache = None

    async def remove(self, resource: str) -> None:
        self.table.delete_entity(partition_key=PARTITION, row_key=_row(resource))
        self._cache = None

    async def all(self) -> list[StoredSubscription]:
        return self.records(fresh=True)

    def records(self, *, fresh: bool = False) -> list[StoredSubscription]:
        now = time.monotonic()
        if not fresh and self._cache is not None and now - self._cache[0] < self.cache_seconds:
            return self._cache[1]
        rows = self.table.query_entities(query_filter="PartitionKey eq @p", parameters={"p": PARTITION})
        records = [_record(row) for row in rows]
        self._cache = (now, records)
        return records

    def client_state_ok(self, subscription_id: str, received: str) -> bool:
        """For the webhook: the stored clientState of this subscription (or of one being created) matches."""
        for fresh in (False, True):  # a miss re-reads the table once: the subscription may be brand new
            if fresh and self._cache is not None and time.monotonic() - self._cache[0] < self.miss_refresh_seconds:
                break  # read moments ago: an unknown id stays unknown until the next interval
            records = self.records(fresh=fresh)
            for record in records:
                if record.subscription_id == subscription_id:
                    return verify_client_state(record.client_state, received)
            pending = [verify_client_state(r.client_state, received) for r in records if not r.subscription_id]
            if any(pending):
                return True
        return False
