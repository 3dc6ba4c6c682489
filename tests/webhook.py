"""A loopback webhook for the tests that subscribe to the Graph simulator: it answers validation handshakes
(echoing the token, behaviour adjustable) and records every POST it receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Webhook:
    """What the webhook received, and how it answers."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    echo: Callable[[str], str] = lambda token: token
    echo_delay: float = 0.0
    echo_content_type: str = "text/plain; charset=utf-8"
    # Status codes to answer notification POSTs with, consumed in order; then 202.
    statuses: list[int] = field(default_factory=list)
    # Called at each validation handshake (from the server thread): lets a test look at the store then.
    on_validation: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifications(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if "validationToken" not in r.query]

    def validations(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if "validationToken" in r.query]


@contextmanager
def serve_webhook() -> Iterator[Webhook]:
    """A webhook listening on a free loopback port until the block ends."""
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
                if hook.on_validation is not None:
                    hook.on_validation()
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
