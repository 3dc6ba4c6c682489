"""The pipeline's queues, written with azure-storage-queue and read by the Functions queue triggers.

Encoding, one named choice: **base64 with the SDK** (``TextBase64EncodePolicy``), which is what the Functions
host's queue extension expects (``extensions.queues.messageEncoding: base64`` in host.json). The SDK is used
rather than an output binding so that work can be enqueued with a visibility delay (coalescing, Graph's
Retry-After).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

NOTIFICATIONS = "graph-notifications"  # change notifications judged valid by the webhook
LIFECYCLE = "graph-lifecycle"  # lifecycle events (reauthorize, removed, missed)
EVALUATIONS = "occurrence-evaluations"  # coalesced, delayed "evaluate occurrence X" work
QUEUES = (NOTIFICATIONS, LIFECYCLE, EVALUATIONS)
MESSAGE_ENCODING = "base64"
# host.json ``extensions.queues.maxDequeueCount``: deliveries of one message before the host keeps it in the
# poison queue (a test holds the two equal). The last delivery records what Graph could not serve.
MAX_DELIVERIES = 5
MAX_VISIBILITY_DELAY = 7 * 24 * 3600 - 60  # the service's limit for a message's initial invisibility


def poison(name: str) -> str:
    """The queue the Functions host moves a message to after ``maxDequeueCount`` failed attempts."""
    return f"{name}-poison"


class Queues:
    def __init__(self, service: Any, *, create: bool = False, prefix: str = "") -> None:
        from azure.storage.queue import BinaryBase64DecodePolicy, TextBase64EncodePolicy

        self._service = service
        self._prefix = prefix
        self._clients: dict[str, Any] = {}
        self._encode = TextBase64EncodePolicy
        self._decode = BinaryBase64DecodePolicy
        if create:
            from azure.core.exceptions import ResourceExistsError

            for name in QUEUES:
                for queue in (name, poison(name)):
                    with contextlib.suppress(ResourceExistsError):
                        service.create_queue(self.name(queue))

    def name(self, queue: str) -> str:
        return f"{self._prefix}{queue}"

    def client(self, queue: str) -> Any:
        found = self._clients.get(queue)
        if found is None:
            found = self._service.get_queue_client(self.name(queue), message_encode_policy=self._encode(),
                                                   message_decode_policy=self._decode())
            self._clients[queue] = found
        return found

    def send(self, queue: str, payload: Any, *, delay_seconds: int = 0) -> None:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        delay = max(0, min(int(delay_seconds), MAX_VISIBILITY_DELAY))
        self.client(queue).send_message(text, visibility_timeout=delay or None)

    def depth(self, queue: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return int(self.client(queue).get_queue_properties().approximate_message_count or 0)
        except ResourceNotFoundError:
            return 0

    def receive(self, queue: str, *, max_messages: int = 32, visibility_timeout: int = 60) -> list[Any]:
        """For the local runner: messages as the host would hand them over (decoded bytes, dequeue count)."""
        return list(self.client(queue).receive_messages(max_messages=max_messages,
                                                        visibility_timeout=visibility_timeout))

    def delete(self, queue: str, message: Any) -> None:
        self.client(queue).delete_message(message)
