"""The digest timer as the Functions host runs it, sending through the gateway's transport to the Graph
simulator's ``sendMail`` over HTTP (msgraph-sdk's request adapter): one message per recipient, once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import GraphSimulator, generate
from functions.mail import digest_tick
from shared import runtime as runtime_module
from shared.graph.client import GraphTransport, connect
from shared.runtime import Runtime
from shared.store.connection import StorageConfig

from .conftest import DSL, GOVERNOR, MONDAY_AFTER, WEEK, make_settings, record_week, watch


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(generate.primary_school(seed=1)) as simulator:
        yield simulator


def test_the_timer_sends_through_graph_once(azurite: Azurite, storage_prefix: str, sim: GraphSimulator) -> None:
    sender = next(u for u in sim.tenant.users.values() if u.get("userType") != "Guest")
    settings = make_settings(VCAUDIT_DIGEST_SENDER=sender["userPrincipalName"],
                             VCAUDIT_GRAPH_BASE_URL=sim.base_url)
    app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix)
    record_week(app.stores, ["2026-11-17-1030-year4-science", "2026-11-18-1030-year3-maths"])
    watch(app.stores, expires=MONDAY_AFTER.replace(year=2027))

    async def fire() -> None:
        connection = connect(sim.base_url)
        app.graph_transport = GraphTransport(connection.sender(), sim.base_url)
        try:
            for hours in range(3):
                await digest_tick(MONDAY_AFTER.replace(hour=6 + hours))
        finally:
            await connection.aclose()

    runtime_module.use(app)
    try:
        asyncio.run(fire())
    finally:
        runtime_module.use(None)
    assert [m.sender for m in sim.sent_mail] == [sender["id"], sender["id"]]
    by_address = {m.message["toRecipients"][0]["emailAddress"]["address"]: m for m in sim.sent_mail}
    assert set(by_address) == {DSL, GOVERNOR}
    dsl = by_address[DSL].message
    assert dsl["body"]["contentType"] == "HTML" and "Needs your decision (3)" in dsl["body"]["content"]
    csv = base64.b64decode(dsl["attachments"][0]["contentBytes"]).decode("utf-8-sig")
    assert csv.startswith("finding_id,week,date") and csv.count("\r\n") == 4  # header and three findings
    assert "attachments" not in by_address[GOVERNOR].message
    posts = [r for r in sim.requests if r.method == "POST" and r.path.endswith("/sendMail")]
    assert len(posts) == 2 and all(r.status == 202 for r in posts)
    rows = [r for r in app.stores.table_service.get_table_client(storage_prefix + "Digests").query_entities(
        "PartitionKey eq @w", parameters={"w": WEEK}) if r["RowKey"] != "week"]
    assert {(r["Status"], r["Outcome"], r["Attempts"]) for r in rows} == {("sent", "accepted-without-id", 1)}
