"""The deployed app's services, built once per process from the app settings and reused across invocations.

Cheap to import; each service is built on first use so a webhook invocation never pays for the Graph SDK.
Tests and the local runner install their own with :func:`use`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.settings import Settings, load_settings
from shared.store.connection import StorageConfig
from shared.store.queues import Queues
from shared.store.tables import Stores, open_stores


@dataclass
class Runtime:
    settings: Settings
    storage: StorageConfig
    prefix: str = ""  # a separate set of tables and queues (tests, demo)
    graph_transport: Any = None  # injected by tests and the local runner; built from settings otherwise
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stores: Stores | None = field(default=None, repr=False)
    _queues: Queues | None = field(default=None, repr=False)
    _subscriptions: Any = field(default=None, repr=False)
    _pipeline: Any = field(default=None, repr=False)
    consent: Any = None  # a ConsentSource; the consent register's table unless injected
    pipeline_options: dict[str, Any] = field(default_factory=dict)  # tests and the local runner

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Runtime:
        env = os.environ if env is None else env
        settings = load_settings(env)
        settings.require_complete()
        return cls(settings, StorageConfig.from_env(env))

    @property
    def stores(self) -> Stores:
        with self._lock:
            if self._stores is None:
                self._stores = open_stores(self.storage, prefix=self.prefix)
            return self._stores

    @property
    def queues(self) -> Queues:
        with self._lock:
            if self._queues is None:
                self._queues = Queues(self.storage.queue_service(), create=True, prefix=self.prefix)
            return self._queues

    @property
    def subscriptions(self) -> Any:
        """The clientState table, with the webhook's short-lived cache kept across invocations."""
        stores = self.stores
        with self._lock:
            if self._subscriptions is None:
                self._subscriptions = stores.subscriptions()
            return self._subscriptions


    def consent_source(self) -> Any:
        if self.consent is None:
            from shared.admin.audit import AuditLog
            from shared.admin.consent import ConsentRegister, TableConsentSource
            from shared.admin.tables import open_admin_tables

            tables = open_admin_tables(self.stores.table_service, self.prefix)
            register = ConsentRegister(tables.consent_register, tables.consent_log, AuditLog(tables.audit))
            self.consent = TableConsentSource(register)
        return self.consent

    def _webhook(self, route: str) -> str:
        base = self.settings.webhook_base_url
        if not base:
            raise RuntimeError("VCAUDIT_WEBHOOK_BASE_URL is not set: Graph subscriptions cannot be managed")
        key = f"?code={self.settings.webhook_key}" if self.settings.webhook_key else ""
        return f"{base}/{route}{key}"

    def notification_url(self) -> str:
        return self._webhook("graph/notifications")

    def lifecycle_url(self) -> str:
        return self._webhook("graph/lifecycle")

    @property
    def pipeline(self) -> Any:
        with self._lock:
            if self._pipeline is None:
                from shared.pipeline import Pipeline

                self._pipeline = Pipeline(self, **self.pipeline_options)
            return self._pipeline


_current: Runtime | None = None
_current_lock = threading.Lock()


def runtime() -> Runtime:
    global _current
    with _current_lock:
        if _current is None:
            _current = Runtime.from_env()
        return _current


def use(value: Runtime | None) -> None:
    """Install the runtime the functions use (tests, the local runner); None: back to the app settings."""
    global _current
    with _current_lock:
        _current = value
