"""Storage outages lose nothing: work queued before Azurite restarts is done after it; a delivery that arrives
while storage is down is refused (so Graph keeps it and redelivers) and accepted once storage is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools.azurite import Azurite
from devtools.graphsim import Tenant
from tests.e2e.conftest import Stack, make_stack
from tests.e2e.test_pipeline import expected_rows, notify, stored_rows, subscribe

pytestmark = pytest.mark.integration  # each test starts its own Azurite


@pytest.fixture
def own_azurite() -> Iterator[Azurite]:
    with Azurite() as running:  # restarted by the tests: not the session's shared one
        yield running


@pytest.fixture
def stack(own_azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> Iterator[Stack]:
    yield from make_stack(own_azurite, app_functions, school, storage_prefix)


def test_queued_notifications_survive_a_storage_restart(stack: Stack, own_azurite: Azurite) -> None:
    subscribe(stack)
    occs = [o for o in stack.tenant.occurrences if o["planted"]][:5]
    notify(stack, occs)
    assert stack.runtime.queues.depth("graph-notifications") > 0
    own_azurite.restart()
    stack.deliver()
    assert stored_rows(stack) == expected_rows(stack.tenant, occs)


def test_a_delivery_during_an_outage_is_refused_then_accepted(stack: Stack, own_azurite: Azurite) -> None:
    subscribe(stack)
    occ = next(o for o in stack.tenant.occurrences if "uninvited-attendee" in o["planted"])
    own_azurite.stop()
    deliveries = stack.sim.notify_call_record(occ["callRecordIds"][0])
    assert deliveries and not any(d.delivered for d in deliveries)  # non-2xx: Graph keeps it and retries later
    own_azurite.start()
    for delivery in deliveries:  # Graph's later redelivery of the very same payload
        response = httpx.post(delivery.url, json=delivery.payload, timeout=30)
        assert response.status_code == 202
    stack.deliver()
    assert stored_rows(stack) == expected_rows(stack.tenant, [occ])
