"""Everything the admin tools work on, opened once: the pipeline's stores plus the record tables."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.records.audit import AuditLog
from shared.records.consent import ConsentRegister, TableConsentSource
from shared.records.exemptions import ExemptionStore
from shared.store.tables import RecordTables, Stores, open_record_tables


@dataclass(slots=True)
class Admin:
    stores: Stores
    tables: RecordTables
    zone: ZoneInfo

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.tables.audit)

    @property
    def exemptions(self) -> ExemptionStore:
        return ExemptionStore(self.tables.exemptions, self.audit)

    @property
    def consent(self) -> ConsentRegister:
        return ConsentRegister(self.tables.consent_register, self.tables.consent_log, self.audit)

    def consent_source(self) -> TableConsentSource:
        return TableConsentSource(self.consent)


def open_admin(stores: Stores, zone: ZoneInfo, *, create: bool = True) -> Admin:
    return Admin(stores, open_record_tables(stores.table_service, stores.prefix, create=create), zone)
