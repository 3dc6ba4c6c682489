"""The scenario tenant the simulator serves: Graph JSON per resource, loadable from and savable to one file.

Everything is kept as Graph's own JSON (camelCase, ``@odata.type`` where Graph sends it) so that what the
simulator serves is what the tenant holds, plus a few simulator-only indexes (group membership, lobby
sessions, organisers without an application access policy) and, for generated tenants, the ground truth of
each meeting occurrence. File format: ``devtools/graphsim/README.md``.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

JSON = dict[str, Any]


def parse_time(value: str) -> datetime:
    """Parse a Graph time: ISO 8601 with 0–7 fractional digits, with ``Z``/offset, or none (UTC assumed)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    main, _, rest = text.partition(".")
    offset = ""
    if rest:
        digits = ""
        for i, ch in enumerate(rest):
            if ch.isdigit():
                digits += ch
            else:
                offset = rest[i:]
                break
        text = f"{main}.{(digits + '000000')[:6]}{offset}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def graph_time(value: datetime, digits: int = 7) -> str:
    """Format as Graph does for DateTimeOffset: ``2026-03-10T09:00:00.0000000Z``."""
    value = value.astimezone(UTC)
    frac = f"{value.microsecond:06d}0"[:digits]
    return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + "Z"


def event_time(value: datetime) -> JSON:
    """An event's ``start``/``end``: dateTimeTimeZone without offset, zone named beside it."""
    value = value.astimezone(UTC)
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond:06d}0", "timeZone": "UTC"}


def event_window(event: JSON) -> tuple[datetime, datetime]:
    """Start and end of an event in UTC, whatever zone its ``start``/``end`` name (Windows or IANA)."""
    from devtools.graphsim import calendar

    return calendar.event_window(event)


def is_channel_thread(thread_id: str | None) -> bool:
    """A channel meeting's chat is the channel itself: ``19:<hex>@thread.tacv2`` (older: ``@thread.skype``)."""
    return thread_id is not None and (thread_id.endswith("@thread.tacv2") or thread_id.endswith("@thread.skype"))


@dataclass
class Tenant:
    """A scenario tenant. All collections hold Graph JSON; see the README for the file format."""

    tenant_id: str
    domain: str
    users: dict[str, JSON] = field(default_factory=dict)
    education_roles: dict[str, str] = field(default_factory=dict)
    groups: dict[str, JSON] = field(default_factory=dict)
    group_members: dict[str, list[str]] = field(default_factory=dict)
    teams: dict[str, JSON] = field(default_factory=dict)
    events: dict[str, list[JSON]] = field(default_factory=dict)
    online_meetings: dict[str, list[JSON]] = field(default_factory=dict)
    attendance_reports: dict[str, list[JSON]] = field(default_factory=dict)
    call_records: dict[str, JSON] = field(default_factory=dict)
    lobby_sessions: dict[str, list[str]] = field(default_factory=dict)
    recordings: dict[str, list[JSON]] = field(default_factory=dict)
    transcripts: dict[str, list[JSON]] = field(default_factory=dict)
    no_access_policy: set[str] = field(default_factory=set)
    consent: list[str] = field(default_factory=list)
    directory: JSON = field(default_factory=dict)
    occurrences: list[JSON] = field(default_factory=list)
    # Occurrences removed from a series in one mailbox (the organiser's copy of a cancelled occurrence):
    # mailbox -> series master id -> original starts (Graph DateTimeOffset strings).
    removed_occurrences: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # What changes over time (devtools/graphsim/README.md, "Timeline").
    timeline: list[JSON] = field(default_factory=list)
    # Exchange RBAC for Applications: mailboxes the app may read (None = every mailbox).
    mailbox_scope: list[str] | None = None
    # Application permissions granted to the app (None = every permission).
    granted_permissions: list[str] | None = None
    # Teams application access policy: {"global": bool, "groups": [group ids], "users": [user ids]}
    # (None = every user has it, except ``no_access_policy``).
    access_policy: JSON | None = None

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        # calendarView delta bookkeeping: a version counter per mailbox, the version at which each event last
        # changed, and tombstones of deleted events.
        self._versions: dict[str, int] = {}
        self._changed_at: dict[tuple[str, str], int] = {}
        self._tombstones: dict[str, dict[str, int]] = {}
        # indexes of timeline steps already applied (a tenant shared by two simulators applies each once)
        self.applied_steps: set[int] = set()

    # ------------------------------------------------------------------ file format
    _KEYS = (
        ("tenantId", "tenant_id"),
        ("domain", "domain"),
        ("users", "users"),
        ("educationRoles", "education_roles"),
        ("groups", "groups"),
        ("groupMembers", "group_members"),
        ("teams", "teams"),
        ("events", "events"),
        ("onlineMeetings", "online_meetings"),
        ("attendanceReports", "attendance_reports"),
        ("callRecords", "call_records"),
        ("lobbySessions", "lobby_sessions"),
        ("recordings", "recordings"),
        ("transcripts", "transcripts"),
        ("noAccessPolicy", "no_access_policy"),
        ("consent", "consent"),
        ("directory", "directory"),
        ("occurrences", "occurrences"),
        ("removedOccurrences", "removed_occurrences"),
        ("timeline", "timeline"),
        ("mailboxScope", "mailbox_scope"),
        ("grantedPermissions", "granted_permissions"),
        ("accessPolicy", "access_policy"),
    )

    def to_json(self) -> JSON:
        out: JSON = {}
        for key, attr in self._KEYS:
            value = getattr(self, attr)
            if value is None:
                continue
            out[key] = sorted(value) if isinstance(value, set) else value
        return out

    @classmethod
    def from_json(cls, data: JSON) -> Tenant:
        kwargs: dict[str, Any] = {}
        for key, attr in cls._KEYS:
            if key in data:
                kwargs[attr] = set(data[key]) if attr == "no_access_policy" else data[key]
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Tenant:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ directory
    def user(self, id_or_upn: str) -> JSON | None:
        """A user by object id or userPrincipalName (case-insensitive), as ``/users/{id | upn}`` resolves."""
        found = self.users.get(id_or_upn)
        if found is not None:
            return found
        wanted = id_or_upn.lower()
        for candidate in self.users.values():
            if str(candidate.get("userPrincipalName", "")).lower() == wanted:
                return candidate
        return None

    def directory_object(self, object_id: str) -> JSON | None:
        """A user or a group, with its ``@odata.type``, as a member list shows it."""
        if object_id in self.users:
            return {"@odata.type": "#microsoft.graph.user", **self.users[object_id]}
        if object_id in self.groups:
            return {"@odata.type": "#microsoft.graph.group", **self.groups[object_id]}
        return None

    def transitive_members(self, group_id: str) -> list[str]:
        """Members of the group and of every nested group, each once, nested groups included (as Graph lists them)."""
        seen: list[str] = []
        stack = list(reversed(self.group_members.get(group_id, [])))
        visited_groups = {group_id}
        while stack:
            member = stack.pop()
            if member in seen:
                continue
            seen.append(member)
            if member in self.groups and member not in visited_groups:
                visited_groups.add(member)
                stack.extend(reversed(self.group_members.get(member, [])))
        return seen

    def group_by_mail(self, address: str) -> JSON | None:
        wanted = address.lower()
        for group in self.groups.values():
            if str(group.get("mail") or "").lower() == wanted:
                return group
            if any(p.lower() == f"smtp:{wanted}" for p in group.get("proxyAddresses", [])):
                return group
        return None

    # ------------------------------------------------------------------ meetings
    def meeting(self, meeting_id: str) -> tuple[str, JSON] | None:
        """(organiser id, meeting) for a meeting id."""
        for organizer_id, meetings in self.online_meetings.items():
            for meeting in meetings:
                if meeting["id"] == meeting_id:
                    return organizer_id, meeting
        return None

    def meeting_by_join_url(self, organizer_id: str, join_url: str) -> JSON | None:
        for meeting in self.online_meetings.get(organizer_id, []):
            if meeting.get("joinWebUrl") == join_url:
                return meeting
        return None

    def is_channel_meeting(self, meeting: JSON) -> bool:
        return is_channel_thread((meeting.get("chatInfo") or {}).get("threadId"))

    # ------------------------------------------------------------------ calendar
    def event(self, mailbox: str, event_id: str) -> JSON | None:
        for event in self.events.get(mailbox, []):
            if event["id"] == event_id:
                return event
        return None

    # ------------------------------------------------------------------ recurrence
    def _original_key(self, event: JSON) -> tuple[str, datetime] | None:
        master = event.get("seriesMasterId")
        if not master or event.get("type") not in ("occurrence", "exception"):
            return None
        original = event.get("originalStart")
        return master, (parse_time(original) if original else event_window(event)[0])

    def instances(self, mailbox: str, start: datetime, end: datetime, master_id: str | None = None) -> list[JSON]:
        """What calendarView serves for ``mailbox`` between two instants: single instances, and each series master
        expanded into its occurrences (stored occurrences/exceptions replace the generated ones with the same
        original start; removed ones are left out). Stored JSON, not yet converted to the reader's time zone."""
        from devtools.graphsim import calendar

        events = self.events.get(mailbox, [])
        stored: dict[tuple[str, datetime], JSON] = {}
        out: list[JSON] = []

        def overlaps(event: JSON) -> bool:
            s, e = event_window(event)
            return (s < end and e > start) or (s == e and start <= s < end)

        for event in events:
            key = self._original_key(event)
            if key is not None:
                stored[key] = event
            if event.get("type") == "seriesMaster" or (master_id and event.get("seriesMasterId") != master_id):
                continue
            if overlaps(event):
                out.append(event)
        removed = self.removed_occurrences.get(mailbox, {})
        for master in events:
            if master.get("type") != "seriesMaster" or not master.get("recurrence"):
                continue
            if master_id and master["id"] != master_id:
                continue
            gone = {parse_time(x) for x in removed.get(master["id"], [])}
            s0, e0 = event_window(master)
            duration = e0 - s0
            tz_name = str(master["start"].get("timeZone") or "UTC")
            for original in calendar.series_starts(master, end):
                if original in gone or (master["id"], original) in stored:
                    continue
                if not (original < end and original + duration > start):
                    continue
                out.append(self.generated_occurrence(master, original, duration, tz_name))
        return sorted(out, key=lambda ev: event_window(ev)[0])

    @staticmethod
    def generated_occurrence(master: JSON, original: datetime, duration: Any, tz_name: str) -> JSON:
        """An occurrence as Graph serves it: the master's properties, its own id, ``type`` ``occurrence``,
        ``seriesMasterId``, ``originalStart``, no ``recurrence``; ``iCalUId`` differs per occurrence (event
        resource) and carries the original date where Exchange puts it in the global object id."""
        from devtools.graphsim import calendar

        occ = copy.deepcopy(master)
        occ["id"] = calendar.occurrence_id(master["id"], original)
        occ["type"] = "occurrence"
        occ["seriesMasterId"] = master["id"]
        occ["recurrence"] = None
        occ["originalStart"] = graph_time(original, digits=0)
        occ["start"] = calendar.in_zone(original, tz_name)
        occ["end"] = calendar.in_zone(original + duration, tz_name)
        if "occurrenceId" in master:
            occ["occurrenceId"] = f"OID.{master['id']}.{original.date().isoformat()}"
        ical = str(master.get("iCalUId") or "")
        if len(ical) >= 40:
            day = original.astimezone(calendar.zone(calendar.series_zone(master))).date()
            occ["iCalUId"] = ical[:32] + f"{day.year:04X}{day.month:02X}{day.day:02X}" + ical[40:]
        return occ

    def resolve_event(self, mailbox: str, event_id: str) -> JSON | None:
        """A stored event, or a generated occurrence by its id (``GET /users/{id}/events/{occurrence id}``)."""
        from devtools.graphsim import calendar

        found = self.event(mailbox, event_id)
        if found is not None:
            return found
        parsed = calendar.parse_occurrence_id(event_id)
        if parsed is None:
            return None
        master_id, original = parsed
        master = self.event(mailbox, master_id)
        if master is None or master.get("type") != "seriesMaster":
            return None
        if original in {parse_time(x) for x in self.removed_occurrences.get(mailbox, {}).get(master_id, [])}:
            return None
        if original not in calendar.series_starts(master, original + timedelta(seconds=1)):
            return None
        s0, e0 = event_window(master)
        return self.generated_occurrence(master, original, e0 - s0, str(master["start"].get("timeZone") or "UTC"))

    def remove_occurrence(self, mailbox: str, master_id: str, original_start: datetime) -> None:
        """Take one occurrence out of a series in one mailbox (the organiser's copy of a cancelled occurrence)."""
        with self.lock:
            bucket = self.removed_occurrences.setdefault(mailbox, {}).setdefault(master_id, [])
            bucket.append(graph_time(original_start, digits=0))
            self.events[mailbox] = [
                e for e in self.events.get(mailbox, []) if self._original_key(e) != (master_id, original_start)
            ]
            self._bump(mailbox)

    def upsert_event(self, mailbox: str, event: JSON) -> None:
        """Add or replace an event in a mailbox and record the change for calendarView delta."""
        with self.lock:
            events = self.events.setdefault(mailbox, [])
            for i, existing in enumerate(events):
                if existing["id"] == event["id"]:
                    events[i] = event
                    break
            else:
                events.append(event)
            version = self._bump(mailbox)
            self._changed_at[(mailbox, event["id"])] = version
            self._tombstones.get(mailbox, {}).pop(event["id"], None)

    def delete_event(self, mailbox: str, event_id: str) -> None:
        with self.lock:
            events = self.events.get(mailbox, [])
            self.events[mailbox] = [e for e in events if e["id"] != event_id]
            version = self._bump(mailbox)
            self._tombstones.setdefault(mailbox, {})[event_id] = version
            self._changed_at.pop((mailbox, event_id), None)

    def _bump(self, mailbox: str) -> int:
        self._versions[mailbox] = self._versions.get(mailbox, 0) + 1
        return self._versions[mailbox]

    def mailbox_version(self, mailbox: str) -> int:
        return self._versions.get(mailbox, 0)

    def changed_since(self, mailbox: str, version: int) -> tuple[list[JSON], list[str]]:
        """Events changed after ``version`` and ids deleted after it."""
        changed = [e for e in self.events.get(mailbox, []) if self._changed_at.get((mailbox, e["id"]), 0) > version]
        deleted = [eid for eid, v in self._tombstones.get(mailbox, {}).items() if v > version]
        return changed, deleted

    # ------------------------------------------------------------------ call records
    def add_call_record(self, record: JSON, lobby_session_ids: list[str] | None = None) -> None:
        with self.lock:
            self.call_records[record["id"]] = record
            if lobby_session_ids:
                self.lobby_sessions[record["id"]] = list(lobby_session_ids)

    # ------------------------------------------------------------------ ground truth
    def occurrence(self, key: str) -> JSON:
        for occ in self.occurrences:
            if occ["key"] == key:
                return occ
        raise KeyError(key)

    def expected_bundle(
        self,
        key: str,
        *,
        lobby_sessions: bool = True,
        channel_recordings: bool = False,
        channel_attendance: bool | str = False,
    ) -> JSON:
        """The complete evidence bundle for one occurrence, as a gateway should assemble it from the simulator.

        Payloads are as served with ``Prefer: include-unknown-enum-members`` and without ``@odata.context``
        annotations. ``channel_attendance`` defaults to ``False`` as in ``LEGACY_GATEWAY_SWITCHES`` (the rigs'
        simulator); pass the simulator's own value otherwise. Artefacts are filtered to the occurrence's window,
        as the gateway must.
        """
        from devtools.graphsim import views  # local: views imports this module

        return views.expected_bundle(
            self,
            self.occurrence(key),
            lobby_sessions=lobby_sessions,
            channel_recordings=channel_recordings,
            channel_attendance=channel_attendance,
        )

    def copy(self) -> Tenant:
        return Tenant.from_json(json.loads(json.dumps(self.to_json())))


def now_utc() -> datetime:
    return datetime.now(UTC)
