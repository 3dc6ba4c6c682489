"""The deployed policy is found from any working directory: the Functions host does not promise the worker runs
in the app root. A relative ``VCAUDIT_POLICY_FILE`` names a file of the deployed package, for every part that
reads it — the pipeline, the digest, the same-day alerts and the admin commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import Azurite
from shared import runtime as runtime_module
from shared.digest.collect import MailContext
from shared.policy.deployed import APP_ROOT
from shared.runtime import Runtime
from shared.store.connection import StorageConfig
from shared.store.tables import Stores

from .conftest import MONDAY_AFTER, make_settings, run

SHIPPED = str(APP_ROOT / "policy.toml")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process runs in a directory that has no policy.toml (nor anything else of the app)."""
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "policy.toml").exists()
    return tmp_path


@dataclass
class Transport:
    """Enough of a Graph transport for a mail sender that is never asked to send."""

    sender: Any = None
    base_url: str = "https://graph.invalid/v1.0"


@pytest.fixture
def app(azurite: Azurite, storage_prefix: str) -> Iterator[Runtime]:
    value = Runtime(make_settings(VCAUDIT_POLICY_FILE="policy.toml"),
                    StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix,
                    graph_transport=Transport())
    runtime_module.use(value)
    yield value
    runtime_module.use(None)


def test_the_pipeline_loads_the_shipped_policy_from_elsewhere(elsewhere: Path, app: Runtime) -> None:
    assert app.policy.source == SHIPPED
    assert app.pipeline.policy is app.policy  # loaded once, handed on


def test_the_digest_loads_the_shipped_policy_from_elsewhere(elsewhere: Path, stores: Stores) -> None:
    ctx = MailContext.open(stores, make_settings(VCAUDIT_POLICY_FILE="policy.toml"))
    assert ctx.policy.source == SHIPPED
    assert "Elmgrove" in ctx.policy.name


def test_the_alert_and_digest_timers_run_from_elsewhere(elsewhere: Path, app: Runtime) -> None:
    from functions.mail import alert_tick, digest_tick

    flushed = run(alert_tick(MONDAY_AFTER))
    assert flushed.sent == [] and flushed.registered == []
    run(digest_tick(MONDAY_AFTER.replace(hour=3)))  # before the digest's hour: nothing to send, no error


def test_same_day_alerts_from_the_pipeline_from_elsewhere(elsewhere: Path, app: Runtime,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from shared.graph.session import Graph

    async def graph(runtime: Any) -> Graph:
        return Graph(Transport(), None, None)  # type: ignore[arg-type]

    app.pipeline_options = {"graph_factory": graph}
    with caplog.at_level("ERROR", logger="vcaudit.pipeline"):
        # registering is part of the evaluation now: a policy not found from here would raise
        app.pipeline.evaluator.alert(["2026-W47|unknown-occurrence|uninvited-attendee|x"], [])
    assert not [r for r in caplog.records if "alerts could not be registered" in r.getMessage()]


def test_the_digest_command_loads_the_shipped_policy_from_elsewhere(elsewhere: Path, azurite: Azurite,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.commands.digest import _open

    monkeypatch.setenv("VCAUDIT_POLICY_FILE", "policy.toml")
    ctx = _open(argparse.Namespace(connection_string=azurite.connection_string))
    assert ctx.policy.source == SHIPPED
