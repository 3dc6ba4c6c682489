"""A burst of `missed` lifecycle events (one per subscription, as Graph sends them when it drops notifications
for a while) costs one reconcile, not one per subscription."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import Tenant
from tests.e2e.conftest import Stack, make_stack
from tests.e2e.test_pipeline import subscribe

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> Iterator[Stack]:
    yield from make_stack(azurite, app_functions, school, storage_prefix)


def test_a_burst_of_missed_events_costs_one_reconcile(stack: Stack) -> None:
    subscribe(stack)
    stack.deliver()
    stats = stack.runtime.pipeline.upkeep.session.graph.transport.stats
    before = stats.graph_requests
    stack.runtime.pipeline.reconcile()
    stack.deliver()
    one = stats.graph_requests - before  # one reconcile and the evaluations it schedules
    subscriptions = list(stack.sim.subscriptions)
    assert len(subscriptions) > 10
    before = stats.graph_requests
    for subscription in subscriptions:
        stack.sim.send_lifecycle(subscription, "missed")
    stack.deliver()
    burst = stats.graph_requests - before
    print(f"{len(subscriptions)} missed events: {burst} Graph requests; one reconcile: {one}")
    assert burst <= one + 2 * len(subscriptions), (burst, one)  # the lifecycle handling itself, plus one reconcile
    counts = stack.runtime.stores.state.counts("missed-notifications")
    assert counts["missed"] == counts["recovered"] == len(subscriptions)
