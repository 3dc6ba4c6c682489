"""Graph's webhooks: change notifications and lifecycle events.

Each answers the validation handshake, judges every item of a delivery on its own, enqueues the valid ones
and answers 202 whenever the body parsed. It never calls Graph, never imports msgraph and never logs any
part of a body.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import azure.functions as func

from functions.http import respond
from shared.notifications import DeliveryRefused, handshake, judge, parse_delivery
from shared.runtime import runtime
from shared.store.queues import LIFECYCLE, NOTIFICATIONS

bp = func.Blueprint()
log = logging.getLogger("vcaudit.webhook")


def receive(req: func.HttpRequest, *, lifecycle: bool) -> func.HttpResponse:
    # The host has already URL-decoded the query: the value is the token itself, decoded exactly once.
    token = req.params.get("validationToken")
    if token is not None:
        answer = handshake(token)
        if answer.status != 200:
            log.warning("validation handshake refused (token empty, too long or not text)")
            return respond("", status=400)
        return respond(answer.body, status=200)
    try:
        items = parse_delivery(req.get_body())
    except DeliveryRefused as refused:
        log.warning("delivery refused: %s (HTTP %d)", refused.reason, refused.status)
        return respond("", status=refused.status)
    app = runtime()
    received_at = datetime.now(tz=UTC).isoformat()
    verdict = judge(items, tenant_id=app.settings.tenant_id, client_state_ok=app.subscriptions.client_state_ok,
                    lifecycle=lifecycle, received_at=received_at)
    queue = LIFECYCLE if lifecycle else NOTIFICATIONS
    for group in verdict.messages():
        app.queues.send(queue, {"kind": "lifecycle" if lifecycle else "notifications", "items": group})
    if verdict.dropped:
        log.warning("dropped %d of %d notification items: %s", sum(verdict.dropped.values()), len(items),
                    dict(verdict.dropped))
        app.stores.state.add("webhook-dropped", dict(verdict.dropped))
    if verdict.accepted and _due_for_stamp():
        app.stores.state.stamp("last-notification", Count=len(verdict.accepted))
    return respond("", status=202)


_last_stamp = [float("-inf")]
STAMP_EVERY_SECONDS = 10.0  # health needs "when did notifications last arrive", not a write per delivery


def _due_for_stamp() -> bool:
    now = time.monotonic()
    if now - _last_stamp[0] < STAMP_EVERY_SECONDS:
        return False
    _last_stamp[0] = now
    return True


@bp.function_name("graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return receive(req, lifecycle=False)


@bp.function_name("graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    return receive(req, lifecycle=True)
