"""The fault sweep: a few lessons through the pipeline once cleanly, then once per fault point, each run failing
the k-th storage or Graph call of the evaluation path once (or killing the worker there), then re-driving as
the host would (redelivery after the visibility timeout, a fresh worker after a crash, the pending sweep).
Every run must end with the clean run's findings, meeting log, evidence and alerts, with no pending row and no
message left.

Faults are injected below our code: storage through an azure-core transport wrapper passed to the SDK clients
(with the SDKs' own retries off, so the failure reaches the pipeline), Graph through a wrapper around the HTTP
sender (a lost connection that outlasts the transport's own retries). Used by ``tests/e2e/test_faults.py`` (a
small sweep) and ``bench/faults.py`` (a larger one).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpTransport, RequestsTransport

from devtools.graphsim import GraphSimulator, Tenant
from devtools.localstack import WEEK_AFTER, group_ids
from devtools.runner import LocalRunner
from shared import runtime as runtime_module
from shared.digest.store import FINDING_PARTITION
from shared.graph.client import NO_ANSWER, TRANSIENT_RETRIES, Reply
from shared.graph.directory import StaticConsent
from shared.graph.session import Graph
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.store.connection import StorageConfig
from shared.store.pending import REDRIVE_AFTER
from shared.store.queues import NOTIFICATIONS, QUEUES, Queues, poison
from shared.store.tables import ALERTS

_prefixes = itertools.count()


class WorkerCrash(BaseException):
    """The worker process dies here (not an ``Exception``: nothing of ours catches it)."""


@dataclass
class Fault:
    """Counts the calls of the evaluation path while armed; fails (or crashes at) call number ``at``."""

    at: int | None = None
    crash: bool = False
    armed: bool = False
    calls: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    fired: str | None = None
    _graph_url: str | None = None
    _graph_left: int = 0
    match: str | None = None  # instead of ``at``: the first call matching this regex ("storage POST http…")

    def step(self, kind: str, what: str = "") -> bool:
        """True when this call is the one to fail (crashes raise here)."""
        if not self.armed:
            return False
        self.calls += 1
        self.kinds[kind] += 1
        if self.match is not None:
            if self.fired is not None or not re.search(self.match, f"{kind} {what}"):
                return False
        elif self.calls != self.at:
            return False
        self.fired = kind
        if self.crash:
            raise WorkerCrash(f"worker killed at {kind} call {self.calls}")
        return True


@dataclass
class Periodic(Fault):
    """Faults spread over a whole run: every ``every[kind]``-th call of that kind (``storage``, ``graph``) fails
    once, for as long as the fault is armed (a long run on a moving clock, where a sweep point by point would
    replay it hundreds of times). ``failed`` counts the failures injected."""

    every: dict[str, int] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)

    def step(self, kind: str, what: str = "") -> bool:
        if not self.armed:
            return False
        self.calls += 1
        self.kinds[kind] += 1
        stride = self.every.get(kind)
        if not stride or self.kinds[kind] % stride:
            return False
        self.fired = kind
        self.failed[kind] += 1
        return True


class FaultTransport(HttpTransport):  # type: ignore[type-arg]
    """An azure-core transport that fails the storage call the fault names."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.inner = RequestsTransport()

    def send(self, request: Any, **kwargs: Any) -> Any:
        if self.fault.step("storage", f"{request.method} {request.url}"):
            raise ServiceRequestError("injected storage fault: connection reset")
        return self.inner.send(request, **kwargs)

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> FaultTransport:
        self.inner.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        return None  # shared by every client of the run: closed with the run


class FaultSender:
    """Wraps the Graph sender: the failed call loses its connection, and so do the transport's own retries of
    that request, so the failure reaches the queue."""

    def __init__(self, inner: Any, fault: Fault) -> None:
        self.inner = inner
        self.fault = fault

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        fault = self.fault
        if fault._graph_left and url == fault._graph_url:
            fault._graph_left -= 1
            return Reply(NO_ANSWER, {}, {"error": {"message": "injected: connection lost"}})
        if fault.step("graph", f"{method} {url}"):
            fault._graph_url, fault._graph_left = url, TRANSIENT_RETRIES
            return Reply(NO_ANSWER, {}, {"error": {"message": "injected: connection lost"}})
        reply: Reply = await self.inner.send(method, url, headers, body)
        return reply


def graph_factory(sim: GraphSimulator, fault: Fault) -> Any:
    async def build(runtime: Runtime) -> Graph:
        from shared.graph.client import GraphTransport, connect
        from shared.graph.gateway import GraphGateway
        from shared.graph.subscriptions import SubscriptionManager

        connection = connect(sim.base_url)
        transport = GraphTransport(FaultSender(connection.sender(), fault), sim.base_url, retry_budget_seconds=5.0,
                                   backoff_seconds=0.0)
        gateway = GraphGateway.from_settings(transport, runtime.settings, runtime.consent_source(),
                                             now=lambda: WEEK_AFTER)
        manager = SubscriptionManager(transport, runtime.subscriptions, notification_url=runtime.notification_url(),
                                      lifecycle_url=runtime.lifecycle_url(), include_adhoc_calls=False,
                                      monitor_pupil_mailboxes=False, now=lambda: datetime.now(UTC))
        return Graph(transport, gateway, manager)

    return build


@dataclass(frozen=True)
class Picture:
    """What a run leaves: compared with the clean run's."""

    findings: tuple[tuple[str, str, str, str, str], ...]
    meetings: tuple[tuple[str, str, int, bool], ...]
    evidence: tuple[str, ...]
    alerts: tuple[str, ...]
    pending: int
    messages: int

    def lost_findings(self, clean: Picture) -> int:
        return len(set(clean.findings) - set(self.findings))


@dataclass
class SweepReport:
    points: int = 0
    equal: int = 0
    lost: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    differing: list[str] = field(default_factory=list)


class Sweep:
    """One simulator and one Azurite for every run; each run has its own tables and queues."""

    def __init__(self, connection_string: str, functions: Iterable[Any], tenant: Tenant,
                 lessons: list[dict[str, Any]]) -> None:
        self.connection_string = connection_string
        self.functions = list(functions)
        self.tenant = tenant
        self.lessons = lessons
        self.sim = GraphSimulator(tenant)
        self.settings = load_settings({
            "VCAUDIT_TENANT_ID": tenant.tenant_id,
            "VCAUDIT_STAFF_GROUP_IDS": group_ids(tenant, "All Staff"),
            "VCAUDIT_PUPIL_GROUP_IDS": group_ids(tenant, "All Pupils"),
            "VCAUDIT_CLASS_TEAM_IDS": ",".join(tenant.teams),
            "VCAUDIT_GRAPH_BASE_URL": "http://127.0.0.1:1",
            "VCAUDIT_WEBHOOK_BASE_URL": "http://127.0.0.1:1/api",
            "VCAUDIT_MONITOR_PUPIL_MAILBOXES": "false",
            "VCAUDIT_DIGEST_SENDER": "vcaudit@elmgrove.example",
            "VCAUDIT_DIGEST_RECIPIENTS": "dsl:dsl@elmgrove.example",
        })

    def __enter__(self) -> Sweep:
        self.sim.start()
        return self

    def __exit__(self, *args: Any) -> None:
        runtime_module.use(None)
        self.sim.stop()

    def _runtime(self, prefix: str, fault: Fault, clock: Callable[[], float]) -> Runtime:
        storage = StorageConfig(connection_string=self.connection_string,
                                options={"transport": FaultTransport(fault), "retry_total": 0})
        value = Runtime(self.settings, storage, prefix=prefix, consent=StaticConsent(frozenset(self.tenant.consent)))
        value.pipeline_options = {"graph_factory": graph_factory(self.sim, fault), "coalesce_seconds": 0,
                                  "clock": clock}
        runtime_module.use(value)
        return value

    def _items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for occ in self.lessons:
            if occ["eventId"]:
                items.append({"resource": f"Users/{occ['mailbox']}/Events/{occ['eventId']}", "changeType": "updated"})
            items.extend({"resource": f"communications/callRecords/{rid}", "changeType": "created"}
                         for rid in occ["callRecordIds"])
        base = {"subscriptionId": "sweep", "tenantId": self.tenant.tenant_id, "receivedAt": WEEK_AFTER.isoformat()}
        return [base | item for item in items]

    def run(self, fault: Fault) -> Picture:
        """The lessons' notifications through the workers with ``fault`` armed, then re-driven as the host
        would until nothing is owed."""
        prefix = f"fs{next(_prefixes)}x"
        now = [WEEK_AFTER.timestamp()]
        value = self._runtime(prefix, fault, lambda: now[0])
        host = Queues(StorageConfig(connection_string=self.connection_string).queue_service(), create=True,
                      prefix=prefix)  # the host's own queue reads are not the evaluation path's calls
        runner = LocalRunner(self.functions, host)
        runner.retry_delay = 0
        host.send(NOTIFICATIONS, {"kind": "notifications", "items": self._items()})
        fault.armed = True
        try:
            runner.drain_all()
        except WorkerCrash:
            pass
        finally:
            fault.armed = False
        for _ in range(3):  # the host: leases run out, a fresh worker takes over, the sweep re-drives
            runner.expire_leases()
            value = self._runtime(prefix, Fault(), lambda: now[0])
            runner = LocalRunner(self.functions, host)
            runner.retry_delay = 0
            runner.drain_all()
            now[0] += REDRIVE_AFTER.total_seconds() + 60
            if not value.pipeline.sweep():
                break
            runner.drain_all()
        return self.picture(value)

    def picture(self, value: Runtime) -> Picture:
        stores = value.stores
        findings = sorted((r["OccurrenceId"], r["Rule"], r.get("Subject", ""), r.get("Severity", ""),
                           r.get("MachineState", "")) for r in stores.findings.table.list_entities())
        meetings = sorted((r["RowKey"], str(r.get("Stages", "")), int(r.get("FindingsCount") or 0),
                           bool(r.get("Cancelled"))) for r in stores.meetings.table.list_entities())
        evidence = sorted(b.name for b in stores.evidence.container.list_blobs())
        alerts = sorted(r["RowKey"] for r in _rows(stores.table_service.get_table_client(value.prefix + ALERTS))
                        if r["PartitionKey"] == FINDING_PARTITION)
        messages = 0
        for name in QUEUES:
            for queue in (name, poison(name)):
                messages += len(value.queues.client(queue).peek_messages(max_messages=32))
        return Picture(tuple(findings), tuple(meetings), tuple(evidence), tuple(alerts), stores.pending.count(),
                       messages)

    def sweep(self, *, stride: int = 1, crashes: bool = True,
              progress: Callable[[SweepReport], None] | None = None) -> tuple[Picture, SweepReport]:
        counting = Fault()
        clean = self.run(counting)
        report = SweepReport()
        modes = (False, True) if crashes else (False,)
        for crash in modes:
            for k in range(1, counting.calls + 1, stride):
                fault = Fault(at=k, crash=crash)
                picture = self.run(fault)
                report.points += 1
                report.by_kind[("crash " if crash else "fail ") + (fault.fired or "none")] += 1
                report.lost += picture.lost_findings(clean)
                if picture == clean:
                    report.equal += 1
                else:
                    report.differing.append(f"{'crash' if crash else 'fail'} at call {k} ({fault.fired})")
                if progress is not None:
                    progress(report)
        report.by_kind["calls in the clean run"] = counting.calls
        return clean, report


def _rows(table: Any) -> list[dict[str, Any]]:
    """Every row of a table; none when the table was never created (no alert was ever registered)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return list(table.list_entities())
    except ResourceNotFoundError:
        return []
