"""Data minimisation for stored evidence: a bundle keeps only the directory entries its meeting refers to.

The gateway hands the evaluator the school's whole directory (every user's name and addresses). The evidence
kept in Blob storage needs only the people the meeting's payloads name — by user id or by address —, the
members of the groups it invited and of its class team, so the stored copy is cut down to them: their user
entries, their places in the ``staff``, ``pupils`` and ``consent`` lists, and only the groups and class teams the
meeting involves. Evaluating the minimised bundle gives exactly the findings of the full one (tested over the
sample week and a simulated school week).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ADDRESS = re.compile(r"[A-Za-z0-9._%+#'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _addresses(user: dict[str, Any]) -> list[str]:
    out = [user.get("userPrincipalName"), user.get("mail")]
    proxies = user.get("proxyAddresses")
    if isinstance(proxies, list):
        out.extend(p[5:] if isinstance(p, str) and p[:5].lower() == "smtp:" else p for p in proxies)
    return [a.strip().lower() for a in out if isinstance(a, str) and a.strip()]


def _ids(members: Any) -> set[str]:
    return {m.lower() for m in members if isinstance(m, str)} if isinstance(members, list) else set()


def minimise(bundle: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``bundle`` whose ``directory`` (users, groups, class teams, and the staff, pupil and consent
    lists) holds only what its meeting refers to."""
    directory = bundle.get("directory")
    if not isinstance(directory, dict):
        return bundle
    text = unquote(json.dumps({k: v for k, v in bundle.items() if k != "directory"}, ensure_ascii=False))
    tokens = {t.lower() for t in GUID.findall(text)} | {t.lower() for t in ADDRESS.findall(text)}
    lowered = text.lower()
    keep = set(tokens)
    groups = directory.get("groups")
    kept_groups: dict[str, Any] = {}
    if isinstance(groups, dict):
        for address, members in groups.items():
            if isinstance(address, str) and address.lower() in tokens:
                kept_groups[address] = members
                keep.update(_ids(members))
    teams = directory.get("classTeams")
    kept_teams: list[Any] = []
    for team in teams if isinstance(teams, list) else []:
        if not isinstance(team, dict):
            kept_teams.append(team)  # not ours to judge: the evaluator reports it
            continue
        channels = [team.get("generalChannelId"), *(team.get("channelIds") or [])]
        if any(isinstance(c, str) and c.lower() in lowered for c in channels):
            keep.update(_ids(team.get("members")))
            kept_teams.append(team)
    users = directory.get("users")
    kept_users: dict[str, Any] = {}
    if isinstance(users, dict):
        for uid, user in users.items():
            if not isinstance(user, dict):
                kept_users[uid] = user  # not ours to judge: the evaluator reports it
                continue
            if uid.lower() in keep or any(a in tokens for a in _addresses(user)):
                kept_users[uid] = user
    slim = dict(directory)
    if isinstance(users, dict):
        slim["users"] = kept_users
    if isinstance(groups, dict):
        slim["groups"] = kept_groups
    if isinstance(teams, list):
        slim["classTeams"] = kept_teams
    people = keep | {uid.lower() for uid in kept_users if isinstance(uid, str)}
    for name in ("staff", "pupils", "consent"):
        ids = directory.get(name)
        if isinstance(ids, list):  # the school's whole lists, cut down to the meeting's own people
            slim[name] = [i for i in ids if not isinstance(i, str) or i.lower() in people]
    return {**bundle, "directory": slim}
