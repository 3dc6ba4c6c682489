"""The desk served as the Function App serves it: the registered HTTP functions through the local runner on
loopback, Azurite holding the sample week and seven replayed weeks before it (``devtools.digest_preview``), local
sign-in switched on (as ``make serve`` does), Graph's directory answered by a recorded sender for the consent
import."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.digest_preview import record_demo
from devtools.runner import LocalRunner
from shared import runtime as runtime_module
from shared.graph.client import GraphTransport
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.store.connection import StorageConfig
from tests.admin.test_api import PUPILS_GROUP, TENANT, DirectorySender

WEEK = "2026-W47"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # the Monday after the sample week


@dataclass
class Stack:
    url: str  # .../api/desk
    runtime: Runtime
    runner: LocalRunner
    clock: list[float]


@pytest.fixture(scope="module")
def stack(azurite: Azurite, app_functions: dict[str, Any]) -> Iterator[Stack]:
    saved = {k: os.environ.pop(k, None) for k in ("WEBSITE_SITE_NAME", "WEBSITE_AUTH_ENABLED")}
    settings = load_settings({"VCAUDIT_TENANT_ID": TENANT, "VCAUDIT_STAFF_GROUP_IDS": PUPILS_GROUP,
                              "VCAUDIT_PUPIL_GROUP_IDS": PUPILS_GROUP, "VCAUDIT_LOCAL_SIGNIN": "true"})
    prefix = "desk" + os.urandom(4).hex()
    app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=prefix,
                  graph_transport=GraphTransport(DirectorySender(), "https://graph.microsoft.com/v1.0"))
    record_demo(app.stores)
    clock = [NOW.timestamp()]
    app.pipeline_options = {"clock": lambda: clock[0]}
    runtime_module.use(app)
    runner = LocalRunner(app_functions.values(), app.queues)
    base = runner.start_http()
    app.settings = replace(app.settings, web_base_url=base + "/api/desk")  # the digest's links
    try:
        yield Stack(base + "/api/desk", app, runner, clock)
    finally:
        runner.stop()
        runtime_module.use(None)
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], str]:
    """One HTTP request without following redirects: (status, headers, text)."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, dict(response.headers.items()), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read().decode("utf-8", "replace")


def principal_header(name: str, *roles: str) -> str:
    claims = [{"typ": "name", "val": name}, *({"typ": "roles", "val": r} for r in roles)]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()
