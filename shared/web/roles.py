"""Who is looking at the desk, and what they may see and do.

App roles (Entra ID app roles on the Function App's registration, assigned to people or groups):

- ``vcaudit.dsl``: the Designated Safeguarding Lead (and deputies): every page, with names; decides on concerns.
- ``vcaudit.admin``: the DSL's view plus the consent register (CSV import) and exemptions.
- ``vcaudit.governor``: counts and trends only; never a name, a meeting subject or a decision form.

The principal comes from App Service Authentication's ``X-MS-CLIENT-PRINCIPAL`` header (parsed by
``shared.admin.auth.principal``). The header is trusted only when the platform says App Service Authentication
is on (``WEBSITE_AUTH_ENABLED=true``): the platform then strips any copy a client sent
(https://learn.microsoft.com/en-us/azure/app-service/configure-authentication-user-identities). Without that,
nobody is signed in, except in local development: ``VCAUDIT_LOCAL_SIGNIN=true`` outside Azure (no
``WEBSITE_SITE_NAME``) lets a developer choose a role, shown under a "local" banner. In Azure, local sign-in is
refused whatever the setting says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.admin.auth import ADMIN, principal

DSL = "vcaudit.dsl"
GOVERNOR = "vcaudit.governor"
ROLE_NAMES = {ADMIN: "Admin", DSL: "DSL", GOVERNOR: "Governor"}
LOCAL_ROLES = {"dsl": DSL, "admin": ADMIN, "governor": GOVERNOR}
LOCAL_COOKIE = "vcaudit-local-role"


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str
    role: str  # one of DSL, ADMIN, GOVERNOR: the strongest the principal holds
    local: bool = False  # signed in by the local-development switch, never in Azure

    @property
    def sees_names(self) -> bool:
        return self.role in (DSL, ADMIN)

    @property
    def decides(self) -> bool:
        return self.role in (DSL, ADMIN)

    @property
    def administers(self) -> bool:
        return self.role == ADMIN

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


@dataclass(frozen=True, slots=True)
class NotSignedIn:
    status: int  # 401 nobody; 403 signed in without a desk role, or authentication off
    reason: str
    may_sign_in_locally: bool = False


def in_azure(env: Mapping[str, str]) -> bool:
    return bool(env.get("WEBSITE_SITE_NAME"))


def platform_auth_on(env: Mapping[str, str]) -> bool:
    return env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true"


def local_signin_allowed(env: Mapping[str, str], local_setting: bool) -> bool:
    """Local sign-in: only when the setting asks for it and the app is not running in Azure."""
    return local_setting and not in_azure(env)


def strongest(roles: frozenset[str]) -> str | None:
    for role in (ADMIN, DSL, GOVERNOR):
        if role in roles:
            return role
    return None


def viewer(headers: Mapping[str, str], cookies: Mapping[str, str], env: Mapping[str, str], *,
           local_setting: bool) -> Viewer | NotSignedIn:
    """The signed-in viewer, or why nobody is."""
    if local_signin_allowed(env, local_setting):
        chosen = LOCAL_ROLES.get(cookies.get(LOCAL_COOKIE, ""))
        if chosen is None:
            return NotSignedIn(401, "choose a role to sign in locally", may_sign_in_locally=True)
        return Viewer(f"Local {ROLE_NAMES[chosen]}", chosen, local=True)
    if not platform_auth_on(env):
        return NotSignedIn(403, "App Service Authentication is not enabled for this app, so nobody can sign in "
                                "to the desk (see the README, The DSL's desk)")
    who = principal(headers)
    if who is None:
        return NotSignedIn(401, "sign in with your school account")
    role = strongest(who.roles)
    if role is None:
        return NotSignedIn(403, "your account has no role on the desk (DSL, Admin or Governor); ask the IT admin")
    return Viewer(who.name, role)
