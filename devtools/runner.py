"""A local stand-in for the Functions host: serves the app's HTTP functions on loopback through the same
handlers, drains the storage queues into the queue-triggered functions, and fires timers on demand.

It reads the bindings the host would index (``app.get_functions()``), so routes, queue names and auth levels
are the registered ones. Queue messages are read from Azurite and decoded as the host does (base64, per
host.json); a message that fails ``maxDequeueCount`` times moves to its poison queue, as on the host.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from functions.http import SAFETY_HEADERS

ROOT = Path(__file__).resolve().parent.parent
HOST = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
MAX_DEQUEUE = int(HOST["extensions"]["queues"]["maxDequeueCount"])


@dataclass
class Binding:
    name: str
    trigger: str  # httpTrigger, queueTrigger, timerTrigger
    handler: Callable[..., Any]
    arg: str
    route: str | None = None
    methods: tuple[str, ...] = ()
    auth_level: str = "function"  # anonymous | function | admin, as in function.json
    queue: str | None = None
    schedule: str | None = None


def bindings(functions: Iterable[Any]) -> dict[str, Binding]:
    out: dict[str, Binding] = {}
    for fn in functions:
        spec = json.loads(fn.get_function_json())
        trigger = next(b for b in spec["bindings"] if b["direction"].upper() == "IN" and b["type"].endswith("Trigger"))
        out[fn.get_function_name()] = Binding(
            fn.get_function_name(), trigger["type"], fn.get_user_function(), trigger["name"],
            route=trigger.get("route"), methods=tuple(m.upper() for m in trigger.get("methods") or ()),
            auth_level=str(trigger.get("authLevel") or "function").lower(),
            queue=trigger.get("queueName"), schedule=trigger.get("schedule"))
    return out


def _route_pattern(route: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", route.strip("/"))
    regex = "".join(f"(?P<{p[1:-1].split(':')[0].rstrip('?')}>[^/]+)" if p.startswith("{") else re.escape(p)
                    for p in parts)
    return re.compile(f"^/api/{regex}/?$")


def _complete(result: Any) -> Any:
    """Async handlers run to completion, as the host's worker would run them."""
    if inspect.isawaitable(result):
        return asyncio.run(result)  # type: ignore[arg-type]
    return result


class _Timer:
    """What a timer-triggered function receives."""

    def __init__(self, past_due: bool = False) -> None:
        self.past_due = past_due
        self.schedule_status: dict[str, Any] = {}
        self.schedule: dict[str, Any] = {}


class LocalRunner:
    """``keys``: the function keys the routes accept (``?code=`` or ``x-functions-key``), as the host's default
    function key; ``master_key`` also opens admin-level routes. Without ``keys`` a random key is made
    (``self.keys[0]``), so a route of auth level function is never open by accident."""

    def __init__(self, functions: Iterable[Any], queues: Any, *, resolve_setting: Callable[[str], str] | None = None,
                 keys: Iterable[str] | None = None, master_key: str | None = None) -> None:
        self.bindings = bindings(functions)
        self.keys = [k for k in (keys or ()) if k] or [secrets.token_urlsafe(32)]
        self.master_key = master_key or secrets.token_urlsafe(32)
        self.queues = queues  # shared.store.queues.Queues: names with the runtime's prefix
        self._resolve = resolve_setting or (lambda name: name)
        self._routes = [(_route_pattern(b.route), b) for b in self.bindings.values()
                        if b.trigger == "httpTrigger" and b.route]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.failures: list[tuple[str, str]] = []  # (function, exception type) for queue handlers that raised

    # ----- HTTP -----

    def handle_http(self, method: str, url: str, headers: dict[str, str], body: bytes) -> func.HttpResponse:
        parts = urlsplit(url)
        for pattern, binding in self._routes:
            m = pattern.match(parts.path)
            if m and method.upper() in binding.methods:
                if not self._authorised(binding, parts.query, headers):
                    return func.HttpResponse("", status_code=401, headers=dict(SAFETY_HEADERS))
                request = func.HttpRequest(method.upper(), url, headers=headers,
                                           params=dict(parse_qsl(parts.query, keep_blank_values=True)),
                                           route_params=m.groupdict(), body=body)
                response: func.HttpResponse = _complete(binding.handler(**{binding.arg: request}))
                return response
        return func.HttpResponse("not found", status_code=404, headers=dict(SAFETY_HEADERS))

    def _authorised(self, binding: Binding, query: str, headers: dict[str, str]) -> bool:
        """The host's check before any handler runs: a key in ``?code=`` or the ``x-functions-key`` header
        (https://learn.microsoft.com/en-us/azure/azure-functions/function-keys-how-to)."""
        if binding.auth_level == "anonymous":
            return True
        given = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "code"]
        given += [v for k, v in headers.items() if k.lower() == "x-functions-key"]
        accepted = [self.master_key] if binding.auth_level == "admin" else [*self.keys, self.master_key]
        return any(hmac.compare_digest(g.encode(), a.encode()) for g in given for a in accepted)

    def start_http(self, port: int = 0) -> str:
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
                try:
                    response = runner.handle_http(self.command, url, dict(self.headers.items()), body)
                except Exception:
                    response = func.HttpResponse("internal error", status_code=500, headers=dict(SAFETY_HEADERS))
                payload = response.get_body() or b""
                self.send_response(response.status_code)
                self.send_header("Content-Type", response.mimetype + (f"; charset={response.charset}"
                                                                      if response.charset else ""))
                for name, value in response.headers.items():
                    if name.lower() not in ("content-type", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # bodies and URLs stay out of the console

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ----- queues -----

    def queue_bindings(self) -> dict[str, Binding]:
        return {self._resolve(b.queue or ""): b for b in self.bindings.values() if b.trigger == "queueTrigger"}

    def drain(self, queue: str, *, max_rounds: int = 1000) -> int:
        """Deliver every visible message of one queue to its function; returns how many were handled."""
        binding = self.queue_bindings()[queue]
        handled = 0
        for _ in range(max_rounds):
            messages = self.queues.receive(queue, max_messages=32, visibility_timeout=30)
            if not messages:
                break
            for message in messages:
                handled += 1
                self._deliver(queue, binding, message)
        return handled

    def _deliver(self, queue: str, binding: Binding, message: Any) -> None:
        from shared.store.queues import poison

        body = message.content if isinstance(message.content, bytes) else str(message.content).encode()
        item = func.QueueMessage(id=message.id, body=body, pop_receipt=message.pop_receipt)
        try:
            _complete(binding.handler(**{binding.arg: item}))
        except Exception as exc:
            self.failures.append((binding.name, type(exc).__name__))
            if message.dequeue_count >= MAX_DEQUEUE:
                self.queues.client(poison(queue)).send_message(body.decode("utf-8"))
                self.queues.delete(queue, message)
            return
        self.queues.delete(queue, message)

    def drain_all(self, *, rounds: int = 20) -> int:
        total = 0
        for _ in range(rounds):
            moved = sum(self.drain(queue) for queue in self.queue_bindings())
            total += moved
            if not moved:
                break
        return total

    # ----- timers -----

    def fire(self, name: str, *, past_due: bool = False) -> None:
        binding = self.bindings[name]
        if binding.trigger != "timerTrigger":
            raise ValueError(f"{name} is not a timer")
        _complete(binding.handler(**{binding.arg: _Timer(past_due)}))

