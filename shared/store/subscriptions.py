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


class TableSubscriptionStore:
    def __init__(self, table: Any, *, cache_seconds: float = 30.0, miss_refresh_seconds: float = 2.0) -> None:
        self.table = table
        self.cache_seconds = cache_seconds
        self.miss_refresh_seconds = miss_refresh_seconds
        self._cache: tuple[float, list[StoredSubscription]] | None = None

    # The subscription manager's protocol (async; the table client is sync and fast).
    async def put(self, record: StoredSubscription) -> None:
        entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": _row(record.resource),
                                  "Resource": record.resource, "ClientState": record.client_state,
                                  "SubscriptionId": record.subscription_id or ""}
        if record.expiration is not None:
            entity["Expiration"] = record.expiration
        self.table.upsert_entity(entity)
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
        records = [StoredSubscription(row["Resource"], row["ClientState"], row.get("SubscriptionId") or None,
                                      row.get("Expiration") if isinstance(row.get("Expiration"), datetime) else None)
                   for row in rows]
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
