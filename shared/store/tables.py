"""The storage layout, built from one :class:`StorageConfig`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from shared.store.connection import StorageConfig
from shared.store.evidence import CONTAINER, EvidenceStore
from shared.store.findings import FindingStore
from shared.store.meetings import MeetingLogStore
from shared.store.recorder import Recorder
from shared.store.state import StateStore
from shared.store.subscriptions import TableSubscriptionStore

FINDINGS = "Findings"
MEETINGS = "MeetingLog"
SUBSCRIPTIONS = "Subscriptions"
STATE = "State"
TABLES = (FINDINGS, MEETINGS, SUBSCRIPTIONS, STATE)


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
