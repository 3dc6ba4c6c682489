"""The local runner stands in for the Functions host over real HTTP: function keys checked before any handler
runs, the query decoded once, the handlers' headers passed on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devtools.runner import LocalRunner
from shared.runtime import Runtime

KEY = "local-function-key-0123456789"


@pytest.fixture
def base(app_functions: dict[str, Any], app_runtime: Runtime) -> Iterator[str]:
    runner = LocalRunner(app_functions.values(), app_runtime.queues, keys=[KEY])
    url = runner.start_http()
    try:
        yield url
    finally:
        runner.stop()


def test_function_level_routes_need_a_function_key(base: str) -> None:
    with httpx.Client(timeout=10) as client:
        for path in ("/api/health", "/api/graph/notifications?validationToken=abc", "/api/findings"):
            method = "POST" if "graph" in path else "GET"
            assert client.request(method, base + path).status_code == 401, path
            sep = "&" if "?" in path else "?"
            assert client.request(method, base + path + sep + "code=wrong-key").status_code == 401, path
        assert client.get(base + "/api/health?code=" + KEY).status_code in (200, 503)
        assert client.get(base + "/api/health", headers={"x-functions-key": KEY}).status_code in (200, 503)


def test_the_handshake_token_is_decoded_once_and_echoed_with_nosniff(base: str) -> None:
    token = "Validation: Testing client application reachability a+b %2B <b>"
    with httpx.Client(timeout=10) as client:
        reply = client.post(f"{base}/api/graph/notifications?code={KEY}&validationToken={quote(token, safe='')}",
                            content=b"")
    assert reply.status_code == 200
    assert reply.text == token
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.headers["x-content-type-options"] == "nosniff"
