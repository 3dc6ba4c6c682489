"""Errors raised by the Graph layer. Pure: no msgraph import."""

from __future__ import annotations


class GraphError(Exception):
    """Graph answered with an error the caller must see (not a 403/404, which become ``unavailable`` entries)."""

    def __init__(self, status: int, message: str, url: str = "") -> None:
        super().__init__(f"{status} {message}" + (f" ({url})" if url else ""))
        self.status = status
        self.message = message
        self.url = url


class GraphThrottled(Exception):
    """Graph kept throttling (429/503/504) past the retry budget.

    The queue worker re-enqueues the message with ``retry_after_seconds`` as its visibility delay; nothing of
    the partial gathering is kept, so the retry starts afresh.
    """

    def __init__(self, retry_after_seconds: float, url: str = "", status: int = 429) -> None:
        super().__init__(f"Graph throttled ({status}) {url}; retry after {retry_after_seconds:.0f} s")
        self.retry_after_seconds = retry_after_seconds
        self.url = url
        self.status = status


class GraphTransient(GraphError):
    """Graph failed in a way a later attempt may not (5xx, a timeout, a lost connection; an unexpected 4xx the
    first time), past the gateway's own retries. Raised only within an evaluation that is not the message's last
    delivery (``shared.graph.client.delivery``): the queue retries it with backoff, and the last delivery records
    the failure as ``unavailable`` evidence of the occurrence instead."""
