"""The composition root: the deployed app's services, built once per process from the app settings and reused
across invocations. It provides ``shared.ports.Runtime`` to the pipeline's pieces and builds them
(:class:`Pipeline`): the scheduler, the evaluator and the timers' upkeep, over one Graph session.

Cheap to import; each service is built on first use so a webhook invocation never pays for the Graph SDK.
Tests and the local runner install their own with :func:`use`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shared.policy.deployed import deployed_policy
from shared.policy.policyfile import Policy
from shared.settings import Settings, load_settings
from shared.store.connection import StorageConfig
from shared.store.queues import Queues
from shared.store.tables import RecordTables, Stores, open_record_tables, open_stores

if TYPE_CHECKING:
    from shared.evaluation import Evaluator
    from shared.graph.directory import ConsentSource
    from shared.graph.subscriptions import ReconcileReport
    from shared.records.retention import PurgeReport
    from shared.scheduling import Scheduler
    from shared.store.subscriptions import TableSubscriptionStore
    from shared.upkeep import Upkeep


@dataclass
class Runtime:
    settings: Settings
    storage: StorageConfig
    prefix: str = ""  # a separate set of tables and queues (tests, demo)
    graph_transport: Any = None  # injected by tests and the local runner; built from settings otherwise
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _stores: Stores | None = field(default=None, repr=False)
    _queues: Queues | None = field(default=None, repr=False)
    _subscriptions: TableSubscriptionStore | None = field(default=None, repr=False)
    _pipeline: Pipeline | None = field(default=None, repr=False)
    _records: RecordTables | None = field(default=None, repr=False)
    _policy: Policy | None = field(default=None, repr=False)
    consent: ConsentSource | None = None  # the consent register's table unless injected
    pipeline_options: dict[str, Any] = field(default_factory=dict)  # tests and the local runner
    create_storage: bool = True  # create the tables and container on first use (queues always are)
    _edge: Runtime | None = field(default=None, repr=False)

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
                self._stores = open_stores(self.storage, prefix=self.prefix, create=self.create_storage)
            return self._stores

    @property
    def policy(self) -> Policy:
        """The deployed policy, loaded once (relative to the app root, whatever the working directory)."""
        with self._lock:
            if self._policy is None:
                self._policy = deployed_policy(self.settings.policy_file)
            return self._policy

    @property
    def queues(self) -> Queues:
        with self._lock:
            if self._queues is None:
                self._queues = Queues(self.storage.queue_service(), create=True, prefix=self.prefix)
            return self._queues

    @property
    def edge(self) -> Runtime:
        """The same storage through quick clients (short timeouts, one retry) that create nothing: what the
        webhook and health use, so that storage being down is answered within Graph's 3 s (503)."""
        if self.storage.quick:
            return self
        with self._lock:
            if self._edge is None:
                self._edge = Runtime(self.settings, replace(self.storage, quick=True), prefix=self.prefix,
                                     consent=self.consent, create_storage=False)
            return self._edge

    @property
    def subscriptions(self) -> TableSubscriptionStore:
        """The clientState table, with the webhook's short-lived cache kept across invocations (one store for
        the webhook and the subscription manager, so a subscription created here is known at once)."""
        if self.create_storage:
            _ = self.stores  # the table exists
        edge = self.edge
        if edge is not self:
            return edge.subscriptions
        stores = self.stores
        with self._lock:
            if self._subscriptions is None:
                self._subscriptions = stores.subscriptions()
            return self._subscriptions

    @property
    def records(self) -> RecordTables:
        """The tables of ``shared/records`` (exemptions, consent, audit), opened once."""
        stores = self.stores
        with self._lock:
            if self._records is None:
                self._records = open_record_tables(stores.table_service, self.prefix)
            return self._records

    def consent_source(self) -> ConsentSource:
        if self.consent is None:
            from shared.records.audit import AuditLog
            from shared.records.consent import ConsentRegister, TableConsentSource

            tables = self.records
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
    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = Pipeline.build(self, **self.pipeline_options)
            return self._pipeline


@dataclass
class Pipeline:
    """The pipeline's pieces for one process, wired over one Graph session; the queue workers and timers of
    ``functions/`` call them."""

    scheduler: Scheduler
    evaluator: Evaluator
    upkeep: Upkeep

    @classmethod
    def build(cls, runtime: Runtime, *, graph_factory: Any = None, coalesce_seconds: int = 60,
              clock: Any = None, policy: Policy | None = None, on_new_findings: Any = None) -> Pipeline:
        """``graph_factory``, ``clock``, ``policy`` and ``on_new_findings``: for tests and the local stack."""
        import time

        from shared.evaluation import Evaluator
        from shared.graph.session import GraphSession, default_graph
        from shared.records.audit import AuditLog
        from shared.records.exemptions import ExemptionStore
        from shared.scheduling import Scheduler
        from shared.upkeep import Upkeep

        tick = clock or time.time
        session = GraphSession(runtime, graph_factory or default_graph)
        scheduler = Scheduler(runtime, session, coalesce_seconds=coalesce_seconds, clock=tick)

        def audit() -> AuditLog:
            return AuditLog(runtime.records.audit)

        def exemptions() -> ExemptionStore:
            return ExemptionStore(runtime.records.exemptions, audit())

        evaluator = Evaluator(runtime, session, scheduler, policy=policy or runtime.policy, exemptions=exemptions,
                              clock=tick, on_new_findings=on_new_findings)
        upkeep = Upkeep(runtime, session, scheduler, evaluator, audit=audit, clock=tick)
        evaluator.reconcile = upkeep.reconcile  # a coalesced reconcile arrives as owed work
        return cls(scheduler, evaluator, upkeep)

    @property
    def policy(self) -> Policy:
        return self.evaluator.policy

    def handle_notifications(self, payload: dict[str, Any]) -> int:
        return self.scheduler.handle_notifications(payload)

    def handle_evaluation(self, payload: dict[str, Any], attempt: int = 1) -> list[str]:
        return self.evaluator.handle_evaluation(payload, attempt)

    def sweep(self) -> int:
        return self.scheduler.sweep()

    def handle_lifecycle(self, payload: dict[str, Any]) -> list[str]:
        return self.upkeep.handle_lifecycle(payload)

    def ensure_subscriptions(self) -> ReconcileReport:
        return self.upkeep.ensure_subscriptions()

    def reconcile(self) -> int:
        return self.upkeep.reconcile()

    def preflight(self) -> int:
        return self.upkeep.preflight()

    def retention(self) -> PurgeReport:
        return self.upkeep.retention()


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
