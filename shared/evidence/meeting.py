"""Who is who in one meeting occurrence, exactly as ``docs/rules.md`` defines it.

Built once per bundle and read by every rule: the organiser, who was invited, who was present and when
(presence intervals merged per person), whether the meeting is in scope, and which stages the evidence covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from shared.evidence.bundle import Bundle, ClassTeam, Directory
from shared.evidence.reader import JSON, BundleError, obj, objects, odata_type, text
from shared.evidence.times import TimeFormatError, parse_instant

Interval = tuple[float, float]


class Role(StrEnum):
    STAFF = "staff"
    PUPIL = "pupil"
    ADULT = "adult"  # a school account that is neither staff nor pupil (TA outside the group, governor, device)
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity as a payload gives it, whatever its shape (current or deprecated)."""

    user_id: str | None = None
    display_name: str | None = None
    upn: str | None = None
    tenant_id: str | None = None
    kind: str = "user"  # user, anonymous, guest, phone, application, device, acs, encrypted
    other_id: str | None = None  # a guest, phone or ACS id: never a directory user


@dataclass(slots=True)
class Person:
    key: str  # the directory user id, else the payload's user id, else the best identity string
    user_id: str | None
    name: str | None
    role: Role
    school_account: bool
    identity: Identity
    addresses: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.name or self.key


@dataclass(slots=True)
class Presence:
    person: Person
    # (start, end, call-record index); index -1 for attendance-report intervals
    intervals: list[tuple[float, float, int]] = field(default_factory=list)

    @property
    def timed(self) -> bool:
        return bool(self.intervals)

    def merged(self) -> list[Interval]:
        return merge([(s, e) for s, e, _ in self.intervals])

    def seconds(self) -> float:
        return sum(e - s for s, e in self.merged())


def merge(intervals: list[Interval]) -> list[Interval]:
    """Overlapping or touching intervals of one person merged, in order."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


_MEETUP = re.compile(r"/l/meetup-join/([^/?#]+)", re.IGNORECASE)


def thread_from_join_url(url: str | None) -> str | None:
    """The chat thread id inside a classic ``/l/meetup-join/19%3a…%40thread…/`` link (short /meet/ links have none)."""
    if not url:
        return None
    m = _MEETUP.search(url.strip())
    if not m:
        return None
    thread = unquote(unquote(m.group(1)))
    return thread if thread.startswith("19:") and "@thread" in thread else None


def normalise_join_url(url: str | None) -> str | None:
    """A join URL compared across payloads: decoded, lower-cased, without query or trailing slash."""
    if not url:
        return None
    parts = urlsplit(unquote(url.strip()))
    return f"{parts.netloc.lower()}{parts.path.lower().rstrip('/')}"


# --- identities in their several shapes ---------------------------------------------------------------------

_SET_KINDS = (("user", "user"), ("onPremises", "user"), ("guest", "guest"), ("phone", "phone"),
              ("azureCommunicationServicesUser", "acs"), ("encrypted", "encrypted"),
              ("application", "application"), ("applicationInstance", "application"), ("device", "device"),
              ("assertedIdentity", "user"))


def _identity_node(node: JSON, kind_name: str, path: str, upn: str | None = None) -> Identity:
    ident_id = text(node, "id", path)
    name = text(node, "displayName", path)
    tenant = text(node, "tenantId", path)
    principal = text(node, "userPrincipalName", path) or upn
    if kind_name == "user":
        if not ident_id:
            return Identity(None, name, principal, tenant, "anonymous")
        return Identity(ident_id, name, principal, tenant, "user")
    return Identity(None, name, principal, tenant, kind_name, ident_id)


def identity_from_set(node: JSON, path: str, upn: str | None = None) -> Identity | None:
    """An identitySet / communicationsIdentitySet: the user if there is one, else the first other identity."""
    for key, kind_name in _SET_KINDS:
        part = obj(node, key, path)
        if part and (part.get("id") or part.get("displayName")):
            return _identity_node(part, kind_name, f"{path}.{key}", upn)
    return None


def identity_from_endpoint(endpoint: JSON, path: str) -> Identity | None:
    """A call-record endpoint: ``associatedIdentity``, or ``identity`` in older records; services have none."""
    if not endpoint or odata_type(endpoint).endswith("serviceendpoint"):
        return None
    associated = obj(endpoint, "associatedIdentity", path)
    if associated and (associated.get("id") or associated.get("displayName")):
        return _identity_node(associated, "user", f"{path}.associatedIdentity")
    old = obj(endpoint, "identity", path)
    if old:
        return identity_from_set(old, f"{path}.identity")
    return None


def identity_from_participant_info(info: JSON, path: str) -> Identity | None:
    """An onlineMeeting ``meetingParticipantInfo``: ``{identity: identitySet, upn, role}``."""
    upn = text(info, "upn", path)
    ident = identity_from_set(obj(info, "identity", path), f"{path}.identity", upn)
    if ident is None and upn:
        return Identity(None, None, upn, None, "user")
    return ident


def identity_from_call_participant(node: JSON, path: str) -> Identity | None:
    """``participants_v2`` items carry ``identity``; the deprecated ``participants`` items are identitySets."""
    inner = obj(node, "identity", path)
    if inner:
        return identity_from_set(inner, f"{path}.identity")
    return identity_from_set(node, path)


def identity_from_attendance(record: JSON, path: str) -> Identity | None:
    node = obj(record, "identity", path)
    email = text(record, "emailAddress", path)
    ident_id = text(node, "id", f"{path}.identity")
    name = text(node, "displayName", f"{path}.identity")
    tenant = text(node, "tenantId", f"{path}.identity")
    if odata_type(node).endswith("azurecommunicationservicesuseridentity"):
        return Identity(None, name, email, tenant, "acs", ident_id)
    if not ident_id and not name and not email:
        return None
    return Identity(ident_id, name, email, tenant, "user" if ident_id else "anonymous")


# --- the meeting occurrence --------------------------------------------------------------------------------

SCHEDULED_TYPES = frozenset({"scheduled", "recurring"})
UNSCHEDULED_TYPES = frozenset({"adhoc", "meetnow"})


class Meeting:
    """Facts about one occurrence that the rules share. Pure: reads the bundle, writes nothing."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.directory: Directory = bundle.directory
        self._people: dict[str, Person] = {}
        self.online_meeting: JSON = bundle.online_meeting or {}
        self.event: JSON = bundle.event or {}
        self.meeting_type = text(self.online_meeting, "meetingType", "onlineMeeting")
        self.organiser = self._find_organiser()
        self.thread_id = self._find_thread()
        self.team: ClassTeam | None = self.directory.team_for_thread(self.thread_id)
        self.call_types = [text(cr, "type", f"callRecords[{i}]") for i, cr in enumerate(bundle.call_records)]
        self.meetingless = bool(bundle.call_records) and not bundle.event and not bundle.online_meeting and all(
            t == "peerToPeer" or not cr.get("joinWebUrl") for t, cr in zip(self.call_types, bundle.call_records,
                                                                            strict=True))
        self.presence: dict[str, Presence] = {}
        self.presence_source: str | None = None
        self.record_people: list[set[str]] = [set() for _ in bundle.call_records]  # who each call record shows
        # every session's people: (call-record index, session, "caller" or "callee", person)
        self.session_people: list[tuple[int, JSON, str, Person]] = []
        self._read_presence()
        self.invited: set[str] = set()
        self.invited_user_ids: set[str] = set()
        self.invited_addresses: set[str] = set()
        self.individually_invited: set[str] = set()
        self.event_attendees: set[str] = set()  # people among the event's attendees (groups expanded)
        self._read_invitations()

    # -- people --

    def person(self, identity: Identity) -> Person:
        if identity.user_id is not None:
            known = self._people.get(identity.user_id)
            if known is not None:
                return known
        directory = self.directory
        resolved: str | None = None
        if identity.user_id and directory.known(identity.user_id):
            resolved = identity.user_id
        elif identity.kind in ("user", "anonymous"):
            resolved = directory.user_for_address(identity.upn)
        if resolved is not None:
            cached = self._people.get(resolved)
            if cached is not None:
                return cached
            user = directory.users.get(resolved)
            school = self._school_account(resolved, identity)
            if resolved in directory.staff:
                role = Role.STAFF
            elif resolved in directory.pupils:
                role = Role.PUPIL
            else:
                role = Role.ADULT if school else Role.EXTERNAL
            name = (user.display_name if user else None) or identity.display_name
            found = Person(resolved, resolved, name, role, school, identity,
                           frozenset(user.addresses) if user else frozenset())
            self._people[resolved] = found
            return found
        key = identity.user_id or identity.display_name or identity.other_id or identity.upn or "unknown participant"
        if identity.kind == "phone" and identity.other_id and not identity.display_name:
            key = identity.other_id
        cached = self._people.get(key)
        if cached is not None:
            return cached
        addresses = frozenset({identity.upn.lower()}) if identity.upn else frozenset()
        found = Person(key, identity.user_id, identity.display_name, Role.EXTERNAL, False, identity, addresses)
        self._people[key] = found
        return found

    def _school_account(self, user_id: str, identity: Identity) -> bool:
        user = self.directory.users.get(user_id)
        for principal in (identity.upn, user.upn if user else None):
            if principal and "#ext#" in principal.lower():
                return False
        if user and user.user_type and user.user_type.lower() == "guest":
            return False
        tenant = self.directory.tenant_id
        return not (identity.tenant_id and tenant and identity.tenant_id.lower() != tenant)

    # -- organiser --

    def _find_organiser(self) -> Person | None:
        participants = obj(self.online_meeting, "participants", "onlineMeeting")
        organiser = obj(participants, "organizer", "onlineMeeting.participants")
        if organiser:
            ident = identity_from_participant_info(organiser, "onlineMeeting.participants.organizer")
            if ident:
                return self.person(ident)
        event_organiser = obj(obj(self.event, "organizer", "event"), "emailAddress", "event.organizer")
        address = text(event_organiser, "address", "event.organizer.emailAddress")
        if address:
            return self.person(Identity(None, text(event_organiser, "name", "event.organizer.emailAddress"),
                                        address, None, "user"))
        for i, record in enumerate(self.bundle.call_records):
            path = f"callRecords[{i}]"
            v2 = obj(record, "organizer_v2", path)
            ident = identity_from_call_participant(v2, f"{path}.organizer_v2") if v2 else None
            if ident is None:
                old = obj(record, "organizer", path)
                ident = identity_from_set(old, f"{path}.organizer") if old else None
            if ident:
                return self.person(ident)
        return None

    # -- where the meeting lives --

    def _find_thread(self) -> str | None:
        chat = obj(self.online_meeting, "chatInfo", "onlineMeeting")
        thread = text(chat, "threadId", "onlineMeeting.chatInfo")
        if thread:
            return thread
        candidates = [text(self.online_meeting, "joinWebUrl", "onlineMeeting"),
                      text(obj(self.event, "onlineMeeting", "event"), "joinUrl", "event.onlineMeeting"),
                      text(self.event, "onlineMeetingUrl", "event")]
        candidates += [text(cr, "joinWebUrl", f"callRecords[{i}]") for i, cr in enumerate(self.bundle.call_records)]
        for url in candidates:
            found = thread_from_join_url(url)
            if found:
                return found
        return None

    @property
    def is_meeting(self) -> bool:
        """A meeting (scheduled or ad hoc) rather than a call: it has a thread, an event or an online meeting."""
        return bool(self.thread_id or self.bundle.event or self.bundle.online_meeting) and not self.meetingless

    @property
    def in_general_channel(self) -> bool:
        return bool(self.team and self.team.general_channel_id and self.thread_id
                    and self.thread_id.lower() == self.team.general_channel_id.lower())

    # -- presence --

    def _read_presence(self) -> None:
        records = self.bundle.call_records
        if any(cr.get("sessions") or cr.get("participants_v2") or cr.get("participants") for cr in records):
            self.presence_source = "callRecord"
            for index, record in enumerate(records):
                self._read_call_record(index, record)
        elif self.bundle.attendance_reports:
            self.presence_source = "attendanceReports"
            for r, report in enumerate(self.bundle.attendance_reports):
                for a, record in enumerate(objects(report, "attendanceRecords", f"attendanceReports[{r}]")):
                    path = f"attendanceReports[{r}].attendanceRecords[{a}]"
                    ident = identity_from_attendance(record, path)
                    if ident is None:
                        continue
                    presence = self._present(ident)
                    for k, interval in enumerate(objects(record, "attendanceIntervals", path)):
                        span = _span(interval, "joinDateTime", "leaveDateTime", f"{path}.attendanceIntervals[{k}]")
                        if span:
                            presence.intervals.append((span[0], span[1], -1))

    def _read_call_record(self, index: int, record: JSON) -> None:
        path = f"callRecords[{index}]" if index else "callRecord"
        peer_to_peer = text(record, "type", path) == "peerToPeer"
        for s, session in enumerate(objects(record, "sessions", path)):
            spath = f"{path}.sessions[{s}]"
            span = _span(session, "startDateTime", "endDateTime", spath)
            ends = ["caller", "callee"] if peer_to_peer else ["caller"]
            for end in ends:
                ident = identity_from_endpoint(obj(session, end, spath), f"{spath}.{end}")
                if ident is None:
                    continue
                presence = self._present(ident)
                self.record_people[index].add(presence.person.key)
                self.session_people.append((index, session, end, presence.person))
                if span:
                    presence.intervals.append((span[0], span[1], index))
        for key in ("participants_v2", "participants"):
            for p, node in enumerate(objects(record, key, path)):
                ident = identity_from_call_participant(node, f"{path}.{key}[{p}]")
                if ident is not None:
                    self.record_people[index].add(self._present(ident).person.key)

    def _present(self, identity: Identity) -> Presence:
        person = self.person(identity)
        found = self.presence.get(person.key)
        if found is None:
            found = self.presence[person.key] = Presence(person)
        return found

    def present(self, role: Role) -> list[Presence]:
        return [p for p in self.presence.values() if p.person.role is role]

    # -- invitations --

    def _read_invitations(self) -> None:
        directory = self.directory
        if self.organiser:
            self.invited.add(self.organiser.key)
        participants = obj(self.online_meeting, "participants", "onlineMeeting")
        for i, attendee in enumerate(objects(participants, "attendees", "onlineMeeting.participants")):
            ident = identity_from_participant_info(attendee, f"onlineMeeting.participants.attendees[{i}]")
            if ident is None:
                continue
            if ident.user_id:
                self.invited_user_ids.add(ident.user_id)
            if ident.upn:
                self.invited_addresses.add(ident.upn.lower())
            if ident.kind in ("user", "anonymous"):
                person = self.person(ident)
                self.invited.add(person.key)
                self.individually_invited.add(person.key)
        for i, attendee in enumerate(objects(self.event, "attendees", "event")):
            email = obj(attendee, "emailAddress", f"event.attendees[{i}]")
            address = (text(email, "address", f"event.attendees[{i}].emailAddress") or "").strip().lower()
            if not address:
                continue
            self.invited_addresses.add(address)
            members = directory.groups.get(address)
            if members is not None:
                self.invited.update(members)
                self.event_attendees.update(members)
            user_id = directory.user_for_address(address)
            if user_id is not None:
                self.invited.add(user_id)
                self.individually_invited.add(user_id)
                self.event_attendees.add(user_id)
        if self.team is not None:
            self.invited.update(self.team.members)
        if self.meetingless:
            self.invited.update(p.person.key for p in self.presence.values() if p.person.school_account
                                or p.person.role in (Role.STAFF, Role.PUPIL))

    def is_invited(self, person: Person) -> bool:
        if person.key in self.invited:
            return True
        if person.role is not Role.EXTERNAL or person.identity.kind in ("anonymous", "phone"):
            return False
        if person.identity.user_id and person.identity.user_id in self.invited_user_ids:
            return True
        return bool(person.addresses & self.invited_addresses)

    # -- scope and stages --

    @property
    def organiser_is_pupil(self) -> bool:
        return self.organiser is not None and self.organiser.role is Role.PUPIL

    @property
    def in_scope(self) -> bool:
        pupils = self.directory.pupils
        return bool(
            (self.invited & pupils)
            or self.present(Role.PUPIL)
            or self.team is not None
            or self.organiser_is_pupil
        )

    @property
    def scheduled(self) -> bool:
        if self.meeting_type in UNSCHEDULED_TYPES:
            return False
        if any(t == "peerToPeer" or not cr.get("joinWebUrl")
               for t, cr in zip(self.call_types, self.bundle.call_records, strict=True)):
            return False
        if self.meeting_type is None:
            return bool(self.bundle.event) or bool(self.bundle.call_records)
        return self.meeting_type in SCHEDULED_TYPES

    @property
    def stages(self) -> list[str]:
        out = []
        if self.bundle.event or self.bundle.online_meeting:
            out.append("scheduled")
        if self.presence_source:
            out.append("held")
        if self.bundle.recordings or self.bundle.transcripts:
            out.append("recorded")
        return out

    @property
    def unclassified_adults(self) -> list[Person]:
        return [p.person for p in self.presence.values() if p.person.role is Role.ADULT]


def _span(node: JSON, start_key: str, end_key: str, path: str) -> Interval | None:
    start = text(node, start_key, path)
    end = text(node, end_key, path)
    if not start or not end:
        return None
    try:
        a, b = parse_instant(start), parse_instant(end)
    except TimeFormatError as exc:
        raise BundleError(f"{path}: {exc}") from None
    return (a, b) if b > a else None
