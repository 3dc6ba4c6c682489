"""Who is calling an admin route, from App Service Authentication (Easy Auth) with Entra ID.

The platform signs the caller in, strips any ``X-MS-CLIENT-PRINCIPAL*`` header a client sent, and passes the
signed-in principal as ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON: ``auth_typ``, ``claims`` [{typ, val}],
``name_typ``, ``role_typ``). App roles arrive as ``roles`` claims (or under ``role_typ``). A function key
alone is therefore not enough: without a principal holding the role, the admin routes refuse.

Fail closed: in Azure (``WEBSITE_SITE_NAME`` set) with App Service Authentication off (``WEBSITE_AUTH_ENABLED``
not true), the header could come from anyone holding a function key, so every admin request is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

READER = "vcaudit.reader"
ADMIN = "vcaudit.admin"
PRINCIPAL_HEADER = "x-ms-client-principal"
ROLE_CLAIM_TYPES = frozenset({"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"})
NAME_CLAIM_TYPES = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
MAX_HEADER = 16_384


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        """Admins may read too."""
        return role in self.roles or (role == READER and ADMIN in self.roles)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 401: nobody signed in; 403: signed in without the role, or authentication off
    reason: str


def principal(headers: Mapping[str, str]) -> Principal | None:
    """The signed-in principal from the Easy Auth header, or None when absent or malformed."""
    raw = next((v for k, v in headers.items() if k.lower() == PRINCIPAL_HEADER), None)
    if not raw or len(raw) > MAX_HEADER:
        return None
    try:
        data = json.loads(base64.b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or str(data.get("auth_typ", "")).lower() != "aad":
        return None
    claims = data.get("claims")
    if not isinstance(claims, list):
        return None
    role_types = set(ROLE_CLAIM_TYPES)
    if isinstance(data.get("role_typ"), str):
        role_types.add(data["role_typ"])
    name_types = (data["name_typ"],) if isinstance(data.get("name_typ"), str) else ()
    roles: set[str] = set()
    names: dict[str, str] = {}
    for claim in claims:
        if not isinstance(claim, dict):
            continue
        if not isinstance(claim.get("typ"), str) or not isinstance(claim.get("val"), str):
            continue
        if claim["typ"] in role_types:
            roles.add(claim["val"])
        names.setdefault(claim["typ"], claim["val"])
    name = next((names[t] for t in (*name_types, *NAME_CLAIM_TYPES) if names.get(t)), "")
    if not name:
        return None
    return Principal(" ".join(name.split())[:200], frozenset(roles))


def authorise(headers: Mapping[str, str], role: str, env: Mapping[str, str]) -> Principal | Refusal:
    """The caller when they hold ``role``; else why not."""
    if env.get("WEBSITE_SITE_NAME") and env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() != "true":
        return Refusal(403, "App Service Authentication is not enabled for this app; admin routes are refused "
                            "(see the README, Admin guide)")
    who = principal(headers)
    if who is None:
        return Refusal(401, "sign in with Entra ID (App Service Authentication)")
    if not who.may(role):
        return Refusal(403, f"the app role {role} is required")
    return who
