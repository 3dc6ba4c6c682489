"""Graph's per-mailbox concurrency limit on the local stack: a calendar read answered 429 "Application is over
its MailboxConcurrency limit" (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits) past
the transport's retry budget puts the evaluation back on its queue, invisible for Graph's Retry-After, without
burning a dequeue or reaching the poison queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import Tenant
from tests.e2e.conftest import Stack, make_stack

pytestmark = pytest.mark.integration

MAILBOX_CONCURRENCY = "Application is over its MailboxConcurrency limit."


@pytest.fixture
def stack(azurite: Azurite, app_functions: dict[str, Any], school: Tenant, storage_prefix: str) -> Iterator[Stack]:
    yield from make_stack(azurite, app_functions, school, storage_prefix)


def test_a_mailbox_concurrency_429_reenqueues_the_evaluation_with_graphs_delay(stack: Stack) -> None:
    report = stack.runtime.pipeline.ensure_subscriptions()
    assert not report.failed, report.failed
    occ = next(o for o in stack.tenant.occurrences if o["eventId"] and not o["callRecordIds"])
    rule = stack.sim.faults.add("GET", rf"^/users/{occ['mailbox']}/events/", 429, retry_after=45, count=None,
                                message=MAILBOX_CONCURRENCY)
    stack.sim.notify_event(occ["mailbox"], occ["eventId"])
    stack.deliver()
    queues = stack.runtime.queues
    assert rule.hits >= 1  # the calendar read was throttled as Graph does
    throttled = [r for r in stack.sim.requests if r.status == 429 and r.path.startswith(f"/users/{occ['mailbox']}")]
    assert throttled
    assert stack.runner.failures == []  # no dequeue burnt on throttling
    assert queues.depth("occurrence-evaluations") == 1  # back on the queue...
    assert queues.receive("occurrence-evaluations", max_messages=1) == []  # ...invisible for Retry-After
    assert queues.depth("occurrence-evaluations-poison") == 0
    assert queues.depth("graph-notifications-poison") == 0
