"""Which Microsoft Graph application permissions (app roles) vcaudit's identity needs, and which it holds.

The list mirrors ``infra/graph-permissions.json`` (the infrastructure test keeps them equal): the permissions
always granted, and the optional ones the app settings say were chosen (``VCAUDIT_WATCH_ADHOC_CALLS``,
``VCAUDIT_ENFORCE_ALLOWED``). ``EduRoster.Read.All`` is a fallback the app works without, so it is never
"missing". Mailbox permissions are granted through Exchange RBAC for Applications and never appear here.

What the identity holds is read from the ``roles`` claim of its own app-only Graph token: for an application
token, ``roles`` lists the application permissions granted to it
(https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference). The token is the app's
own and is only read, never trusted for anything else. Managed-identity tokens are cached for hours, so a
permission granted moments ago may appear only later
(https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/managed-identity-best-practice-recommendations).
Pure except :func:`granted_app_roles`, which imports azure-identity only when called in Azure.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shared.settings import Settings

ALWAYS = (
    "OnlineMeetings.Read.All",
    "OnlineMeetingArtifact.Read.All",
    "CallRecords.Read.All",
    "OnlineMeetingRecording.Read.All",
    "OnlineMeetingTranscript.Read.All",
    "User.Read.All",
    "GroupMember.Read.All",
    "Channel.ReadBasic.All",
)
ADHOC_CALLS = ("CallRecordings.Read.All", "CallTranscripts.Read.All")
ENFORCE = ("OnlineMeetings.ReadWrite.All",)
FALLBACK = ("EduRoster.Read.All",)  # optional, never reported missing


def wanted_app_roles(settings: Settings) -> tuple[str, ...]:
    wanted = list(ALWAYS)
    if settings.watch_adhoc_calls:
        wanted += ADHOC_CALLS
    if settings.enforce_allowed:
        wanted += ENFORCE
    return tuple(wanted)


def roles_in_token(token: str) -> frozenset[str] | None:
    """The ``roles`` claim of a JWT access token (payload only, not verified); None when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles", [])
    if not isinstance(roles, list):
        return None
    return frozenset(str(role) for role in roles)


def missing_app_roles(granted: frozenset[str], settings: Settings) -> list[str]:
    return [role for role in wanted_app_roles(settings) if role not in granted]


def granted_app_roles(settings: Settings, env: Mapping[str, str] | None = None,
                      credential: Any | None = None) -> frozenset[str] | None:
    """The Graph app roles in the identity's token, in Azure (a managed identity is advertised); None elsewhere
    (local stack, simulator) or when no token can be had (health then says nothing about permissions)."""
    env = os.environ if env is None else env
    parts = urlsplit(settings.graph_base_url)
    if credential is None:
        if parts.scheme != "https" or not (env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT")):
            return None
        from azure.identity import ManagedIdentityCredential

        client = env.get("AZURE_CLIENT_ID")
        credential = ManagedIdentityCredential(client_id=client) if client else ManagedIdentityCredential()
    try:
        token = credential.get_token(f"{parts.scheme}://{parts.hostname}/.default").token
    except Exception:  # no token: nothing to say about permissions; the other checks still run
        return None
    return roles_in_token(str(token))
