"""The admin tools against Azurite: a recorded sample week (samples/elmgrove-week through the real engine and
recorder), the admin tables with the same per-test prefix, and a runner for the admin subcommands."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devtools.azurite import Azurite
from shared.admin.context import Admin, open_admin
from shared.commands import annotate, consent, exemption, findings, records
from shared.engine import evaluate_raw
from shared.evidence.times import parse_instant
from shared.store.connection import StorageConfig
from shared.store.findings import MeetingFacts
from shared.store.keys import week_of
from shared.store.tables import Stores, open_stores

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "elmgrove-week"
LONDON = ZoneInfo("Europe/London")
WEEK = "2026-W47"
AFTER_THE_WEEK = datetime(2026, 11, 23, 9, tzinfo=UTC)
MODULES = (findings, annotate, exemption, consent, records)


def sample_names() -> list[str]:
    return sorted(p.stem for p in SAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))


def sample(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return value


def occurrence_of(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def facts(name: str, bundle: dict[str, Any]) -> MeetingFacts:
    meeting = bundle.get("onlineMeeting") or {}
    start = parse_instant(meeting["startDateTime"]) if meeting else parse_instant(bundle["callRecord"]["startDateTime"])
    organiser = ((meeting.get("participants") or {}).get("organizer") or {}).get("identity", {}).get("user", {})
    organiser_id = organiser.get("id")
    if organiser_id is None and "callRecord" in bundle:
        identity = (bundle["callRecord"].get("organizer_v2") or {}).get("identity") or {}
        organiser_id = identity.get("user", {}).get("id")
    user = bundle["directory"]["users"].get(organiser_id or "", {})
    thread = ((meeting.get("chatInfo") or {}).get("threadId") or "")
    team = None
    if thread.endswith("@thread.tacv2"):
        team = next((t["displayName"] for t in bundle["directory"]["classTeams"]
                     if any(c.lower() == thread.lower() for c in t.get("channelIds", []))), None)
    return MeetingFacts(occurrence_of(name), week_of(start, LONDON), start, start + 2700, meeting.get("subject"),
                        organiser_id, user.get("displayName"), team)


@dataclass
class Week:
    """The sample week as recorded: occurrence id by sample name, and the bundles."""

    occurrences: dict[str, str]
    bundles: dict[str, dict[str, Any]]


@pytest.fixture
def stores(azurite: Azurite, storage_prefix: str) -> Stores:
    return open_stores(StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix)


@pytest.fixture
def admin(stores: Stores) -> Admin:
    return open_admin(stores, LONDON)


@pytest.fixture
def week(stores: Stores) -> Week:
    occurrences: dict[str, str] = {}
    bundles: dict[str, dict[str, Any]] = {}
    for name in sample_names():
        bundle = sample(name)
        meeting = facts(name, bundle)
        stores.recorder.record(meeting, evaluate_raw(bundle), bundle, now=AFTER_THE_WEEK.timestamp())
        occurrences[name] = meeting.occurrence_id
        bundles[name] = bundle
    return Week(occurrences, bundles)


def all_findings(stores: Stores) -> list[dict[str, Any]]:
    return [dict(r) for r in stores.findings.table.list_entities()]


@pytest.fixture
def cli(azurite: Azurite, storage_prefix: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """Run ``vcaudit ARGS`` with the admin subcommands, on this test's tables; returns (status, out, err)."""
    from shared.cli import _Parser

    monkeypatch.delenv("AzureWebJobsStorage", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        parser = _Parser(prog="vcaudit")
        commands = parser.add_subparsers(dest="command", parser_class=_Parser)
        for module in MODULES:
            module.register(commands)
        capsys.readouterr()
        try:
            args = parser.parse_args([*argv, "--connection-string", azurite.connection_string,
                                      "--table-prefix", storage_prefix])
            status = int(args.handler(args))
        except SystemExit as exc:
            status = int(exc.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return run


def namespace(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**values)
