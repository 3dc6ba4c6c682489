"""Pipeline figures on the local stack, each beside a baseline measured in the same run.

    .venv/bin/python -m bench.pipeline [--trust]

1. Webhook response time (p50/p99) for deliveries of 1, 20 and 100 notifications, through the registered
   handler into Azurite, beside one raw ``send_message`` to the same queue. Target: p99 under 100 ms for 20.
2. Findings written per second by the recorder, beside a raw batched upsert of the same entities into the same
   Azurite. Target: at least half of it.
3. End-to-end meeting occurrences per second for a simulated school week (and, with ``--trust``, a trust ten
   times the size): notifications over HTTP, queues, gateway, evaluation, Table Storage.
4. Peak memory of this process.
5. ``python -c "import function_app"`` beside ``python -c "import azure.functions"``. Target: at most 3x.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TENANT_ID = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
GROUP = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def webhook(functions: dict[str, Any], azurite: Any) -> None:
    import asyncio

    import azure.functions as func

    from shared import runtime as runtime_module
    from shared.graph.subscriptions import StoredSubscription
    from shared.runtime import Runtime
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig

    settings = load_settings({"VCAUDIT_TENANT_ID": TENANT_ID, "VCAUDIT_STAFF_GROUP_IDS": GROUP,
                              "VCAUDIT_PUPIL_GROUP_IDS": GROUP})
    app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix="benchhook")
    state = "s" * 64
    asyncio.run(app.subscriptions.put(StoredSubscription("/users/x/events", state, "sub-1")))
    runtime_module.use(app)
    handler = functions["graph_notifications"].get_user_function()
    queue = app.queues.client("graph-notifications")
    raw = []
    for _ in range(200):
        start = time.perf_counter()
        queue.send_message("x" * 300)
        raw.append((time.perf_counter() - start) * 1000)
    print("1. webhook response time (ms), through the registered handler into Azurite")
    print(f"   raw enqueue of one message: p50 {percentile(raw, 0.5):.1f}  p99 {percentile(raw, 0.99):.1f}")
    for size in (1, 20, 100):
        item = {"subscriptionId": "sub-1", "changeType": "updated", "clientState": state, "tenantId": TENANT_ID,
                "resource": "Users/abc/Events/AAMkAD", "subscriptionExpirationDateTime": "2026-12-01T00:00:00Z",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMkAD"}}
        body = json.dumps({"value": [item] * size}).encode()
        times = []
        for _ in range(100 if size < 100 else 60):
            request = func.HttpRequest("POST", "https://x/api/graph/notifications", body=body,
                                       headers={"Content-Type": "application/json"})
            start = time.perf_counter()
            response = handler(request)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 202
        print(f"   delivery of {size:3d}: p50 {percentile(times, 0.5):6.1f}  p99 {percentile(times, 0.99):6.1f}"
              f"  ({percentile(times, 0.99) / percentile(raw, 0.99):.1f}x the raw enqueue p99)")
    runtime_module.use(None)


def findings_rate(azurite: Any) -> None:
    from azure.data.tables import UpdateMode

    from shared.engine import Evaluation, Finding
    from shared.store.connection import StorageConfig
    from shared.store.findings import MeetingFacts
    from shared.store.tables import open_stores

    stores = open_stores(StorageConfig.from_connection_string(azurite.connection_string), prefix="benchrec")
    occurrences = 60
    per = 20
    start = time.perf_counter()
    for n in range(occurrences):
        findings = [Finding("uninvited-attendee", "high", f"user-{n}-{k}", ("G1",), "s" * 120, {"k": k}, "Name")
                    for k in range(per)]
        facts = MeetingFacts(uuid.uuid4().hex, "2026-W11", 1773046800.0 + n, None, "Lesson", "org", "Org", None)
        stores.recorder.record(facts, Evaluation(findings, True, ["held"], None, 1, per, [], [], []), None,
                               now=1773046800.0)
    recorded = occurrences * per / (time.perf_counter() - start)
    table = stores.table_service.get_table_client("benchrecFindings")
    start = time.perf_counter()
    for n in range(occurrences):
        batch = [("upsert", {"PartitionKey": f"raw-{n}", "RowKey": uuid.uuid4().hex, "Summary": "s" * 120,
                             "Evidence": "{}"}, {"mode": UpdateMode.MERGE}) for _ in range(per)]
        table.submit_transaction(batch)
    raw = occurrences * per / (time.perf_counter() - start)
    print("2. findings written per second (20 findings per occurrence, each occurrence a new meeting)")
    print(f"   recorder (reads existing rows, one transaction, meeting log with ETag): {recorded:,.0f}/s")
    print(f"   raw batched upsert of the same number of entities: {raw:,.0f}/s   ratio {recorded / raw:.2f}")


def end_to_end(functions: list[Any], azurite: Any, label: str, tenant: Any) -> None:
    from devtools.graphsim import LEGACY_GATEWAY_SWITCHES, GraphSimulator
    from devtools.localstack import graph_factory, group_ids
    from devtools.runner import LocalRunner
    from shared import runtime as runtime_module
    from shared.graph.directory import StaticConsent
    from shared.runtime import Runtime
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig

    sim = GraphSimulator(tenant, **LEGACY_GATEWAY_SWITCHES)
    sim.start()
    settings = load_settings({"VCAUDIT_TENANT_ID": tenant.tenant_id,
                              "VCAUDIT_STAFF_GROUP_IDS": group_ids(tenant, "All Staff"),
                              "VCAUDIT_PUPIL_GROUP_IDS": group_ids(tenant, "All Pupils"),
                              "VCAUDIT_CLASS_TEAM_IDS": ",".join(tenant.teams), "VCAUDIT_GRAPH_BASE_URL": sim.base_url,
                              "VCAUDIT_MONITOR_PUPIL_MAILBOXES": "false"})
    app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string),
                  prefix="bench" + uuid.uuid4().hex[:6], consent=StaticConsent(frozenset(tenant.consent)))
    runner = LocalRunner(functions, app.queues, keys=["bench-function-key-0123456789"])
    base = runner.start_http()
    app.settings = replace(settings, webhook_base_url=base + "/api", webhook_key="bench-function-key-0123456789")
    app.pipeline_options = {"graph_factory": graph_factory(sim, []), "coalesce_seconds": 0,
                            "on_new_findings": lambda ids: None}
    runtime_module.use(app)
    try:
        app.pipeline.ensure_subscriptions()
        start = time.perf_counter()
        for occ in tenant.occurrences:
            if occ["eventId"]:
                sim.notify_event(occ["mailbox"], occ["eventId"])
            for record in occ["callRecordIds"]:
                sim.notify_call_record(record)
        runner.drain_all()
        elapsed = time.perf_counter() - start
        count = len(tenant.occurrences)
        print(f"   {label}: {count} occurrences in {elapsed:.0f} s = {count / elapsed:.2f} occurrences/s "
              f"({len(runner.failures)} failures)")
    finally:
        runtime_module.use(None)
        runner.stop()
        sim.stop()


def import_cost() -> None:
    def best(code: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            times.append(time.perf_counter() - start)
        return min(times)

    bare = best("import azure.functions")
    app = best("import function_app")
    print("5. import cost (best of 5 fresh interpreters)")
    print(f"   import azure.functions {bare * 1000:.0f} ms; import function_app {app * 1000:.0f} ms; "
          f"ratio {app / bare:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trust", action="store_true", help="also run a trust-size week (about 10 minutes)")
    args = parser.parse_args()
    import function_app
    from devtools.azurite import Azurite
    from devtools.graphsim import generate

    functions = function_app.app.get_functions()
    by_name = {fn.get_function_name(): fn for fn in functions}
    with Azurite() as azurite:
        webhook(by_name, azurite)
        findings_rate(azurite)
        print("3. end to end over HTTP (notifications, queues, gateway, evaluation, storage)")
        end_to_end(functions, azurite, "school week", generate.primary_school(seed=1))
        if args.trust:
            end_to_end(functions, azurite, "trust week", generate.trust(seed=1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"4. peak memory of this process: {peak:.0f} MB")
    import_cost()


if __name__ == "__main__":
    main()
