"""Fixtures for the Graph simulator's own tests: a generated school, a running simulator, a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devtools.graphsim import GraphSimulator, Tenant, generate


@pytest.fixture(scope="session")
def school() -> Tenant:
    """One generated primary school week; tests that mutate take ``school.copy()``."""
    return generate.primary_school(seed=1)


@pytest.fixture
def sim(school: Tenant) -> Iterator[GraphSimulator]:
    """A simulator over the shared school: tests must not mutate its tenant (use ``fresh_sim``)."""
    with GraphSimulator(school, redelivery_backoff=0.01) as simulator:
        yield simulator


@pytest.fixture
def fresh_sim(school: Tenant) -> Iterator[GraphSimulator]:
    """A simulator over a private copy of the school, for tests that change the tenant."""
    with GraphSimulator(school.copy(), redelivery_backoff=0.01) as simulator:
        yield simulator


@pytest.fixture
def http(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Webhook:
    """A loopback webhook: echoes validation tokens (behaviour adjustable) and records every POST."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    echo: Callable[[str], str] = lambda token: token
    echo_delay: float = 0.0
    echo_content_type: str = "text/plain; charset=utf-8"
    # Status codes to answer notification POSTs with, consumed in order; then 202.
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifications(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if "validationToken" not in r.query]

    def validations(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if "validationToken" in r.query]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = parse_qs(split.query)
            with hook.lock:
                hook.received.append(Received(split.path, query, {k.lower(): v for k, v in self.headers.items()}, body))
            if "validationToken" in query:
                if hook.echo_delay:
                    time.sleep(hook.echo_delay)
                payload = hook.echo(query["validationToken"][0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", hook.echo_content_type)
            else:
                with hook.lock:
                    status = hook.statuses.pop(0) if hook.statuses else 202
                payload = b""
                self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
