"""The admin tools' own tables, beside the pipeline's (``shared/store/tables.py``), with the same prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXEMPTIONS = "Exemptions"
CONSENT_REGISTER = "ConsentRegister"
CONSENT_LOG = "ConsentLog"
AUDIT = "AdminAudit"
ADMIN_TABLES = (EXEMPTIONS, CONSENT_REGISTER, CONSENT_LOG, AUDIT)


@dataclass(frozen=True, slots=True)
class AdminTables:
    exemptions: Any
    consent_register: Any
    consent_log: Any
    audit: Any


def open_admin_tables(table_service: Any, prefix: str = "", *, create: bool = True) -> AdminTables:
    """The admin tables of ``table_service`` (``Stores.table_service``); ``prefix`` as ``Stores.prefix``."""
    if create:
        for name in ADMIN_TABLES:
            table_service.create_table_if_not_exists(prefix + name)
    return AdminTables(*(table_service.get_table_client(prefix + name) for name in ADMIN_TABLES))
