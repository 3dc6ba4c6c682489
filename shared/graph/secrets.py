"""Subscription ``clientState`` values: made at random, compared in constant time. Pure, cheap to import."""

from __future__ import annotations

import hmac
import secrets

CLIENT_STATE_BYTES = 48  # 64 URL-safe characters; Graph allows at most 128


def new_client_state() -> str:
    """A fresh random clientState (48 random bytes, URL-safe base64: 64 characters)."""
    return secrets.token_urlsafe(CLIENT_STATE_BYTES)


def verify_client_state(stored: str | None, received: str | None) -> bool:
    """True when the clientState a notification carries is the one stored for its subscription.

    Constant-time (``hmac.compare_digest``); a missing value on either side never matches.
    """
    if not stored or not received:
        return False
    return hmac.compare_digest(stored.encode("utf-8"), received.encode("utf-8"))
