"""The pupils consent rows are matched against: from a JSON file (``--directory users.json``) or from Graph
(the pupil groups' transitive members, through ``shared.graph``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.admin.validate import GUID, InvalidInput


@dataclass(frozen=True, slots=True)
class Pupil:
    id: str
    display_name: str
    upn: str
    mail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "displayName": self.display_name, "userPrincipalName": self.upn, "mail": self.mail}


def _pupil(raw: Mapping[str, Any], where: str) -> Pupil:
    uid = raw.get("id")
    if not isinstance(uid, str) or not GUID.match(uid):
        raise InvalidInput(f"{where}: 'id' is not a user id (GUID)")
    values = {}
    for key in ("displayName", "userPrincipalName", "mail"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{where}: '{key}' is not text")
        values[key] = (value or "").strip()
    if not values["displayName"] and not values["userPrincipalName"]:
        raise InvalidInput(f"{where}: neither displayName nor userPrincipalName")
    return Pupil(uid.lower(), values["displayName"], values["userPrincipalName"], values["mail"])


def pupils_from_json(data: Any, *, pupils_only: bool = True) -> list[Pupil]:
    """Accepts a list of Graph user objects (every one a pupil), a Graph page (``{"value": [...]}``), or an
    evidence bundle's ``directory`` block (its ``pupils`` looked up in its ``users``; with
    ``pupils_only=False`` every user, for looking organisers up)."""
    if isinstance(data, dict) and isinstance(data.get("directory"), dict):
        data = data["directory"]
    if isinstance(data, dict) and isinstance(data.get("pupils"), list) and isinstance(data.get("users"), dict):
        users = data["users"]
        out = []
        ids = data["pupils"] if pupils_only else list(users)
        for index, uid in enumerate(ids):
            user = users.get(uid) if isinstance(uid, str) else None
            if not isinstance(user, dict):
                raise InvalidInput(f"pupils[{index}]: not in users")
            out.append(_pupil({**user, "id": uid}, f"pupils[{index}]"))
        return out
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        data = data["value"]
    if not isinstance(data, list):
        raise InvalidInput("expected a list of users, a Graph page {\"value\": [...]}, or a directory block")
    out = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InvalidInput(f"[{index}]: not an object")
        out.append(_pupil(item, f"[{index}]"))
    return out


def load_directory(path: str, *, pupils_only: bool = True) -> list[Pupil]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot be read ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        return pupils_from_json(data, pupils_only=pupils_only)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None


async def graph_pupils(transport: Any, pupil_group_ids: Iterable[str]) -> list[Pupil]:
    """The pupils from Graph: transitive user members of the pupil groups (``VCAUDIT_PUPIL_GROUP_IDS``)."""
    seen: dict[str, Pupil] = {}
    for gid in pupil_group_ids:
        url = (f"/groups/{gid}/transitiveMembers/microsoft.graph.user"
               "?$select=id,displayName,userPrincipalName,mail&$top=999")
        items, reply = await transport.get_all(url)
        if not reply.ok:
            raise InvalidInput(f"Graph: the pupil group {gid} could not be read ({reply.error_text()})")
        for item in items:
            try:
                pupil = _pupil(item, f"group {gid}")
            except InvalidInput:
                continue
            seen.setdefault(pupil.id, pupil)
    return list(seen.values())


def upn_resolver(pupils_or_users: Iterable[Pupil]) -> Any:
    """A ``UpnResolver`` over a directory file (for ``--organiser UPN``)."""
    index: dict[str, str] = {}
    for user in pupils_or_users:
        for address in (user.upn, user.mail):
            if address:
                index.setdefault(address.lower(), user.id)

    def resolve(upn: str) -> str | None:
        return index.get(upn.strip().lower())

    return resolve
