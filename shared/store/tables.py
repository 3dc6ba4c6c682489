"""The storage layout, built from one :class:`StorageConfig`: every table of the app is named here.

- the pipeline's: findings, the meeting log, Graph subscriptions, state, pending evaluations, the event index,
  each series' known occurrences, the tombstones of deleted events, the options' snapshots;
- the records' (``shared/records``): exemptions, the consent register and its log, the audit log;
- the mail's (``shared/digest/store.py``): digests and alerts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from shared.store.connection import StorageConfig
from shared.store.evidence import CONTAINER, EvidenceStore
from shared.store.findings import FindingStore
from shared.store.graphindex import TableCallRecordIndex, TableDeltaLinks
from shared.store.meetings import MeetingLogStore
from shared.store.nudges import NudgeLedger
from shared.store.pending import EventIndex, PendingEvaluations
from shared.store.recorder import Recorder
from shared.store.series import SeriesIndex, Tombstones
from shared.store.snapshots import OptionSnapshots
from shared.store.state import StateStore
from shared.store.subscriptions import TableSubscriptionStore

FINDINGS = "Findings"
MEETINGS = "MeetingLog"
SUBSCRIPTIONS = "Subscriptions"
STATE = "State"
PENDING = "Pending"
EVENT_INDEX = "EventIndex"
GRAPH_INDEX = "GraphIndex"
SERIES_INDEX = "SeriesIndex"
TOMBSTONES = "Tombstones"
OPTION_SNAPSHOTS = "OptionSnapshots"
NUDGES = "Nudges"
TABLES = (FINDINGS, MEETINGS, SUBSCRIPTIONS, STATE, PENDING, EVENT_INDEX, GRAPH_INDEX, SERIES_INDEX, TOMBSTONES,
          OPTION_SNAPSHOTS, NUDGES)

EXEMPTIONS = "Exemptions"
CONSENT_REGISTER = "ConsentRegister"
CONSENT_LOG = "ConsentLog"
AUDIT = "AdminAudit"
RECORD_TABLES = (EXEMPTIONS, CONSENT_REGISTER, CONSENT_LOG, AUDIT)

DIGESTS = "Digests"
ALERTS = "Alerts"
MAIL_TABLES = (DIGESTS, ALERTS)

ALL_TABLES = TABLES + RECORD_TABLES + MAIL_TABLES


@dataclass(slots=True)
class Stores:
    findings: FindingStore
    meetings: MeetingLogStore
    evidence: EvidenceStore
    state: StateStore
    table_service: Any
    prefix: str = ""

    def subscriptions(self) -> TableSubscriptionStore:
        return TableSubscriptionStore(self.table_service.get_table_client(self.prefix + SUBSCRIPTIONS))

    @property
    def recorder(self) -> Recorder:
        return Recorder(self.findings, self.meetings, self.evidence)

    @property
    def pending(self) -> PendingEvaluations:
        return PendingEvaluations(self.table_service.get_table_client(self.prefix + PENDING))

    @property
    def call_record_index(self) -> TableCallRecordIndex:
        return TableCallRecordIndex(self.table_service.get_table_client(self.prefix + GRAPH_INDEX))

    @property
    def delta_links(self) -> TableDeltaLinks:
        return TableDeltaLinks(self.table_service.get_table_client(self.prefix + GRAPH_INDEX))

    @property
    def nudges(self) -> NudgeLedger:
        return NudgeLedger(self.table_service.get_table_client(self.prefix + NUDGES))

    @property
    def event_index(self) -> EventIndex:
        return EventIndex(self.table_service.get_table_client(self.prefix + EVENT_INDEX))

    @property
    def series(self) -> SeriesIndex:
        """Each series' known occurrence keys (``shared/store/series.py``)."""
        return SeriesIndex(self.table_service.get_table_client(self.prefix + SERIES_INDEX))

    @property
    def tombstones(self) -> Tombstones:
        """Deleted and cancelled events' facts, kept until their call records can have arrived."""
        return Tombstones(self.table_service.get_table_client(self.prefix + TOMBSTONES))

    @property
    def snapshots(self) -> OptionSnapshots:
        """Each occurrence's meeting options as read at each moment of its life."""
        return OptionSnapshots(self.table_service.get_table_client(self.prefix + OPTION_SNAPSHOTS))


@dataclass(frozen=True, slots=True)
class RecordTables:
    """The tables of ``shared/records``: exemptions, the consent register and its log, the audit log."""

    exemptions: Any
    consent_register: Any
    consent_log: Any
    audit: Any


def open_record_tables(table_service: Any, prefix: str = "", *, create: bool = True) -> RecordTables:
    """The record tables of ``table_service`` (``Stores.table_service``); ``prefix`` as ``Stores.prefix``."""
    if create:
        for name in RECORD_TABLES:
            table_service.create_table_if_not_exists(prefix + name)
    return RecordTables(*(table_service.get_table_client(prefix + name) for name in RECORD_TABLES))


def open_stores(config: StorageConfig, *, create: bool = True, prefix: str = "") -> Stores:
    """The stores of one storage account; ``prefix`` names a separate set of tables (tests, demo)."""
    tables = config.table_service()
    blobs = config.blob_service()
    container = f"{prefix.lower()}{CONTAINER}"
    if create:
        from azure.core.exceptions import ResourceExistsError

        for name in TABLES:
            tables.create_table_if_not_exists(prefix + name)
        with contextlib.suppress(ResourceExistsError):
            blobs.create_container(container)
    return Stores(FindingStore(tables.get_table_client(prefix + FINDINGS)),
                  MeetingLogStore(tables.get_table_client(prefix + MEETINGS)),
                  EvidenceStore(blobs.get_container_client(container)),
                  StateStore(tables.get_table_client(prefix + STATE)), tables, prefix)
