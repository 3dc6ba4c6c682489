"""Judging Graph's webhook deliveries: the validation handshake, then each item of ``value[]`` on its own.

Pure and cheap to import (the webhook answers within Graph's 3 s budget, cold or warm). Nothing here logs or
returns any part of a body: a refused item is counted by reason, never quoted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 1024 * 1024  # a delivery larger than this is refused with 413
MAX_TOKEN_CHARS = 1024  # a validation token longer than this is refused
# Fields of a change notification passed on to the worker (the clientState secret is never passed on).
CHANGE_FIELDS = ("subscriptionId", "subscriptionExpirationDateTime", "changeType", "resource", "tenantId")
LIFECYCLE_FIELDS = ("subscriptionId", "subscriptionExpirationDateTime", "lifecycleEvent", "resource", "tenantId")
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})
MAX_ITEMS_PER_MESSAGE = 40  # keeps each queue message well under the 64 KiB limit after base64


class DeliveryRefused(ValueError):
    """The whole delivery is refused: ``status`` is the HTTP status to answer (400 or 413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Handshake:
    status: int
    body: str  # the token, echoed as text/plain; empty when refused


def handshake(token: str) -> Handshake:
    """Graph's validation request: echo the token as text/plain with 200 (never as HTML).

    Graph sends the token URL-encoded in the query string and wants it back decoded, exactly once
    (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks, "notificationUrl
    validation"). The Functions host has already decoded the query, so ``token`` is echoed as it came: decoding
    it again would turn a '+' of the token into a space."""
    if not token or len(token) > MAX_TOKEN_CHARS or any(ord(c) < 32 for c in token):
        return Handshake(400, "")
    return Handshake(200, token)


@dataclass(slots=True)
class Judgement:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def messages(self) -> list[list[dict[str, Any]]]:
        """The accepted items in queue-message-sized groups."""
        return [self.accepted[i:i + MAX_ITEMS_PER_MESSAGE]
                for i in range(0, len(self.accepted), MAX_ITEMS_PER_MESSAGE)]


def parse_delivery(body: bytes) -> list[Any]:
    if len(body) > MAX_BODY_BYTES:
        raise DeliveryRefused(413, "body too large")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or a number past Python's digit limit
        raise DeliveryRefused(400, "body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise DeliveryRefused(400, "body has no value[] list")
    items: list[Any] = payload["value"]
    return items


ClientStateCheck = Callable[[str, str], bool]  # (subscriptionId, received clientState) -> matches


def judge(items: list[Any], *, tenant_id: str, client_state_ok: ClientStateCheck, lifecycle: bool,
          received_at: str) -> Judgement:
    """Each item on its own: a forged or stale item is dropped and counted; its neighbours still go through."""
    verdict = Judgement()
    fields = LIFECYCLE_FIELDS if lifecycle else CHANGE_FIELDS
    for item in items:
        if not isinstance(item, dict):
            verdict.dropped["malformed"] += 1
            continue
        subscription = item.get("subscriptionId")
        state = item.get("clientState")
        tenant = item.get("tenantId")
        if not isinstance(subscription, str) or not subscription or not isinstance(state, str):
            verdict.dropped["malformed"] += 1
            continue
        if not isinstance(tenant, str) or tenant.lower() != tenant_id.lower():
            verdict.dropped["foreign-tenant"] += 1
            continue
        if lifecycle and item.get("lifecycleEvent") not in LIFECYCLE_EVENTS:
            verdict.dropped["malformed"] += 1
            continue
        if not lifecycle and not isinstance(item.get("resource"), str):
            verdict.dropped["malformed"] += 1
            continue
        if not client_state_ok(subscription, state):
            verdict.dropped["client-state"] += 1
            continue
        accepted = {key: item[key] for key in fields if isinstance(item.get(key), str)}
        data = item.get("resourceData")
        if isinstance(data, dict):
            accepted["resourceData"] = {k: v for k, v in data.items()
                                        if k in ("@odata.type", "@odata.id", "id") and isinstance(v, str)}
        accepted["receivedAt"] = received_at
        verdict.accepted.append(accepted)
    return verdict
