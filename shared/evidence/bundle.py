"""The evidence bundle: Graph payloads of one meeting occurrence plus the school's directory facts.

Typed, read-only views; the raw JSON is kept untouched beside them (``Bundle.raw``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.evidence.reader import JSON, BundleError, kind, obj, objects, text, texts

EVIDENCE_KINDS = ("event", "onlineMeeting", "attendanceReports", "callRecord", "callRecords", "recordings",
                  "transcripts", "directory")


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    display_name: str | None
    upn: str | None
    mail: str | None
    user_type: str | None
    addresses: tuple[str, ...]  # lower-cased UPN, mail and proxy addresses


@dataclass(frozen=True, slots=True)
class ClassTeam:
    id: str
    display_name: str
    general_channel_id: str | None
    channel_ids: frozenset[str]  # lower-cased, General included
    members: frozenset[str]


@dataclass(slots=True)
class Directory:
    tenant_id: str | None
    staff: frozenset[str]
    pupils: frozenset[str]
    users: dict[str, DirectoryUser]
    groups: dict[str, frozenset[str]]  # lower-cased group address -> member ids
    class_teams: tuple[ClassTeam, ...]
    consent: frozenset[str]
    by_address: dict[str, str] = field(default_factory=dict)  # lower-cased address -> user id

    def known(self, user_id: str) -> bool:
        return user_id in self.users or user_id in self.staff or user_id in self.pupils

    def user_for_address(self, address: str | None) -> str | None:
        if not address:
            return None
        return self.by_address.get(address.strip().lower())

    def display_name(self, user_id: str) -> str | None:
        user = self.users.get(user_id)
        return user.display_name if user else None

    def team_for_thread(self, thread_id: str | None) -> ClassTeam | None:
        if not thread_id:
            return None
        wanted = thread_id.lower()
        for team in self.class_teams:
            if wanted in team.channel_ids:
                return team
        return None


def _strip_smtp(address: str) -> str:
    return address[5:] if address[:5].lower() == "smtp:" else address


def parse_directory(raw: JSON) -> Directory:
    path = "directory"
    tenant = text(raw, "tenantId", path)
    users: dict[str, DirectoryUser] = {}
    by_address: dict[str, str] = {}
    users_raw = obj(raw, "users", path)
    for uid, entry in users_raw.items():
        # Every evaluation reads the whole directory: the usual shapes take a fast path, anything else the
        # checked one, which names the offending key.
        if entry.__class__ is not dict:
            raise BundleError(f"{path}.users.{uid}: expected an object, got {kind(entry)}")
        upn, mail = entry.get("userPrincipalName"), entry.get("mail")
        name, user_type = entry.get("displayName"), entry.get("userType")
        proxies = entry.get("proxyAddresses")
        if not all(v is None or v.__class__ is str for v in (upn, mail, name, user_type)) or not (
                proxies is None or (proxies.__class__ is list and all(p.__class__ is str for p in proxies))):
            upath = f"{path}.users.{uid}"
            upn, mail = text(entry, "userPrincipalName", upath), text(entry, "mail", upath)
            name, user_type = text(entry, "displayName", upath), text(entry, "userType", upath)
            proxies = texts(entry, "proxyAddresses", upath)
        found: list[str] = []
        for address in (upn, mail, *(_strip_smtp(p) for p in proxies or ())):
            if address:
                address = address.strip().lower()
                if address and address not in found:
                    found.append(address)
        addresses = tuple(found)
        users[uid] = DirectoryUser(uid, name, upn, mail, user_type, addresses)
        for address in addresses:
            by_address.setdefault(address, uid)
    groups: dict[str, frozenset[str]] = {}
    for address, members in obj(raw, "groups", path).items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise BundleError(f"{path}.groups.{address}: expected a list of user ids, got {kind(members)}")
        groups[address.strip().lower()] = frozenset(members)
    teams: list[ClassTeam] = []
    for i, team in enumerate(objects(raw, "classTeams", path)):
        tpath = f"{path}.classTeams[{i}]"
        general = text(team, "generalChannelId", tpath)
        channels = {c.lower() for c in texts(team, "channelIds", tpath)}
        if general:
            channels.add(general.lower())
        teams.append(ClassTeam(text(team, "id", tpath) or "", text(team, "displayName", tpath) or "",
                               general, frozenset(channels), frozenset(texts(team, "members", tpath))))
    return Directory(
        tenant_id=tenant.lower() if tenant else None,
        staff=frozenset(texts(raw, "staff", path)),
        pupils=frozenset(texts(raw, "pupils", path)),
        users=users,
        groups=groups,
        class_teams=tuple(teams),
        consent=frozenset(texts(raw, "consent", path)),
        by_address=by_address,
    )


@dataclass(frozen=True, slots=True)
class Unavailable:
    kind: str
    reason: str
    unsupported: bool


@dataclass(slots=True)
class Bundle:
    """One meeting occurrence's evidence. Absent keys are ``None`` / empty; nothing is invented."""

    raw: JSON
    directory: Directory
    event: JSON | None
    online_meeting: JSON | None
    attendance_reports: list[JSON]
    call_records: list[JSON]  # ``callRecord`` first, then every item of ``callRecords``
    recordings: list[JSON]
    transcripts: list[JSON]
    unavailable: list[Unavailable]
    has_attendance_reports: bool
    has_recordings: bool
    has_transcripts: bool

    @property
    def failed(self) -> list[Unavailable]:
        """Evidence that could not be read (not a Graph limitation)."""
        return [u for u in self.unavailable if not u.unsupported]

    @property
    def unsupported(self) -> list[Unavailable]:
        return [u for u in self.unavailable if u.unsupported]


def _optional_object(raw: JSON, key: str) -> JSON | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BundleError(f"{key}: expected an object, got {kind(value)}")
    return value


def parse_bundle(raw: Any) -> Bundle:
    """Check the bundle's structure and build its views; raise :class:`BundleError` with a one-line reason."""
    if not isinstance(raw, dict):
        raise BundleError(f"the bundle must be a JSON object, got {kind(raw)}")
    if "directory" not in raw:
        raise BundleError("'directory' is missing: a bundle needs the school's directory facts")
    directory_raw = raw["directory"]
    if not isinstance(directory_raw, dict):
        raise BundleError(f"directory: expected an object, got {kind(directory_raw)}")
    directory = parse_directory(directory_raw)
    call_records: list[JSON] = []
    first = _optional_object(raw, "callRecord")
    if first is not None:
        call_records.append(first)
    call_records.extend(objects(raw, "callRecords", ""))
    unavailable: list[Unavailable] = []
    for i, entry in enumerate(objects(raw, "unavailable", "")):
        upath = f"unavailable[{i}]"
        what = text(entry, "kind", upath)
        if not what:
            raise BundleError(f"{upath}.kind: missing; expected one of {', '.join(EVIDENCE_KINDS)}")
        flag = entry.get("unsupported", False)
        if flag is None:
            flag = False
        if not isinstance(flag, bool):
            raise BundleError(f"{upath}.unsupported: expected a boolean, got {kind(flag)}")
        reason = entry.get("reason")
        unavailable.append(Unavailable(what, reason if isinstance(reason, str) else "", flag))
    return Bundle(
        raw=raw,
        directory=directory,
        event=_optional_object(raw, "event"),
        online_meeting=_optional_object(raw, "onlineMeeting"),
        attendance_reports=objects(raw, "attendanceReports", ""),
        call_records=call_records,
        recordings=objects(raw, "recordings", ""),
        transcripts=objects(raw, "transcripts", ""),
        unavailable=unavailable,
        has_attendance_reports=raw.get("attendanceReports") is not None,
        has_recordings=raw.get("recordings") is not None,
        has_transcripts=raw.get("transcripts") is not None,
    )
