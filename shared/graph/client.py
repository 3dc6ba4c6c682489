"""Connecting to Microsoft Graph through msgraph-sdk, and sending raw requests with retries and ``$batch``.

Credentials, in order (``connect``):

1. a credential passed in by the caller (any azure-identity *async* credential);
2. the loopback Graph simulator: a base URL on ``http://127.0.0.1`` / ``http://localhost`` gets anonymous
   auth (no token). Plain ``http`` anywhere else is refused;
3. in Azure: ``ManagedIdentityCredential`` (user-assigned when ``AZURE_CLIENT_ID`` is set) when the Functions
   host advertises a managed identity (``IDENTITY_ENDPOINT``/``MSI_ENDPOINT``);
4. fallback, documented in the README (Graph gateway): a client secret (``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
   ``AZURE_CLIENT_SECRET``) or certificate (``AZURE_CLIENT_CERTIFICATE_PATH``) — azure-identity's own
   variables, no vcaudit setting;
5. otherwise ``DefaultAzureCredential`` (developer sign-in: Azure CLI, VS Code, ...).

msgraph-sdk, kiota and azure-identity are imported inside ``connect`` only, never at module import.

Why raw requests: the SDK's models drop properties they do not declare and turn unknown enum values into
``None`` (docs/graph-facts.md §12), and the evidence bundle must hold Graph's JSON as sent. So every request goes
through the SDK's request adapter (its auth provider and middleware) with ``ResponseHandlerOption(
NativeResponseHandler())``, and the body is read as JSON. The SDK's own retry handler is switched off: the
``GraphTransport`` below retries 429/503/504 itself, honouring ``Retry-After`` within a bounded total wait,
and raises ``GraphThrottled`` past it, so the queue worker can re-enqueue with Graph's delay.

Pitfalls avoided (docs/graph-facts.md §10–11): every request gets its own ``RequestInformation`` and so its own
headers (kiota-python#507); the caller owns the credential and ``GraphConnection.aclose`` closes it once
(kiota-authentication-azure in this pin no longer closes it per token, kiota-python#528); one connection
belongs to one event loop (``GraphConnection.loop``) — create it inside the loop that uses it and reuse it
there (msgraph-sdk#366/#798).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from shared.graph.errors import GraphThrottled
from shared.graph.pacing import MAILBOX_CONCURRENCY, MailboxPacer

GRAPH_V1 = "https://graph.microsoft.com/v1.0"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RETRY_STATUSES = frozenset({429, 503, 504})
MAX_BATCH = 20

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    """One Graph request. ``url`` is relative to the base URL (``/users/x``) or absolute (a nextLink)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON (dict) when Graph sent JSON, else bytes or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def json(self) -> JSON:
        return self.body if isinstance(self.body, dict) else {}

    def error_text(self) -> str:
        """``403 No Application Access Policy found for this app.``: the status and Graph's message."""
        error = self.json.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        return f"{self.status} {message or 'HTTP error'}".strip()

    def retry_after(self) -> float | None:
        for key, value in self.headers.items():
            if key.lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except ValueError:
                    return None
        return None


class Sender(Protocol):
    """One HTTP exchange with Graph, no retries. ``url`` is absolute."""

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply: ...


def is_loopback(base_url: str) -> bool:
    parts = urlsplit(base_url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def _parse_body(content: bytes, content_type: str) -> Any:
    if not content:
        return None
    if "json" in content_type.lower() or content[:1] in (b"{", b"["):
        try:
            return json.loads(content)
        except ValueError:
            return content
    return content


class SdkSender:
    """Sends through msgraph-sdk's ``GraphRequestAdapter`` (auth provider + middleware), native responses."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        from kiota_abstractions.method import Method
        from kiota_abstractions.native_response_handler import NativeResponseHandler
        from kiota_abstractions.request_information import RequestInformation
        from kiota_http.middleware.options.response_handler_option import ResponseHandlerOption

        info = RequestInformation()  # a fresh HeadersCollection per request (kiota-python#507)
        info.http_method = Method[method.upper()]
        info.url = url
        for name, value in headers.items():
            info.headers.add(name, value)
        if body is not None:
            info.content = body
            info.headers.try_add("Content-Type", "application/json")
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        response = await self.adapter.send_async(info, None, None)
        return Reply(
            int(response.status_code),
            {k: v for k, v in response.headers.items()},
            _parse_body(response.content, response.headers.get("content-type", "")),
        )


@dataclass
class GraphConnection:
    """A connected request adapter plus what it owns: close it with ``aclose`` (once), in its own loop."""

    base_url: str
    adapter: Any
    http_client: Any
    credential: Any | None
    owns_credential: bool
    loop: asyncio.AbstractEventLoop | None

    def sender(self) -> SdkSender:
        return SdkSender(self.adapter)

    def service_client(self) -> Any:
        """A ``GraphServiceClient`` over the same adapter, for code that wants the SDK's typed builders."""
        from msgraph.graph_service_client import GraphServiceClient

        return GraphServiceClient(request_adapter=self.adapter)

    async def aclose(self) -> None:
        await self.http_client.aclose()
        if self.credential is not None and self.owns_credential:
            close = getattr(self.credential, "close", None)
            if close is not None:
                result = close()
                if asyncio.iscoroutine(result):
                    await result


def _default_credential(env: Mapping[str, str]) -> Any:
    """Managed identity in Azure; secret or certificate as the documented fallback; else DefaultAzureCredential."""
    from azure.identity.aio import (
        CertificateCredential,
        ClientSecretCredential,
        DefaultAzureCredential,
        ManagedIdentityCredential,
    )

    tenant, client = env.get("AZURE_TENANT_ID"), env.get("AZURE_CLIENT_ID")
    if tenant and client and env.get("AZURE_CLIENT_SECRET"):
        return ClientSecretCredential(tenant, client, env["AZURE_CLIENT_SECRET"])
    if tenant and client and env.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        return CertificateCredential(
            tenant, client, env["AZURE_CLIENT_CERTIFICATE_PATH"], password=env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        )
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        return ManagedIdentityCredential(client_id=client) if client else ManagedIdentityCredential()
    return DefaultAzureCredential()


def connect(
    base_url: str = GRAPH_V1,
    credential: Any | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout_seconds: float = 60.0,
) -> GraphConnection:
    """Build msgraph-sdk's request adapter for ``base_url``. Call inside the event loop that will use it."""
    import httpx
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

    base_url = base_url.rstrip("/")
    parts = urlsplit(base_url)
    loopback = is_loopback(base_url)
    if parts.scheme != "https" and not loopback:
        raise ValueError(f"Graph base URL must be https (plain http only on loopback): {base_url}")
    owns = False
    if credential is None and loopback:
        auth: Any = AnonymousAuthenticationProvider()
    else:
        if credential is None:
            credential = _default_credential(os.environ if env is None else env)
            owns = True
        scopes = [f"{parts.scheme}://{parts.hostname}/.default"]
        auth = AzureIdentityAuthenticationProvider(credential, scopes=scopes)
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(timeout=httpx.Timeout(timeout_seconds, connect=30.0)),
        # Retries are ours (GraphTransport): bounded total wait, Retry-After in $batch too, GraphThrottled past it.
        options={RetryHandlerOption.get_key(): RetryHandlerOption(delay=0, max_retries=0, should_retry=False)},
    )
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = base_url
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    return GraphConnection(base_url, adapter, http_client, credential, owns, loop)


# ---------------------------------------------------------------------------------------------------- transport


@dataclass
class TransportStats:
    http_requests: int = 0  # HTTP exchanges with Graph ($batch counts once)
    graph_requests: int = 0  # requests Graph served (each $batch item counts; the $batch envelope does not)
    batches: int = 0
    retries: int = 0
    waited_seconds: float = 0.0

    def reset(self) -> None:
        self.http_requests = self.graph_requests = self.batches = self.retries = 0
        self.waited_seconds = 0.0


class GraphTransport:
    """Raw Graph requests with bounded retries and ``$batch``.

    - 429/503/504: wait ``Retry-After`` (else exponential backoff from ``backoff_seconds``) and retry, as long as
      the total wait of this call stays within ``retry_budget_seconds``; past it, ``GraphThrottled`` with the
      delay Graph last asked for.
    - every other status is returned to the caller (the gateway turns 403/404 into ``unavailable`` entries).
    - ``many`` sends up to 20 requests per ``$batch`` (``batching=True``), matches answers by id (Graph answers
      out of order) and retries throttled items in a later batch; with ``batching=False`` it sends them one by one.
    """

    def __init__(
        self,
        sender: Sender,
        base_url: str,
        *,
        batching: bool = True,
        retry_budget_seconds: float = 30.0,
        max_attempts: int = 8,
        backoff_seconds: float = 0.5,
        concurrency: int = 8,
        mailbox_concurrency: int = MAILBOX_CONCURRENCY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sender = sender
        self.base_url = base_url.rstrip("/")
        self.batching = batching
        self.retry_budget_seconds = retry_budget_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.stats = TransportStats()
        self._gate = asyncio.Semaphore(concurrency)
        self.pacer = MailboxPacer(mailbox_concurrency)  # Graph's 4 concurrent requests per mailbox (pacing.py)

    # ------------------------------------------------------------------ URLs
    def absolute(self, url: str) -> str:
        return url if url.lower().startswith(("http://", "https://")) else self.base_url + "/" + url.lstrip("/")

    def relative(self, url: str) -> str:
        """The form ``$batch`` wants: ``/users/x?...`` without the base (nextLinks are absolute)."""
        if url.lower().startswith(self.base_url.lower()):
            return url[len(self.base_url) :] or "/"
        if url.lower().startswith(("http://", "https://")):
            parts = urlsplit(url)
            path = parts.path
            for prefix in ("/v1.0", "/beta"):
                if path.startswith(prefix):
                    path = path[len(prefix) :]
            return path + (f"?{parts.query}" if parts.query else "")
        return "/" + url.lstrip("/")

    # ------------------------------------------------------------------ one request
    async def _exchange(self, request: Request) -> Reply:
        body = None if request.body is None else json.dumps(request.body).encode("utf-8")
        async with self.pacer.hold_urls([request.url]), self._gate:
            self.stats.http_requests += 1
            reply = await self.sender.send(request.method, self.absolute(request.url), dict(request.headers), body)
        return reply

    def _delay(self, reply: Reply, attempt: int) -> float:
        asked = reply.retry_after()
        if asked is not None:
            return asked
        return float(self.backoff_seconds * (2**attempt) + random.uniform(0, self.backoff_seconds))  # noqa: S311

    async def _wait(self, delay: float, waited: float, url: str, status: int) -> float:
        if waited + delay > self.retry_budget_seconds:
            raise GraphThrottled(delay, url, status)
        self.stats.retries += 1
        self.stats.waited_seconds += delay
        await self.sleep(delay)
        return waited + delay

    async def send(self, request: Request) -> Reply:
        waited = 0.0
        for attempt in range(self.max_attempts):
            reply = await self._exchange(request)
            if reply.status not in RETRY_STATUSES:
                self.stats.graph_requests += 1
                return reply
            if attempt == self.max_attempts - 1:
                raise GraphThrottled(self._delay(reply, attempt), request.url, reply.status)
            waited = await self._wait(self._delay(reply, attempt), waited, request.url, reply.status)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return await self.send(Request("GET", url, dict(headers or {})))

    # ------------------------------------------------------------------ many requests
    async def many(self, requests: Sequence[Request]) -> list[Reply]:
        """Answers in the order of ``requests``."""
        if not requests:
            return []
        if not self.batching or len(requests) == 1:
            return list(await asyncio.gather(*(self.send(r) for r in requests)))
        chunks = [list(range(i, min(i + MAX_BATCH, len(requests)))) for i in range(0, len(requests), MAX_BATCH)]
        results: list[Reply | None] = [None] * len(requests)
        await asyncio.gather(*(self._batch(requests, chunk, results) for chunk in chunks))
        return [r for r in results if r is not None]

    async def _batch(self, requests: Sequence[Request], indexes: list[int], results: list[Reply | None]) -> None:
        pending = list(indexes)
        waited = 0.0
        attempt = 0
        while pending:
            if len(pending) == 1:
                results[pending[0]] = await self.send(requests[pending[0]])
                return
            # Graph runs a batch's items in parallel: at most 4 per mailbox per envelope, the rest in the next one.
            sendable, deferred = self.pacer.split_batch(pending, [r.url for r in requests])
            payload = {"requests": [self._batch_item(i, requests[i]) for i in sendable]}
            self.stats.batches += 1
            async with self.pacer.hold_urls([requests[i].url for i in sendable]):
                outer = await self._send_with_retry(Request("POST", "/$batch", {}, payload))
            if not outer.ok:
                raise (
                    GraphThrottled(0.0, "/$batch", outer.status)
                    if outer.status in RETRY_STATUSES
                    else (_batch_failure(outer))
                )
            answers = {str(a.get("id")): a for a in outer.json.get("responses", []) if isinstance(a, dict)}
            again: list[int] = []
            delay = 0.0
            for i in sendable:
                answer = answers.get(str(i))
                if answer is None:
                    again.append(i)
                    continue
                headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
                reply = Reply(int(answer.get("status", 500)), headers, answer.get("body"))
                if reply.status in RETRY_STATUSES:
                    again.append(i)
                    delay = max(delay, self._delay(reply, attempt))
                    continue
                self.stats.graph_requests += 1
                results[i] = reply
            pending = sorted(again + deferred)
            if again:
                if attempt >= self.max_attempts - 1:
                    raise GraphThrottled(delay, requests[again[0]].url)
                waited = await self._wait(delay, waited, requests[again[0]].url, 429)
                attempt += 1

    async def _send_with_retry(self, request: Request) -> Reply:
        reply = await self.send(request)
        self.stats.graph_requests -= 1  # the envelope is not a Graph request of its own
        return reply

    def _batch_item(self, index: int, request: Request) -> JSON:
        item: JSON = {"id": str(index), "method": request.method, "url": self.relative(request.url)}
        headers = dict(request.headers)
        if request.body is not None:
            item["body"] = request.body
            headers.setdefault("Content-Type", "application/json")
        if headers:
            item["headers"] = headers
        return item

    # ------------------------------------------------------------------ paging
    async def follow(self, first: Reply, item_key: str = "value") -> tuple[list[JSON], Reply]:
        """All items of a collection whose first page is ``first``: ``@odata.nextLink`` followed to the end.
        Returns the items and the last reply (not ok when a later page failed)."""
        items = [x for x in first.json.get(item_key, []) if isinstance(x, dict)]
        reply = first
        link = first.json.get("@odata.nextLink")
        while reply.ok and isinstance(link, str) and link:
            reply = await self.get(link)
            if reply.ok:
                items.extend(x for x in reply.json.get("value", []) if isinstance(x, dict))
                link = reply.json.get("@odata.nextLink")
        return items, reply

    async def get_all(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[list[JSON], Reply]:
        first = await self.get(url, headers)
        if not first.ok:
            return [], first
        return await self.follow(first)


def _batch_failure(reply: Reply) -> Exception:
    from shared.graph.errors import GraphError

    return GraphError(reply.status, reply.error_text(), "/$batch")


def monotonic() -> float:
    return time.monotonic()
