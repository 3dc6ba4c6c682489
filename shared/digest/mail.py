"""Sending mail: a small protocol, and its implementation over Graph's ``POST /users/{sender}/sendMail``.

What a send can come to (:class:`SendResult`):

- **accepted with an id**: the message is known by id (a send path that yields one);
- **accepted without an id**: Graph answered 202. ``sendMail`` never returns an id, so acceptance cannot be
  checked later; it is final all the same: never sent again;
- **failed clearly**: Graph answered and did not take it (4xx, 429, 503) or the connection was never made:
  nothing was sent, so it is retried at the next timer firing;
- **unknown**: no clear answer (a timeout after the request went out, a dropped connection, 500/502/504): the
  mail may or may not have gone. It is never sent again automatically; it is raised in monitoring health.

The Graph sender makes exactly one HTTP exchange per call: no retry layer may repeat a ``sendMail`` whose
first attempt may already have been delivered.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote


class Outcome(enum.Enum):
    ACCEPTED_WITH_ID = "accepted-with-id"
    ACCEPTED_WITHOUT_ID = "accepted-without-id"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    message_id: str = ""
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED_WITH_ID, Outcome.ACCEPTED_WITHOUT_ID)

    @property
    def failed_clearly(self) -> bool:
        return self.outcome is Outcome.FAILED

    @property
    def ambiguous(self) -> bool:
        return self.outcome is Outcome.UNKNOWN


class MailSender(Protocol):
    async def send_mail(self, sender: str, message: dict[str, Any]) -> SendResult: ...


class RawSender(Protocol):
    """One HTTP exchange (``shared.graph.client.Sender``): ``url`` absolute, no retries."""

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Any: ...


AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
NOT_SENT_EXCEPTIONS = ("ConnectError", "ConnectTimeout", "UnsupportedProtocol", "InvalidURL", "PoolTimeout")


class GraphMailSender:
    """``sendMail`` through the gateway's raw request path (msgraph-sdk's adapter: auth and middleware)."""

    def __init__(self, sender: RawSender, base_url: str) -> None:
        self.sender = sender
        self.base_url = base_url.rstrip("/")

    @classmethod
    def over(cls, transport: Any) -> GraphMailSender:
        """From a ``shared.graph.client.GraphTransport``: its one-exchange sender, without its retries."""
        return cls(transport.sender, transport.base_url)

    async def send_mail(self, sender: str, message: dict[str, Any]) -> SendResult:
        url = f"{self.base_url}/users/{quote(sender, safe='@')}/sendMail"
        body = json.dumps({"message": message, "saveToSentItems": True}, ensure_ascii=False).encode("utf-8")
        try:
            reply = await self.sender.send("POST", url, {"Content-Type": "application/json"}, body)
        except Exception as exc:  # the transport's own errors: decide whether the request can have gone out
            name = type(exc).__name__
            if name in NOT_SENT_EXCEPTIONS:
                return SendResult(Outcome.FAILED, detail=f"not sent: {name}")
            return SendResult(Outcome.UNKNOWN, detail=f"no answer from Graph: {name}")
        status = int(getattr(reply, "status", 0))
        headers = {str(k).lower(): str(v) for k, v in (getattr(reply, "headers", {}) or {}).items()}
        trace = headers.get("request-id") or headers.get("client-request-id") or ""
        if status == 202 or 200 <= status < 300:
            return SendResult(Outcome.ACCEPTED_WITHOUT_ID, detail=f"Graph {status}" + (f", request {trace}" if trace
                                                                                         else ""))
        text = reply.error_text() if hasattr(reply, "error_text") else f"{status}"
        if status in AMBIGUOUS_STATUSES:
            return SendResult(Outcome.UNKNOWN, detail=f"Graph {text}")
        return SendResult(Outcome.FAILED, detail=f"Graph {text}")
