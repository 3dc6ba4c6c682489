"""Bounded cost at the webhook: forged subscription ids are answered from a cached set (not one table read
each), and storage being down is answered at once with 503 and ``Retry-After`` (webhook) or a 503 report
naming it (health), never an internal error after a minute of SDK retries."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from devtools.azurite import Azurite
from devtools.faultsweep import Fault, FaultTransport
from shared import runtime as runtime_module
from shared.runtime import Runtime
from shared.store.connection import StorageConfig
from tests.functions.conftest import TENANT
from tests.functions.test_webhooks import item, post


def test_a_thousand_forged_ids_cost_one_table_read_not_one_each(app_functions: dict[str, Any], azurite: Azurite,
                                                                app_runtime: Runtime) -> None:
    counting = Fault(armed=True)  # counts every storage call, fails none
    storage = StorageConfig(connection_string=azurite.connection_string,
                            options={"transport": FaultTransport(counting)})
    watched = Runtime(app_runtime.settings, storage, prefix=app_runtime.prefix)
    runtime_module.use(watched)
    _ = watched.edge.queues  # created up front: only the delivery's own calls are counted below
    counting.calls = 0
    counting.kinds.clear()
    forged = [item(subscriptionId=f"forged-{i}", clientState="guess") for i in range(1000)]
    response = post(app_functions, json.dumps({"value": forged}).encode())
    assert response.status_code == 202
    assert counting.calls <= 4, counting.calls  # one read of the subscriptions (and the drop counter)


def unreachable(app_runtime: Runtime) -> Runtime:
    dead = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
            "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    value = Runtime(app_runtime.settings, StorageConfig.from_connection_string(dead), prefix=app_runtime.prefix)
    runtime_module.use(value)
    return value


def test_the_webhook_refuses_with_503_and_retry_after_when_storage_is_down(app_functions: dict[str, Any],
                                                                          app_runtime: Runtime) -> None:
    unreachable(app_runtime)
    response = post(app_functions, json.dumps({"value": [item()]}).encode())
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


def test_health_reports_storage_unreachable_as_503_with_the_reason(app_functions: dict[str, Any],
                                                                  app_runtime: Runtime) -> None:
    unreachable(app_runtime)
    request = func.HttpRequest("GET", "https://vcaudit.example/api/health", body=b"")
    response = app_functions["health"].get_user_function()(request)
    body = json.loads(response.get_body())
    assert response.status_code == 503
    assert body["status"] == "unhealthy"
    assert any("storage unreachable" in p for p in body["problems"]), body
    assert TENANT not in response.get_body().decode()
