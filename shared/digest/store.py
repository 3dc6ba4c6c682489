"""The digests table and the alerts table: what was sent, to whom, and what is still to send.

**Digests** (one row per week and recipient): ``sending`` is written *before* Graph is called, with an ETag
guard, so two timer firings never both send; then ``sent``, ``failed`` (a clear refusal: retried at the next
firing) or ``unconfirmed`` (no clear answer: never sent again automatically, raised in monitoring health).
A ``sending`` row older than ``STALE_SENDING`` means the worker died mid-call: it becomes ``unconfirmed``.

**Alerts**: one row per high finding (partition ``finding``: ``pending`` → ``sending`` → ``sent`` | ``held``
(the daily cap) | ``unconfirmed``), and one row per alert email (partition = the school's local date, row =
the quarter hour): creating that row reserves the quarter hour, so at most one alert email goes out per
quarter hour and the day's rows count against the daily cap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.store.tables import ALERTS, DIGESTS

STALE_SENDING = timedelta(minutes=30)
WEEK_ROW = "week"  # per-week facts: the health counters seen when the digest went out
FINDING_PARTITION = "finding"

SENDING, SENT, FAILED, UNCONFIRMED = "sending", "sent", "failed", "unconfirmed"
PENDING, HELD = "pending", "held"


def recipient_row(address: str) -> str:
    return "to-" + hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DigestRecord:
    week: str
    address: str
    role: str
    status: str
    attempts: int
    started: datetime | None
    finished: datetime | None
    detail: str
    etag: str | None

    @classmethod
    def from_entity(cls, entity: Any) -> DigestRecord:
        return cls(entity["PartitionKey"], entity.get("Address", ""), entity.get("Role", ""), entity.get("Status", ""),
                   int(entity.get("Attempts", 0)), entity.get("StartedAt"), entity.get("FinishedAt"),
                   entity.get("Detail", ""), getattr(entity, "metadata", {}).get("etag"))


class DigestStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, week: str, address: str) -> DigestRecord | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return DigestRecord.from_entity(self.table.get_entity(partition_key=week, row_key=recipient_row(address)))
        except ResourceNotFoundError:
            return None

    def records(self, week: str) -> list[DigestRecord]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @w", parameters={"w": week})
        return [DigestRecord.from_entity(r) for r in rows if r["RowKey"] != WEEK_ROW]

    def claim(self, week: str, address: str, role: str, now: datetime, *, force: bool = False) -> DigestRecord | None:
        """Record "sending" for (week, recipient) before the send; None when it must not be sent now.

        Absent or ``failed``: claimed. ``sent`` or ``unconfirmed``: never again (unless ``force``: a person asked).
        ``sending``: another firing is on it, or died mid-call (older than ``STALE_SENDING``: marked unconfirmed).
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        for _ in range(3):
            current = self.get(week, address)
            entity = {"PartitionKey": week, "RowKey": recipient_row(address), "Address": address, "Role": role,
                      "Status": SENDING, "StartedAt": now, "Detail": ""}
            try:
                if current is None:
                    entity["Attempts"] = 1
                    self.table.create_entity(entity)
                    return self.get(week, address)
                if current.status == SENDING and not force:
                    if current.started is not None and now - current.started > STALE_SENDING:
                        self._mark(current, UNCONFIRMED, now, "the sending worker stopped before Graph answered")
                    return None
                if current.status in (SENT, UNCONFIRMED) and not force:
                    return None
                entity["Attempts"] = current.attempts + 1
                self.table.update_entity(entity, mode=UpdateMode.MERGE, etag=current.etag,
                                         match_condition=MatchConditions.IfNotModified)
                return self.get(week, address)
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another firing moved first: look again
        return None

    def _mark(self, record: DigestRecord, status: str, now: datetime, detail: str) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError
        from azure.data.tables import UpdateMode

        try:
            self.table.update_entity({"PartitionKey": record.week, "RowKey": recipient_row(record.address),
                                      "Status": status, "FinishedAt": now, "Detail": detail[:1000]},
                                     mode=UpdateMode.MERGE, etag=record.etag,
                                     match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return

    def finish(self, record: DigestRecord, status: str, now: datetime, detail: str = "", **extra: Any) -> None:
        from azure.data.tables import UpdateMode

        self.table.update_entity({"PartitionKey": record.week, "RowKey": recipient_row(record.address),
                                  "Status": status, "FinishedAt": now, "Detail": detail[:1000], **extra},
                                 mode=UpdateMode.MERGE)

    def problems(self, weeks: Iterable[str]) -> list[DigestRecord]:
        return [r for week in weeks for r in self.records(week) if r.status in (FAILED, UNCONFIRMED, SENDING)]

    def save_week(self, week: str, counters: dict[str, Any]) -> None:
        from azure.data.tables import UpdateMode

        self.table.upsert_entity({"PartitionKey": week, "RowKey": WEEK_ROW,
                                  "Counters": json.dumps(counters, sort_keys=True)}, mode=UpdateMode.MERGE)

    def week_counters(self, week: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self.table.get_entity(partition_key=week, row_key=WEEK_ROW)
        except ResourceNotFoundError:
            return None
        value = json.loads(entity.get("Counters") or "{}")
        return value if isinstance(value, dict) else None


# ---------------------------------------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class AlertRow:
    finding_id: str
    week: str
    status: str
    slot: str
    registered: datetime | None
    etag: str | None

    @classmethod
    def from_entity(cls, entity: Any) -> AlertRow:
        return cls(entity["RowKey"], entity.get("Week", ""), entity.get("Status", ""), entity.get("Slot", ""),
                   entity.get("RegisteredAt"), getattr(entity, "metadata", {}).get("etag"))


class AlertStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def register(self, finding_id: str, week: str, now: datetime) -> bool:
        """A new high finding; False when it was known already (never alerted twice)."""
        from azure.core.exceptions import ResourceExistsError

        try:
            self.table.create_entity({"PartitionKey": FINDING_PARTITION, "RowKey": finding_id, "Week": week,
                                      "Status": PENDING, "RegisteredAt": now})
            return True
        except ResourceExistsError:
            return False

    def get(self, finding_id: str) -> AlertRow | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return AlertRow.from_entity(self.table.get_entity(partition_key=FINDING_PARTITION, row_key=finding_id))
        except ResourceNotFoundError:
            return None

    def with_status(self, status: str) -> list[AlertRow]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p and Status eq @s",
                                         parameters={"p": FINDING_PARTITION, "s": status})
        return sorted((AlertRow.from_entity(r) for r in rows), key=lambda a: (a.registered or datetime.min.replace(
            tzinfo=UTC), a.finding_id))

    def held(self, week: str) -> list[str]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p and Week eq @w and Status eq @s",
                                         parameters={"p": FINDING_PARTITION, "w": week, "s": HELD})
        return [r["RowKey"] for r in rows]

    def move(self, row: AlertRow, status: str, now: datetime, slot: str = "") -> bool:
        """ETag-guarded status change; False when someone else changed the row first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError
        from azure.data.tables import UpdateMode

        try:
            self.table.update_entity({"PartitionKey": FINDING_PARTITION, "RowKey": row.finding_id, "Status": status,
                                      "Slot": slot or row.slot, "ChangedAt": now}, mode=UpdateMode.MERGE,
                                     etag=row.etag, match_condition=MatchConditions.IfNotModified)
            return True
        except ResourceModifiedError:
            return False

    def set_status(self, finding_ids: Iterable[str], status: str, now: datetime) -> None:
        from azure.data.tables import UpdateMode

        for fid in finding_ids:
            self.table.update_entity({"PartitionKey": FINDING_PARTITION, "RowKey": fid, "Status": status,
                                      "ChangedAt": now}, mode=UpdateMode.MERGE)

    # one row per alert email: partition = local date, row = the quarter hour
    def reserve_slot(self, day: str, slot: str, now: datetime) -> bool:
        from azure.core.exceptions import ResourceExistsError

        try:
            self.table.create_entity({"PartitionKey": day, "RowKey": slot, "Status": SENDING, "StartedAt": now})
            return True
        except ResourceExistsError:
            return False

    def finish_slot(self, day: str, slot: str, status: str, findings: list[str], detail: str = "") -> None:
        from azure.data.tables import UpdateMode

        self.table.update_entity({"PartitionKey": day, "RowKey": slot, "Status": status,
                                  "Findings": json.dumps(findings), "Detail": detail[:1000]}, mode=UpdateMode.MERGE)

    def emails_on(self, day: str) -> int:
        """Alert emails that went out (or may have) on a local date: the daily cap counts these."""
        rows = self.table.query_entities(query_filter="PartitionKey eq @d", parameters={"d": day})
        return sum(1 for r in rows if r.get("Status") in (SENDING, SENT, UNCONFIRMED))


def open_mail_stores(table_service: Any, prefix: str = "", *, create: bool = True) -> tuple[DigestStore, AlertStore]:
    """The digests and alerts tables of a storage account (``Stores.table_service``), with the stores' prefix."""
    if create:
        for name in (DIGESTS, ALERTS):
            table_service.create_table_if_not_exists(prefix + name)
    return (DigestStore(table_service.get_table_client(prefix + DIGESTS)),
            AlertStore(table_service.get_table_client(prefix + ALERTS)))
