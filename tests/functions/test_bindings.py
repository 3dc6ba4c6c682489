"""The bindings the Functions host would index, read from ``app.get_functions()``: triggers, routes, auth
levels, queue names and schedules (resolved from app settings that the settings module declares)."""

from __future__ import annotations

import json
from typing import Any

from shared.settings import SETTINGS
from shared.store.queues import EVALUATIONS, LIFECYCLE, NOTIFICATIONS


def trigger(fn: Any) -> dict[str, Any]:
    bindings = json.loads(fn.get_function_json())["bindings"]
    return next(b for b in bindings if b["direction"].upper() == "IN" and b["type"].endswith("Trigger"))


def test_every_function_has_a_distinct_name_and_the_expected_trigger(app_functions: dict[str, Any]) -> None:
    kinds = {name: trigger(fn)["type"] for name, fn in app_functions.items()}
    assert kinds == {
        "graph_notifications": "httpTrigger", "graph_lifecycle": "httpTrigger", "health": "httpTrigger",
        "admin_findings": "httpTrigger", "admin_meetings": "httpTrigger", "admin_annotate": "httpTrigger",
        "admin_consent": "httpTrigger", "desk_home": "httpTrigger", "desk_page": "httpTrigger",
        "desk_item": "httpTrigger",
        "notification_worker": "queueTrigger", "evaluation_worker": "queueTrigger", "lifecycle_worker": "queueTrigger",
        "subscriptions_timer": "timerTrigger", "preflight_timer": "timerTrigger", "reconcile_timer": "timerTrigger",
        "retention_timer": "timerTrigger", "digest_timer": "timerTrigger", "alert_flush": "timerTrigger",
            "pending_sweep_timer": "timerTrigger",
    }


def test_http_routes_methods_and_auth(app_functions: dict[str, Any]) -> None:
    routes = {name: (b["route"], tuple(b["methods"]), b["authLevel"]) for name, fn in app_functions.items()
              if (b := trigger(fn))["type"] == "httpTrigger"}
    assert routes["graph_notifications"] == ("graph/notifications", ("POST",), "FUNCTION")
    assert routes["graph_lifecycle"] == ("graph/lifecycle", ("POST",), "FUNCTION")
    assert routes["health"] == ("health", ("GET",), "FUNCTION")
    assert routes["admin_findings"][:2] == ("findings", ("GET",))
    assert routes["admin_annotate"][:2] == ("findings/{id}", ("PATCH",))
    assert routes["admin_consent"][:2] == ("consent", ("POST",))
    assert routes["desk_home"] == ("desk", ("GET",), "ANONYMOUS")
    assert routes["desk_page"] == ("desk/{page}", ("GET", "POST"), "ANONYMOUS")
    assert routes["desk_item"] == ("desk/{page}/{item}", ("GET", "POST"), "ANONYMOUS")
    # A browser cannot send a function key: the desk's lock is App Service Authentication (tests/web). Every
    # other route keeps its function key.
    assert all(auth == "FUNCTION" for name, (_, _, auth) in routes.items() if not name.startswith("desk_"))


def test_queue_triggers_read_the_queues_the_webhooks_and_workers_write(app_functions: dict[str, Any]) -> None:
    queues = {name: (b["queueName"], b["connection"]) for name, fn in app_functions.items()
              if (b := trigger(fn))["type"] == "queueTrigger"}
    assert queues == {"notification_worker": (NOTIFICATIONS, "AzureWebJobsStorage"),
                      "evaluation_worker": (EVALUATIONS, "AzureWebJobsStorage"),
                      "lifecycle_worker": (LIFECYCLE, "AzureWebJobsStorage")}


def test_timer_schedules_come_from_declared_app_settings(app_functions: dict[str, Any]) -> None:
    declared = {s.name for s in SETTINGS}
    schedules = {name: trigger(fn)["schedule"] for name, fn in app_functions.items()
                 if trigger(fn)["type"] == "timerTrigger"}
    for name, schedule in schedules.items():
        if name == "alert_flush":
            assert schedule == "0 1,16,31,46 * * * *"  # every quarter hour: alerts wait at most 15 minutes
            continue
        if name == "pending_sweep_timer":
            assert schedule == "0 */10 * * * *"  # owed evaluations past due are re-driven within ten minutes
            continue
        assert schedule.startswith("%") and schedule.endswith("%"), name
        assert schedule.strip("%") in declared, name


def test_the_last_delivery_the_evaluator_counts_on_is_host_json_s() -> None:
    from devtools.runner import HOST
    from shared.store.queues import MAX_DELIVERIES

    assert HOST["extensions"]["queues"]["maxDequeueCount"] == MAX_DELIVERIES
