"""The school's directory facts for evidence bundles, read from Graph and kept for a time-to-live.

What is read (permissions in the README, Graph gateway):
- staff and pupils: transitive user members of ``settings.staff_group_ids`` / ``pupil_group_ids``, with the
  user properties the rules match invitations by (``userPrincipalName``, ``mail``, ``proxyAddresses``,
  ``userType``);
- class teams (``settings.class_team_ids``): the group's name and mail, ``primaryChannel`` (General), all
  channel ids, transitive user members; each team's mail address also lands in ``groups``;
- on demand, per meeting: invited addresses that are neither a known user nor a known group (looked up as a
  mail-enabled group and expanded transitively, or as a user), and school accounts in neither group
  (``/education/users/{id}`` ``primaryRole``: ``teacher`` → staff, ``student`` → pupil);
- consent from the injected ``ConsentSource`` (the consent table later; ``StaticConsent`` in tests).

One ``DirectoryCache`` serves every meeting for ``ttl_seconds`` (default 15 min), so a week of meetings reads
the directory once, not once per meeting. ``cached=False`` (the benchmark's naive mode) reloads it every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from shared.graph.client import GraphTransport, Reply, Request

JSON = dict[str, Any]

USER_SELECT = "id,displayName,userPrincipalName,mail,userType,proxyAddresses"
USER_FIELDS = ("displayName", "userPrincipalName", "mail", "userType", "proxyAddresses")


class ConsentSource(Protocol):
    """Who has video-conferencing consent (the school's consent register)."""

    async def consented_pupils(self) -> frozenset[str]: ...


@dataclass
class StaticConsent:
    """An in-memory consent register (tests, demo)."""

    pupils: frozenset[str] = frozenset()

    async def consented_pupils(self) -> frozenset[str]:
        return self.pupils


@dataclass
class DirectoryFacts:
    tenant_id: str
    staff: list[str] = field(default_factory=list)
    pupils: list[str] = field(default_factory=list)
    users: dict[str, JSON] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # lower-cased group address -> user ids
    class_teams: list[JSON] = field(default_factory=list)
    consent: list[str] = field(default_factory=list)
    unavailable: list[JSON] = field(default_factory=list)
    # lookups done on demand
    roles: dict[str, str] = field(default_factory=dict)  # user id -> primaryRole ("none" when unknown)
    missing_addresses: set[str] = field(default_factory=set)
    missing_users: set[str] = field(default_factory=set)
    loaded_at: float = 0.0

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.staff_set = set(self.staff)
        self.pupil_set = set(self.pupils)
        self.by_address: dict[str, str] = {}
        for uid, user in self.users.items():
            for key in ("userPrincipalName", "mail"):
                value = user.get(key)
                if isinstance(value, str) and value:
                    self.by_address.setdefault(value.lower(), uid)
            for proxy in user.get("proxyAddresses") or []:
                if isinstance(proxy, str) and ":" in proxy:
                    self.by_address.setdefault(proxy.split(":", 1)[1].lower(), uid)
        self.domains = {a.rsplit("@", 1)[1] for a in self.by_address if "@" in a}
        self.domains |= {a.rsplit("@", 1)[1] for a in self.groups if "@" in a}
        self.channel_team: dict[str, JSON] = {}
        for team in self.class_teams:
            for channel in team.get("channelIds") or []:
                self.channel_team[str(channel).lower()] = team

    def role(self, user_id: str | None) -> str | None:
        if not user_id:
            return None
        if user_id in self.staff_set:
            return "staff"
        if user_id in self.pupil_set:
            return "pupil"
        return None

    def resolve_address(self, address: str) -> list[str]:
        """User ids an invited address stands for: the user, or a group's members; [] when unknown."""
        key = address.lower().removeprefix("smtp:")
        if key in self.by_address:
            return [self.by_address[key]]
        return list(self.groups.get(key, []))

    def known_address(self, address: str) -> bool:
        key = address.lower()
        return key in self.by_address or key in self.groups or key in self.missing_addresses

    def in_tenant_domain(self, address: str) -> bool:
        return "@" in address and address.rsplit("@", 1)[1].lower() in self.domains

    def block(self, group_addresses: Iterable[str] | None = None) -> JSON:
        """The bundle's ``directory``. ``group_addresses``: the groups to include (None: every known group)."""
        if group_addresses is None:
            groups = {k: list(v) for k, v in self.groups.items()}
        else:
            groups = {k: list(self.groups[k]) for k in {a.lower() for a in group_addresses} if k in self.groups}
        return {
            "tenantId": self.tenant_id,
            "staff": list(self.staff),
            "pupils": list(self.pupils),
            "users": self.users,  # shared, read-only by convention (large)
            "groups": groups,
            "classTeams": self.class_teams,
            "consent": list(self.consent),
        }


def _strip(user: JSON) -> JSON:
    return {k: user[k] for k in USER_FIELDS if k in user}


def _is_user(obj: JSON) -> bool:
    kind = str(obj.get("@odata.type") or "#microsoft.graph.user").lower()
    return kind.endswith(".user")


class DirectoryCache:
    def __init__(
        self,
        transport: GraphTransport,
        *,
        tenant_id: str,
        staff_group_ids: Iterable[str],
        pupil_group_ids: Iterable[str],
        class_team_ids: Iterable[str],
        consent: ConsentSource,
        ttl_seconds: float = 900.0,
        consent_ttl_seconds: float = 60.0,
        cached: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.tenant_id = tenant_id
        self.staff_group_ids = tuple(staff_group_ids)
        self.pupil_group_ids = tuple(pupil_group_ids)
        self.class_team_ids = tuple(class_team_ids)
        self.consent_source = consent
        self.ttl_seconds = ttl_seconds
        self.consent_ttl_seconds = consent_ttl_seconds
        self.cached = cached
        self.clock = clock
        self._facts: DirectoryFacts | None = None
        self._consent_at = -1e18
        self._lock = asyncio.Lock()
        self.loads = 0

    def invalidate(self) -> None:
        self._facts = None

    async def facts(self) -> DirectoryFacts:
        async with self._lock:
            now = self.clock()
            if not self.cached or self._facts is None or now - self._facts.loaded_at > self.ttl_seconds:
                self._facts = await self._load()
                self._facts.loaded_at = now
                self._consent_at = -1e18
            if not self.cached or now - self._consent_at > self.consent_ttl_seconds:
                self._facts.consent = sorted(await self.consent_source.consented_pupils())
                self._consent_at = now
            return self._facts

    # ------------------------------------------------------------------ the bulk load
    async def _load(self) -> DirectoryFacts:
        self.loads += 1
        t = self.transport
        members = f"/transitiveMembers/microsoft.graph.user?$select={USER_SELECT}&$top=999"
        requests: list[Request] = []
        for gid in (*self.staff_group_ids, *self.pupil_group_ids):
            requests.append(Request("GET", f"/groups/{gid}{members}"))
        for tid in self.class_team_ids:
            requests += [
                Request("GET", f"/groups/{tid}?$select=id,displayName,mail"),
                Request("GET", f"/teams/{tid}/primaryChannel?$select=id"),
                Request("GET", f"/teams/{tid}/channels?$select=id"),
                Request("GET", f"/groups/{tid}/transitiveMembers/microsoft.graph.user?$select=id&$top=999"),
            ]
        replies = await t.many(requests)
        facts = DirectoryFacts(self.tenant_id)
        pos = 0
        for kind, group_ids in (("staff", self.staff_group_ids), ("pupils", self.pupil_group_ids)):
            target = facts.staff if kind == "staff" else facts.pupils
            seen: set[str] = set(target)
            for gid in group_ids:
                items, last = await t.follow(replies[pos])
                pos += 1
                if not last.ok:
                    facts.unavailable.append({"kind": "directory", "reason": f"{last.error_text()} (group {gid})"})
                    continue
                for item in items:
                    if not _is_user(item) or not item.get("id"):
                        continue
                    uid = str(item["id"])
                    facts.users.setdefault(uid, _strip(item))
                    if uid not in seen:
                        seen.add(uid)
                        target.append(uid)
        for tid in self.class_team_ids:
            group, primary, channels, team_members = replies[pos : pos + 4]
            pos += 4
            if not group.ok or not primary.ok:
                bad = group if not group.ok else primary
                facts.unavailable.append({"kind": "directory", "reason": f"{bad.error_text()} (class team {tid})"})
                continue
            channel_items, _ = await t.follow(channels) if channels.ok else ([], channels)
            member_items, _ = await t.follow(team_members) if team_members.ok else ([], team_members)
            ids = [str(m["id"]) for m in member_items if _is_user(m) and m.get("id")]
            general = str(primary.json.get("id") or "")
            channel_ids = [str(c["id"]) for c in channel_items if c.get("id")] or [general]
            facts.class_teams.append(
                {
                    "id": tid,
                    "displayName": group.json.get("displayName"),
                    "generalChannelId": general,
                    "channelIds": channel_ids,
                    "members": ids,
                }
            )
            mail = group.json.get("mail")
            if isinstance(mail, str) and mail:
                facts.groups[mail.lower()] = ids
        facts.reindex()
        return facts

    # ------------------------------------------------------------------ on demand
    async def resolve_addresses(self, facts: DirectoryFacts, addresses: Iterable[str]) -> None:
        """Look up invited addresses of the school's domains that are neither a known user nor a known group."""
        todo = sorted({a.lower() for a in addresses if a and not facts.known_address(a) and facts.in_tenant_domain(a)})
        if not todo:
            return
        t = self.transport
        requests = []
        for address in todo:
            literal = address.replace("'", "''")
            flt = quote(f"mail eq '{literal}'", safe="")
            requests.append(Request("GET", f"/groups?$filter={flt}&$select=id,mail,mailEnabled"))
            # A user by any of its addresses: GET /users/{id | userPrincipalName} does not take a mail alias (404
            # for beverley.dunn@ when the UPN is b.dunn@), so look the address up among mail and proxyAddresses
            # (https://learn.microsoft.com/en-us/graph/api/user-get,
            # https://learn.microsoft.com/en-us/graph/aad-advanced-queries — proxyAddresses/any eq is a default
            # query). A 404 on /users/{address} never makes anyone an outsider.
            requests.append(Request("GET", f"/users?$filter={flt}&$select={USER_SELECT}"))
            proxy = quote(f"proxyAddresses/any(x:x eq 'smtp:{literal}')", safe="")
            requests.append(Request("GET", f"/users?$filter={proxy}&$select={USER_SELECT}"))
        replies = await t.many(requests)
        expand: list[tuple[str, str]] = []
        for i, address in enumerate(todo):
            group_reply, mail_reply, proxy_reply = replies[3 * i : 3 * i + 3]
            found = ok_items(group_reply)
            users = [u for u in ok_items(mail_reply) + ok_items(proxy_reply) if u.get("id")]
            if found and found[0].get("id"):
                expand.append((address, str(found[0]["id"])))
            elif users:
                uid = str(users[0]["id"])
                facts.users.setdefault(uid, _strip(users[0]))
                facts.by_address[address] = uid
            elif group_reply.ok and mail_reply.ok and proxy_reply.ok:
                facts.missing_addresses.add(address)
            else:  # could not look: not known, not an outsider either; asked again next time
                facts.unavailable.append(
                    {"kind": "directory", "reason": f"{(mail_reply if not mail_reply.ok else proxy_reply).error_text()}"
                     f" (address {address})"}
                )
        if expand:
            member_replies = await t.many(
                [
                    Request(
                        "GET", f"/groups/{gid}/transitiveMembers/microsoft.graph.user?$select={USER_SELECT}&$top=999"
                    )
                    for _, gid in expand
                ]
            )
            for (address, _gid), reply in zip(expand, member_replies, strict=True):
                items, last = await t.follow(reply) if reply.ok else ([], reply)
                if not last.ok:
                    facts.missing_addresses.add(address)
                    continue
                ids = []
                for item in items:
                    if _is_user(item) and item.get("id"):
                        ids.append(str(item["id"]))
                        facts.users.setdefault(str(item["id"]), _strip(item))
                facts.groups[address] = ids
        facts.reindex()

    async def classify(self, facts: DirectoryFacts, user_ids: Iterable[str]) -> None:
        """School accounts in neither group: read the user (when unknown) and its education ``primaryRole``."""
        todo = sorted(
            {
                u
                for u in user_ids
                if u and facts.role(u) is None and u not in facts.roles and u not in facts.missing_users
            }
        )
        if not todo:
            return
        requests: list[Request] = []
        plan: list[tuple[str, str]] = []
        for uid in todo:
            if uid not in facts.users:
                requests.append(Request("GET", f"/users/{uid}?$select={USER_SELECT}"))
                plan.append(("user", uid))
            requests.append(Request("GET", f"/education/users/{uid}?$select=id,primaryRole"))
            plan.append(("role", uid))
        replies = await self.transport.many(requests)
        for (kind, uid), reply in zip(plan, replies, strict=True):
            if kind == "user":
                if reply.ok and reply.json.get("id"):
                    facts.users[uid] = _strip(reply.json)
                else:
                    facts.missing_users.add(uid)
                continue
            role = str(reply.json.get("primaryRole") or "none") if reply.ok else "none"
            facts.roles[uid] = role
            if role == "teacher" and uid not in facts.staff_set:
                facts.staff.append(uid)
            elif role == "student" and uid not in facts.pupil_set:
                facts.pupils.append(uid)
        facts.reindex()


def ok_items(reply: Reply) -> list[JSON]:
    return [x for x in reply.json.get("value", []) if isinstance(x, dict)] if reply.ok else []
