"""Everything the admin tools work on, opened once: the pipeline's stores plus the admin tables."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.admin.audit import AuditLog
from shared.admin.consent import ConsentRegister, TableConsentSource
from shared.admin.exemptions import ExemptionStore
from shared.admin.tables import AdminTables, open_admin_tables
from shared.store.tables import Stores


@dataclass(slots=True)
class Admin:
    stores: Stores
    tables: AdminTables
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
    return Admin(stores, open_admin_tables(stores.table_service, stores.prefix, create=create), zone)
