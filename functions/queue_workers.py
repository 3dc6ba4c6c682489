"""The pipeline's queue workers: notifications → scheduling, evaluations → evaluation, lifecycle → upkeep.
Each parses its message and calls the runtime's pipeline (``shared.runtime.Pipeline``).

Queue messages are base64 JSON written with the storage SDK (``shared/store/queues.py``; host.json
``messageEncoding``). A handler that raises leaves the message for the host to retry; after
``maxDequeueCount`` attempts the host keeps it in the poison queue, which health and the digest count. The
evaluation worker passes the dequeue count on: its last delivery records what Graph could not serve.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

from shared.runtime import runtime
from shared.store.queues import EVALUATIONS, LIFECYCLE, NOTIFICATIONS

bp = func.Blueprint()
log = logging.getLogger("vcaudit.worker")
STORAGE = "AzureWebJobsStorage"


def _payload(message: func.QueueMessage) -> dict[str, Any]:
    try:
        value = json.loads(message.get_body())
    except (ValueError, UnicodeDecodeError):
        log.error("queue message %s is not JSON: dropped", message.id)
        return {}
    return value if isinstance(value, dict) else {}


@bp.function_name("notification_worker")
@bp.queue_trigger(arg_name="message", queue_name=NOTIFICATIONS, connection=STORAGE)
def notification_worker(message: func.QueueMessage) -> None:
    scheduled = runtime().pipeline.handle_notifications(_payload(message))
    log.info("notification message %s: %d evaluation(s) scheduled", message.id, scheduled)


@bp.function_name("evaluation_worker")
@bp.queue_trigger(arg_name="message", queue_name=EVALUATIONS, connection=STORAGE)
def evaluation_worker(message: func.QueueMessage) -> None:
    new = runtime().pipeline.handle_evaluation(_payload(message), attempt=message.dequeue_count or 1)
    log.info("evaluation %s: %d new finding(s)", message.id, len(new))


@bp.function_name("lifecycle_worker")
@bp.queue_trigger(arg_name="message", queue_name=LIFECYCLE, connection=STORAGE)
def lifecycle_worker(message: func.QueueMessage) -> None:
    outcomes = runtime().pipeline.handle_lifecycle(_payload(message))
    log.info("lifecycle message %s: %s", message.id, outcomes)
