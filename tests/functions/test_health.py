"""Health: a monitor can alert on the status code; every gap in monitoring is named in plain words."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func

from shared.graph.subscriptions import StoredSubscription
from shared.health import assess
from shared.runtime import Runtime
from shared.store.queues import EVALUATIONS, NOTIFICATIONS, poison

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def call(app_functions: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = func.HttpRequest("GET", "https://vcaudit.example/api/health", body=b"")
    response = app_functions["health"].get_user_function()(request)
    return response.status_code, json.loads(response.get_body())


def test_healthy_when_subscriptions_are_live(app_functions: dict[str, Any], app_runtime: Runtime) -> None:
    later = datetime.now(tz=UTC) + timedelta(days=2)
    asyncio.run(app_runtime.subscriptions.put(StoredSubscription("/users/x/events", "c" * 64, "sub-1", later)))
    asyncio.run(app_runtime.subscriptions.put(StoredSubscription("/communications/callRecords", "d" * 64, "sub-2",
                                                                 later)))
    app_runtime.stores.state.stamp("last-notification")
    status, body = call(app_functions)
    assert (status, body["status"]) == (200, "healthy"), body["problems"]
    assert body["lastNotification"] is not None
    assert {s["resource"] for s in body["subscriptions"]} == {"/users/x/events", "/communications/callRecords"}


def test_poison_messages_and_lapsed_subscriptions_make_it_unhealthy(app_functions: dict[str, Any],
                                                                    app_runtime: Runtime) -> None:
    # the fixture's subscription has no expiry recorded: lapsed
    app_runtime.queues.send(poison(EVALUATIONS), {"kind": "evaluate"})
    app_runtime.queues.send(NOTIFICATIONS, {"kind": "notifications", "items": []})
    status, body = call(app_functions)
    assert status == 503
    assert body["poison"][EVALUATIONS] == 1 and body["queues"][NOTIFICATIONS] == 1
    assert any("has lapsed" in p for p in body["problems"])
    assert any("occurrence-evaluations-poison" in p for p in body["problems"])


def test_assess_names_each_gap() -> None:
    live = StoredSubscription("/users/a/events", "x", "id", NOW + timedelta(days=1))
    soon = StoredSubscription("/users/b/events", "x", "id2", NOW + timedelta(hours=1))
    pending = StoredSubscription("/users/c/events", "x", None, None)
    report = assess(subscriptions=[live, soon], state={}, depths={}, now=NOW)
    assert report.healthy and report.details["subscriptions"][1]["renewSoon"]
    report = assess(subscriptions=[live, pending], state={"reconcile": {"At": NOW - timedelta(hours=30)},
                                                          "digest-ambiguous": {"Open": True, "Week": "2026-W48"}},
                    depths={}, now=NOW)
    assert not report.healthy
    assert len(report.problems) == 3
    assert assess(subscriptions=[], state={}, depths={}, now=NOW).problems == [
        "no Graph subscriptions: vcaudit is not being told about meetings"]
    partial = assess(subscriptions=[live], state={"reconcile": {"At": NOW - timedelta(hours=1), "Failed": 2}},
                     depths={}, now=NOW)
    assert partial.problems == ["the last reconcile could not read 2 source(s) (a calendar or the call-record "
                                "listing): what they would recover waits for the next reconcile"]
    assert partial.details["lastReconcileUnread"] == 2
    assert assess(subscriptions=[live], state={"reconcile": {"At": NOW, "Failed": 0}}, depths={}, now=NOW).healthy
