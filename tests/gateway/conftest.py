"""Fixtures for the gateway tests: a generated school, the Graph simulator over real HTTP, one event loop per
module (msgraph-sdk's httpx client belongs to the loop it was made in: msgraph-sdk#366/#798), a webhook."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from devtools.graphsim import LEGACY_GATEWAY_SWITCHES, GraphSimulator, Tenant, generate
from shared.graph.client import GraphConnection, GraphTransport, connect
from shared.graph.directory import StaticConsent
from shared.graph.gateway import GraphGateway
from tests.webhook import Webhook, serve_webhook

__all__ = ["Webhook"]

T = TypeVar("T")
WEEK_AFTER = datetime(2026, 3, 16, 12, tzinfo=UTC)  # "now" for the gateway: the generated week is over


@pytest.fixture(scope="session")
def school() -> Tenant:
    return generate.primary_school(seed=1)


def group_ids(tenant: Tenant, name: str) -> list[str]:
    return [g["id"] for g in tenant.groups.values() if g["displayName"] == name]


class Loop:
    """One event loop for a module: ``loop.run(coro)``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    lp = Loop()
    yield lp
    lp.close()


@dataclass
class Rig:
    """A simulator with a connected gateway."""

    sim: GraphSimulator
    tenant: Tenant
    connection: GraphConnection
    transport: GraphTransport
    gateway: GraphGateway


def make_rig(loop: Loop, tenant: Tenant, *, naive: bool = False, budget: float = 30.0, **switches: Any) -> Rig:
    sim = GraphSimulator(tenant, **{**LEGACY_GATEWAY_SWITCHES, **switches})
    sim.start()

    async def build() -> tuple[GraphConnection, GraphTransport, GraphGateway]:
        connection = connect(sim.base_url)
        transport = GraphTransport(connection.sender(), sim.base_url, retry_budget_seconds=budget)
        gateway = GraphGateway(
            transport,
            tenant_id=tenant.tenant_id,
            staff_group_ids=group_ids(tenant, "All Staff"),
            pupil_group_ids=group_ids(tenant, "All Pupils"),
            class_team_ids=list(tenant.teams),
            consent=StaticConsent(frozenset(tenant.consent)),
            naive=naive,
            now=lambda: WEEK_AFTER,
        )
        return connection, transport, gateway

    connection, transport, gateway = loop.run(build())
    return Rig(sim, tenant, connection, transport, gateway)


def close_rig(loop: Loop, rig: Rig) -> None:
    loop.run(rig.connection.aclose())
    rig.sim.stop()


@pytest.fixture(scope="module")
def rig_factory(loop: Loop) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def factory(tenant: Tenant, **kw: Any) -> Rig:
        rig = make_rig(loop, tenant, **kw)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        close_rig(loop, rig)


@pytest.fixture(scope="module")
def rig(rig_factory: Callable[..., Rig], school: Tenant) -> Rig:
    """Default switches (lobby_sessions=True, channel_recordings=False, channel_attendance=False)."""
    return rig_factory(school.copy())


def comparable(bundle: dict[str, Any]) -> dict[str, Any]:
    """A bundle without its directory, ``unavailable`` reasons reduced to kind and unsupported."""
    out = {k: copy.deepcopy(v) for k, v in bundle.items() if k != "directory"}
    if "unavailable" in out:
        out["unavailable"] = sorted(
            ((u["kind"], bool(u.get("unsupported"))) for u in out["unavailable"]), key=lambda x: (x[0], x[1])
        )
    return out


# ---------------------------------------------------------------------------------------------------- webhook


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook
