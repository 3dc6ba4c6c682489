"""The whole pipeline on the local stack: the Graph simulator over HTTP, Azurite, and the local runner serving
the registered functions (webhooks over HTTP, queue workers, timers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import GraphSimulator, Tenant, generate
from devtools.localstack import graph_factory, group_ids
from devtools.runner import LocalRunner
from shared import runtime as runtime_module
from shared.graph.directory import StaticConsent
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.store.connection import StorageConfig

WEEK_AFTER = datetime(2026, 3, 16, 12, tzinfo=UTC)  # the generated week (9-13 March 2026) is over


@dataclass
class Stack:
    tenant: Tenant
    sim: GraphSimulator
    runtime: Runtime
    runner: LocalRunner
    gathers: list[str]

    def deliver(self) -> int:
        """Let the local host work off every queue, as the Functions host would."""
        return self.runner.drain_all()


@pytest.fixture(scope="module")
def school() -> Tenant:
    return generate.primary_school(seed=1)


def at(stack: Stack, moment: float) -> None:
    """Move the pipeline's clock (and the gateway's) to ``moment``; the pipeline is rebuilt with it."""
    stack.runtime.pipeline_options["clock"] = lambda: moment
    stack.runtime.pipeline_options["graph_factory"] = graph_factory(
        stack.sim, stack.gathers, now=datetime.fromtimestamp(moment, tz=UTC))
    stack.runtime._pipeline = None


def make_stack(azurite: Azurite, app_functions: dict[str, Any], tenant: Tenant, prefix: str) -> Iterator[Stack]:
    sim = GraphSimulator(tenant)
    sim.start()
    gathers: list[str] = []
    settings = load_settings({
        "VCAUDIT_TENANT_ID": tenant.tenant_id,
        "VCAUDIT_STAFF_GROUP_IDS": group_ids(tenant, "All Staff"),
        "VCAUDIT_PUPIL_GROUP_IDS": group_ids(tenant, "All Pupils"),
        "VCAUDIT_CLASS_TEAM_IDS": ",".join(tenant.teams),
        "VCAUDIT_GRAPH_BASE_URL": sim.base_url,
        "VCAUDIT_WEBHOOK_BASE_URL": "http://127.0.0.1:1/api",  # replaced once the runner listens
        # Staff calendars only: 40 subscriptions rather than 440 keeps each test quick; pupil-organised
        # meetings still arrive through their call records.
        "VCAUDIT_MONITOR_PUPIL_MAILBOXES": "false",
        "VCAUDIT_DIGEST_SENDER": "vcaudit@elmgrove.example",
        "VCAUDIT_DIGEST_RECIPIENTS": "dsl:dsl@elmgrove.example",
    })
    value = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=prefix,
                    consent=StaticConsent(frozenset(tenant.consent)))
    runner = LocalRunner(app_functions.values(), value.queues, keys=["local-function-key-0123456789"])
    base = runner.start_http()
    value.settings = replace(settings, webhook_base_url=base + "/api", webhook_key="local-function-key-0123456789")
    value.pipeline_options = {"graph_factory": graph_factory(sim, gathers), "coalesce_seconds": 0,
                              "clock": WEEK_AFTER.timestamp}
    runtime_module.use(value)
    try:
        yield Stack(tenant, sim, value, runner, gathers)
    finally:
        runtime_module.use(None)
        runner.stop()
        sim.stop()
