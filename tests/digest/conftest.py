"""Fixtures for the digest and alert tests: stores on Azurite, settings with recipients, a recording mail sender,
and the sample week recorded through ``Stores.recorder`` as the evaluation worker would."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from devtools.azurite import Azurite
from devtools.digest_preview import bundles, facts
from shared.digest.collect import MailContext
from shared.digest.mail import Outcome, SendResult
from shared.graph.subscriptions import StoredSubscription
from shared.settings import Settings, load_settings
from shared.store.connection import StorageConfig
from shared.store.queues import Queues
from shared.store.tables import Stores, open_stores

T = TypeVar("T")
TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
GROUP = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
DSL = "dsl@elmgrove.sch.uk"
GOVERNOR = "governor@elmgrove.sch.uk"
SENDER = "vcaudit@elmgrove.sch.uk"
WEEK = "2026-W47"
MONDAY_AFTER = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)  # 07:05 GMT, the Monday after the sample week


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_settings(**extra: str) -> Settings:
    env = {"VCAUDIT_TENANT_ID": TENANT, "VCAUDIT_STAFF_GROUP_IDS": GROUP, "VCAUDIT_PUPIL_GROUP_IDS": GROUP,
           "VCAUDIT_DIGEST_RECIPIENTS": f"dsl:{DSL};governor:{GOVERNOR}", "VCAUDIT_DIGEST_SENDER": SENDER,
           "VCAUDIT_WEB_BASE_URL": "https://vcaudit.example/api/desk"}
    env.update(extra)
    return load_settings(env)


@dataclass
class FakeMailer:
    """Records every message; answers with the scripted outcomes in turn, then "accepted without id"."""

    outcomes: list[Outcome] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any], Outcome]] = field(default_factory=list)

    async def send_mail(self, sender: str, message: dict[str, Any]) -> SendResult:
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.ACCEPTED_WITHOUT_ID
        self.sent.append((sender, copy.deepcopy(message), outcome))
        return SendResult(outcome, detail=f"fake {outcome.value}")

    def accepted(self) -> list[dict[str, Any]]:
        return [m for _, m, o in self.sent if o in (Outcome.ACCEPTED_WITH_ID, Outcome.ACCEPTED_WITHOUT_ID)]

    def to(self, address: str) -> list[dict[str, Any]]:
        return [m for _, m, _ in self.sent
                if address in [r["emailAddress"]["address"] for r in m["toRecipients"]]]


@pytest.fixture
def stores(azurite: Azurite, storage_prefix: str) -> Stores:
    return open_stores(StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def make_ctx(stores: Stores, mailer: FakeMailer) -> Callable[..., MailContext]:
    def build(settings: Settings | None = None, *, healthy_monitoring: bool = True) -> MailContext:
        ctx = MailContext.open(stores, settings or make_settings(), mailer=mailer)
        if healthy_monitoring:
            watch(stores, expires=MONDAY_AFTER + timedelta(days=400))
        return ctx

    return build


def watch(stores: Stores, *, expires: datetime, notified: datetime | None = None) -> None:
    """Monitoring as the live pipeline leaves it: a subscription, and a notification recently."""
    run(stores.subscriptions().put(StoredSubscription("/communications/callRecords", "s" * 40, "sub-1", expires)))
    stores.state.stamp("last-notification", notified or MONDAY_AFTER - timedelta(hours=2), Count=1)


def record_week(stores: Stores, names: Iterable[str] | None = None,
                change: Callable[[str, dict[str, Any]], None] | None = None, *,
                shift_days: int = 0) -> dict[str, list[str]]:
    """Record sample bundles (all, or those named); returns each bundle's new finding ids."""
    wanted = set(names) if names is not None else None
    new: dict[str, list[str]] = {}
    for name, bundle in bundles():
        if wanted is not None and name not in wanted:
            continue
        if change is not None:
            change(name, bundle)
        meeting, evaluation = facts(name, bundle, shift_days)
        outcome = stores.recorder.record(meeting, evaluation, bundle, now=meeting.start + 3 * 3600)
        new[name] = outcome.new_findings
    return new


@pytest.fixture
def azurite_queues(azurite: Azurite, storage_prefix: str) -> Queues:
    config = StorageConfig.from_connection_string(azurite.connection_string)
    return Queues(config.queue_service(), create=True, prefix=storage_prefix)
