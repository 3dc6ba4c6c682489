"""Pieces the local stack shares between the demo and the end-to-end tests: the group ids of a simulated
school, and a Graph factory that points the gateway and the subscription manager at the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devtools.graphsim import GraphSimulator, Tenant
from shared.graph.session import Graph
from shared.runtime import Runtime

WEEK_AFTER = datetime(2026, 3, 16, 12, tzinfo=UTC)  # the generated week (9-13 March 2026) is over


def group_ids(tenant: Tenant, name: str) -> str:
    return ",".join(g["id"] for g in tenant.groups.values() if g["displayName"] == name)


def graph_factory(sim: GraphSimulator, gathers: list[str],
                  now: datetime | Callable[[], datetime] = WEEK_AFTER,
                  sender: Callable[[Any], Any] | None = None) -> Any:
    """``now``: the gateway's time (a fixed instant, or a clock such as the simulator's ``SimClock``, which then
    also dates the subscriptions, so their lifetimes run on the simulated clock). ``sender``: wraps the HTTP
    sender (fault injection: ``devtools.faultsweep.FaultSender``); the transport then retries without waiting."""
    gateway_now: Callable[[], datetime]
    manager_now: Callable[[], datetime]
    if isinstance(now, datetime):
        fixed = now
        gateway_now, manager_now = (lambda: fixed), (lambda: datetime.now(UTC))
    else:
        gateway_now = manager_now = now

    async def build(runtime: Runtime) -> Graph:
        from shared.graph.client import GraphTransport, connect
        from shared.graph.gateway import GraphGateway
        from shared.graph.subscriptions import SubscriptionManager

        connection = connect(sim.base_url)
        if sender is None:
            transport = GraphTransport(connection.sender(), sim.base_url, retry_budget_seconds=5.0)
        else:
            transport = GraphTransport(sender(connection.sender()), sim.base_url, retry_budget_seconds=5.0,
                                       backoff_seconds=0.0)
        gateway = GraphGateway.from_settings(transport, runtime.settings, runtime.consent_source(),
                                             now=gateway_now)
        for name in ("gather_event", "gather_call_record"):  # count evaluations (a burst must cost one)
            original = getattr(gateway, name)

            def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
                gathers.append(_name)
                return _original(*args)

            setattr(gateway, name, counted)
        manager = SubscriptionManager(transport, runtime.subscriptions, notification_url=runtime.notification_url(),
                                      lifecycle_url=runtime.lifecycle_url(), include_adhoc_calls=False,
                                      monitor_pupil_mailboxes=runtime.settings.monitor_pupil_mailboxes,
                                      now=manager_now)
        return Graph(transport, gateway, manager)

    return build
