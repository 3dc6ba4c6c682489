"""Health names each Microsoft Graph permission vcaudit's identity lacks, read from the roles claim of its own
app-only token (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference), so a
half-finished grant is visible; and the list it checks is the one the deployment grants."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.graph.permissions import (
    ADHOC_CALLS,
    ALWAYS,
    ENFORCE,
    FALLBACK,
    granted_app_roles,
    missing_app_roles,
    roles_in_token,
    wanted_app_roles,
)
from shared.graph.subscriptions import StoredSubscription
from shared.health import assess
from shared.settings import Settings

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
PERMISSIONS_FILE = Path(__file__).resolve().parents[2] / "infra" / "graph-permissions.json"


def token(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.signature"


class FakeCredential:
    def __init__(self, value: str) -> None:
        self.value = value
        self.scopes: list[str] = []

    def get_token(self, scope: str) -> Any:
        self.scopes.append(scope)
        return type("AccessToken", (), {"token": self.value})()


def live_subscription() -> StoredSubscription:
    return StoredSubscription("/users/x/events", "c" * 64, "sub-1", NOW + timedelta(days=2))


def test_the_roles_claim_is_read_from_the_token() -> None:
    assert roles_in_token(token({"roles": ["User.Read.All", "CallRecords.Read.All"]})) == {
        "User.Read.All", "CallRecords.Read.All"}
    assert roles_in_token(token({"aud": "x"})) == frozenset()
    assert roles_in_token("not-a-jwt") is None
    assert roles_in_token("a.%%%.c") is None


def test_health_names_each_missing_permission() -> None:
    held = frozenset(ALWAYS) - {"GroupMember.Read.All", "OnlineMeetings.Read.All"}
    report = assess(subscriptions=[live_subscription()], state={}, depths={}, now=NOW, graph_roles=held,
                    wanted_roles=wanted_app_roles(Settings()))
    assert report.status_code == 503
    named = [p for p in report.problems if p.startswith("Microsoft Graph permission")]
    assert [p.split()[3] for p in named] == ["OnlineMeetings.Read.All", "GroupMember.Read.All"]
    assert report.details["graphPermissions"]["missing"] == ["OnlineMeetings.Read.All", "GroupMember.Read.All"]


def test_all_permissions_granted_is_healthy_and_unknown_says_nothing() -> None:
    wanted = wanted_app_roles(Settings())
    full = assess(subscriptions=[live_subscription()], state={}, depths={}, now=NOW,
                  graph_roles=frozenset(wanted), wanted_roles=wanted)
    assert full.healthy, full.problems
    unknown = assess(subscriptions=[live_subscription()], state={}, depths={}, now=NOW, graph_roles=None,
                     wanted_roles=wanted)
    assert unknown.healthy and "graphPermissions" not in unknown.details


def test_optional_permissions_are_wanted_only_when_the_settings_say_they_were_chosen() -> None:
    base = Settings()
    assert set(wanted_app_roles(base)) == set(ALWAYS)
    assert missing_app_roles(frozenset(ALWAYS), base) == []
    adhoc = replace(base, watch_adhoc_calls=True)
    assert missing_app_roles(frozenset(ALWAYS), adhoc) == list(ADHOC_CALLS)
    enforce = replace(base, enforce_allowed=True)
    assert missing_app_roles(frozenset(ALWAYS), enforce) == list(ENFORCE)
    assert not set(FALLBACK) & set(wanted_app_roles(replace(adhoc, enforce_allowed=True)))


def test_the_token_is_asked_for_graphs_scope_and_only_in_azure() -> None:
    credential = FakeCredential(token({"roles": list(ALWAYS)}))
    assert granted_app_roles(Settings(), {}, credential=credential) == frozenset(ALWAYS)
    assert credential.scopes == ["https://graph.microsoft.com/.default"]
    assert granted_app_roles(Settings(), {}) is None  # no managed identity advertised: not in Azure
    simulator = replace(Settings(), graph_base_url="http://127.0.0.1:8080/v1.0")
    assert granted_app_roles(simulator, {"IDENTITY_ENDPOINT": "http://x"}) is None


def test_a_credential_that_fails_leaves_permissions_unknown() -> None:
    class Broken:
        def get_token(self, scope: str) -> Any:
            raise RuntimeError("no identity")

    assert granted_app_roles(Settings(), {}, credential=Broken()) is None


def test_the_checked_list_is_the_deployed_list() -> None:
    catalogue = json.loads(PERMISSIONS_FILE.read_text())["applicationPermissions"]
    always = {p["permission"] for p in catalogue if not p.get("optional")}
    by_switch: dict[str, set[str]] = {}
    for entry in catalogue:
        if entry.get("optional"):
            by_switch.setdefault(entry["grantedWhen"]["variable"], set()).add(entry["permission"])
    assert always == set(ALWAYS)
    assert by_switch == {"GRANT_EDUROSTER_FALLBACK": set(FALLBACK), "VCAUDIT_WATCH_ADHOC_CALLS": set(ADHOC_CALLS),
                         "VCAUDIT_ENFORCE_ALLOWED": set(ENFORCE)}
