"""The Graph webhooks, called through the registered handlers with real azure.functions requests, writing
to Azurite: handshake, each item judged on its own, nothing of a body in logs or storage when refused."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient

from shared.runtime import Runtime
from shared.store.queues import LIFECYCLE, NOTIFICATIONS
from tests.functions.conftest import CLIENT_STATE, SUBSCRIPTION, TENANT

URL = "https://vcaudit.example/api/graph/notifications"


def post(app_functions: dict[str, Any], body: bytes, *, name: str = "graph_notifications",
         params: dict[str, str] | None = None) -> func.HttpResponse:
    handler = app_functions[name].get_user_function()
    request = func.HttpRequest("POST", URL, headers={"Content-Type": "application/json"}, params=params or {},
                               body=body)
    response: func.HttpResponse = handler(request)
    return response


def item(**overrides: Any) -> dict[str, Any]:
    value = {"subscriptionId": SUBSCRIPTION, "subscriptionExpirationDateTime": "2026-11-30T10:00:00+00:00",
             "changeType": "created", "resource": "Users/abc/Events/AAMkAD1", "clientState": CLIENT_STATE,
             "tenantId": TENANT, "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                                                  "@odata.id": "Users/abc/Events/AAMkAD1", "id": "AAMkAD1"}}
    value.update(overrides)
    return value


def queued(app: Runtime, queue: str = NOTIFICATIONS) -> list[dict[str, Any]]:
    """Messages as the Functions host reads them: base64 text, per host.json's messageEncoding."""
    raw = QueueClient.from_connection_string(app.storage.connection_string or "", app.queues.name(queue))
    out = []
    for message in raw.peek_messages(max_messages=32):
        out.append(json.loads(base64.b64decode(message.content)))
    return out


def test_validation_handshake_echoes_the_decoded_token_as_plain_text(app_functions: dict[str, Any],
                                                                     app_runtime: Runtime) -> None:
    # The host hands the handler the query already decoded: the token is echoed as it is, decoded once only
    # ('+' stays '+', a literal '%2B' stays '%2B').
    response = post(app_functions, b"", params={"validationToken": "Validation: Token <b>1</b>a+b%2B"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_body().decode() == "Validation: Token <b>1</b>a+b%2B"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    for name in ("graph_notifications", "graph_lifecycle"):
        assert post(app_functions, b"", name=name, params={"validationToken": "abc"}).get_body() == b"abc"


def test_oversized_or_empty_token_is_refused(app_functions: dict[str, Any], app_runtime: Runtime) -> None:
    assert post(app_functions, b"", params={"validationToken": "x" * 1025}).status_code == 400
    assert post(app_functions, b"", params={"validationToken": ""}).status_code == 400
    assert post(app_functions, b"", params={"validationToken": "x" * 1024}).status_code == 200


def test_valid_items_are_enqueued_and_forged_ones_dropped(app_functions: dict[str, Any],
                                                          app_runtime: Runtime) -> None:
    good = [item(resource=f"Users/abc/Events/E{i}") for i in range(3)]
    forged = [item(clientState="guess"), item(tenantId="11111111-2222-3333-4444-555555555555"),
              item(subscriptionId="unknown", clientState="nope"), {"value": 1}, "text", item(clientState=None)]
    response = post(app_functions, json.dumps({"value": [forged[0], good[0], forged[1], good[1], *forged[2:],
                                                         good[2]]}).encode())
    assert response.status_code == 202
    messages = queued(app_runtime)
    assert len(messages) == 1
    items = messages[0]["items"]
    assert [i["resource"] for i in items] == ["Users/abc/Events/E0", "Users/abc/Events/E1", "Users/abc/Events/E2"]
    assert all("clientState" not in i for i in items)
    assert app_runtime.stores.state.counts("webhook-dropped") == {"client-state": 2, "foreign-tenant": 1,
                                                                  "malformed": 3}


def test_a_subscription_being_created_is_matched_by_its_pending_client_state(app_functions: dict[str, Any],
                                                                             app_runtime: Runtime) -> None:
    import asyncio

    from shared.graph.subscriptions import StoredSubscription

    asyncio.run(app_runtime.subscriptions.put(StoredSubscription("/communications/callRecords", "p" * 64, None)))
    post(app_functions, json.dumps({"value": [item(subscriptionId="brand-new", clientState="p" * 64)]}).encode())
    assert len(queued(app_runtime)) == 1


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 400), (b"[]", 400), (b'{"value": {}}', 400), (b"\xff\xfe", 400),
    (json.dumps({"value": [item()] * 4000}).encode(), 413),
])
def test_malformed_and_oversized_deliveries_enqueue_nothing(app_functions: dict[str, Any], app_runtime: Runtime,
                                                            body: bytes, status: int) -> None:
    assert post(app_functions, body).status_code == status
    assert queued(app_runtime) == []


def test_lifecycle_events_go_to_their_own_queue(app_functions: dict[str, Any], app_runtime: Runtime) -> None:
    events = [item(lifecycleEvent="missed"), item(lifecycleEvent="reauthorizationRequired"),
              item(lifecycleEvent="bogus")]
    assert post(app_functions, json.dumps({"value": events}).encode(), name="graph_lifecycle").status_code == 202
    assert [i["lifecycleEvent"] for i in queued(app_runtime, LIFECYCLE)[0]["items"]] == [
        "missed", "reauthorizationRequired"]
    assert queued(app_runtime) == []


def test_refused_bodies_leave_no_trace_in_logs(app_functions: dict[str, Any], app_runtime: Runtime,
                                               caplog: pytest.LogCaptureFixture) -> None:
    marker = "MARKER-7f3a"
    caplog.set_level(logging.DEBUG)
    forged = item(clientState=f"forged-{marker}", resource=f"Users/{marker}/Events/1")
    post(app_functions, json.dumps({"value": [forged, item(tenantId=marker)]}).encode())
    post(app_functions, f'{{"value": [{marker}'.encode())
    post(app_functions, json.dumps({"value": [{"x": marker}] * 30000}).encode())
    assert caplog.records, "the refusals are logged (without bodies)"
    assert marker not in caplog.text
    assert CLIENT_STATE not in caplog.text
    assert queued(app_runtime) == []


def test_webhook_path_does_not_import_the_graph_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, function_app; bad = [m for m in sys.modules if m.startswith(('msgraph', 'kiota'))]; "
            "print(len(bad))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "0"


def test_a_number_past_pythons_digit_limit_is_a_400_not_a_500(app_functions: dict[str, Any],
                                                             app_runtime: Runtime) -> None:
    body = b'{"value": [{"subscriptionId": ' + b"9" * 5000 + b"}]}"
    response = post(app_functions, body)
    assert response.status_code == 400
    assert queued(app_runtime) == []


def test_every_http_answer_says_nosniff(app_functions: dict[str, Any], app_runtime: Runtime) -> None:
    """Each HTTP function, answering something (the admin routes refuse the unsigned request)."""
    http = {name: fn for name, fn in app_functions.items()
            if any(b.get("type") == "httpTrigger" for b in json.loads(fn.get_function_json())["bindings"])}
    assert {"graph_notifications", "graph_lifecycle", "health", "admin_findings", "admin_consent"} <= set(http)
    for name, fn in http.items():
        request = func.HttpRequest("GET", f"https://vcaudit.example/api/{name}", headers={}, params={},
                                   route_params={"id": "x"}, body=b"{}")
        response = fn.get_user_function()(request)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    refused = post(app_functions, b"not json")
    assert refused.status_code == 400 and refused.headers.get("X-Content-Type-Options") == "nosniff"
