"""The Graph gateway: from a change notification to the evidence bundle(s) of the meeting occurrence(s).

Entry points (all async; one ``GraphGateway`` per worker process and event loop):

- ``gather_event(mailbox_id, event_id)`` — a calendar event changed. The event is read with ``$select`` and no
  body; a series master is expanded into its occurrences through ``calendarView`` over a bounded horizon
  (``series_lookback`` before and ``series_horizon`` after now). Per occurrence: organiser (from the
  directory, else ``/users/{address}``), invitees resolved (users, mail-enabled groups expanded), then
  - out of scope (no pupil invited, organiser not a pupil, not a class team's channel): the occurrence comes
    back marked out of scope with nothing but the directory — no event, meeting or artefact is kept;
  - in scope: the full event (with body) only when a pupil is invited, the online meeting by ``JoinWebUrl``
    under the organiser, attendance reports, recordings and transcripts filtered to the occurrence's window,
    and, once the meeting is over, its call records (matched by join URL in the day's call-record list).
- ``gather_call_record(call_record_id)`` — a call record arrived: the record with all sessions (all pages, with
  segments) and ``participants_v2``; the online meeting by its join URL under ``organizer_v2``; the scheduled
  occurrence from the organiser's ``calendarView`` (the event whose window holds the call's start and whose
  join URL matches after normalisation, or whose thread matches; short ``/meet/`` links through the organiser's
  meeting); every call record of that occurrence (``callRecord`` = the earliest, ``callRecords`` = the rest);
  then reports, recordings and transcripts. A call on the link outside every scheduled window is an occurrence
  of its own (``OccurrenceKey.unscheduled_use``); a call with no join URL is keyed by its record id.
- ``gather_recording(meeting_id, recording_id)`` / ``gather_transcript(...)`` — the artefact locates its
  occurrence by its ``createdDateTime``; then as for a call record.

Failures: 403 and 404 become ``unavailable`` entries (a 403 on the online meeting marks the meeting, its
reports, recordings and transcripts unavailable, as the same application access policy governs them); a
refusal to list a channel meeting's recordings or transcripts is ``unsupported``; throttling past the retry
budget raises ``GraphThrottled`` (``shared.graph.client``). Transient failures (5xx, timeouts, lost
connections, an unexpected 4xx once) raise ``GraphTransient`` within an evaluation until its last delivery,
whose bundle records them as ``unavailable`` under the occurrence's own key; a later good read replaces it.
An event or call record that cannot be read for any other reason than 403/404 raises ``GraphError``: without
it the occurrence is unknown, so the message goes to the poison queue (and health) rather than to a phantom.

Bundles hold Graph's JSON exactly as sent, minus ``@odata.context`` and paging links (``sessions@odata.nextLink``
pages are merged in); see ``docs/evidence-bundle.md``.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from shared.evidence.meeting import normalise_join_url, thread_from_join_url
from shared.graph.client import GraphTransport, Reply, Request
from shared.graph.directory import ConsentSource, DirectoryCache, DirectoryFacts, ok_items
from shared.graph.errors import GraphError
from shared.graph.index import CallRecordIndex, MemoryCallRecordIndex
from shared.occurrence import OccurrenceKey
from shared.routing import ADHOC_PREFIX

JSON = dict[str, Any]

EVENT_SELECT = (
    "id,subject,start,end,type,seriesMasterId,originalStart,iCalUId,isCancelled,isOnlineMeeting,"
    "onlineMeetingProvider,onlineMeeting,onlineMeetingUrl,organizer,attendees,location,locations,isOrganizer,isDraft"
)
VIEW_SELECT = "id,subject,start,end,type,seriesMasterId,iCalUId,isCancelled,onlineMeeting,organizer,attendees"
PREFER_ENUMS = "include-unknown-enum-members"
PREFER_UTC = 'outlook.timezone="UTC"'
EARLY = timedelta(minutes=30)  # a call may start this long before the scheduled start and still be that occurrence
LATE = timedelta(minutes=30)  # artefacts and reports up to this long after the last call / scheduled end
UNSUPPORTED_STATUSES = frozenset({400, 501})
REPORT_SLACK = timedelta(minutes=5)  # a report's meeting start/end against its call's start/end
WINDOWS_ZONES = {"GMT Standard Time": "Europe/London", "UTC": "UTC", "Coordinated Universal Time": "UTC"}


@dataclass(frozen=True)
class GatheredOccurrence:
    """One meeting occurrence as gathered.

    - ``key``: the occurrence key (``shared.occurrence``); for an event with no Teams meeting (a Zoom link) the
      thread part is ``ical:<iCalUId>``.
    - ``bundle``: the evidence bundle (``docs/evidence-bundle.md``). Out of scope: ``{"directory": …}`` only.
    - ``in_scope_hint``: what the gateway saw (a pupil invited or present, a class team's channel meeting, a
      pupil organiser). The engine decides scope; a False here means no evidence was kept.
    - ``scheduled_start`` / ``scheduled_end``: the event's window (UTC); for an unscheduled call, the call's.
    - ``cancelled``: the event is cancelled — the worker resolves the occurrence, the bundle has no evidence.
    """

    key: OccurrenceKey
    bundle: JSON
    in_scope_hint: bool
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    organiser_id: str | None
    subject: str | None
    cancelled: bool = False
    call_record_ids: tuple[str, ...] = ()
    series_master_id: str | None = None  # set for the occurrences of an expanded series master
    series_id: str | None = None  # an occurrence or exception read on its own: the series master it belongs to
    original_start: datetime | None = None  # an exception read on its own: the start it was moved from


# ---------------------------------------------------------------------------------------------------- helpers


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with 0–7 fractional digits and ``Z``/offset (none: UTC)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.match(r"^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$", text)
    if m:
        frac = (m.group(2) or "")[:6]
        text = m.group(1) + (f".{frac.ljust(6, '0')}" if frac else "") + m.group(3)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def event_time(node: Any) -> datetime | None:
    """An event's ``start``/``end`` (dateTimeTimeZone) as an aware UTC datetime."""
    if not isinstance(node, dict):
        return None
    naive = parse_time(node.get("dateTime"))
    if naive is None:
        return None
    zone_name = str(node.get("timeZone") or "UTC")
    zone_name = WINDOWS_ZONES.get(zone_name, zone_name)
    try:
        zone = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return naive.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean(payload: JSON) -> JSON:
    """Graph's JSON without the response-level annotations a bundle must not carry."""
    return {k: v for k, v in payload.items() if k != "@odata.context" and not k.endswith("@odata.nextLink")}


def message_id_from_join_url(url: str | None) -> str | None:
    m = re.search(r"/l/meetup-join/[^/?#]+/([^/?#]+)", url or "", re.IGNORECASE)
    return m.group(1) if m else None


def organiser_from_meeting_id(meeting_id: str) -> str | None:
    """The organiser's id inside an onlineMeeting id (base64 of ``1*<organiser>*0*<message>*<thread>``).
    Undocumented format: used only when a basic recording/transcript notification names nothing else."""
    try:
        raw = base64.b64decode(meeting_id + "=" * (-len(meeting_id) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    parts = raw.split("*")
    return parts[1] if len(parts) >= 5 and parts[1] else None


def _user_id_of(identity_set: Any) -> tuple[str | None, str | None]:
    """(user id, tenant id) of an identitySet / communicationsIdentitySet."""
    if not isinstance(identity_set, dict):
        return None, None
    user = identity_set.get("user")
    if isinstance(user, dict) and user.get("id"):
        return str(user["id"]), (str(user["tenantId"]) if user.get("tenantId") else None)
    return None, None


def join_of_event(event: JSON) -> str | None:
    online = event.get("onlineMeeting")
    if isinstance(online, dict) and online.get("joinUrl"):
        return str(online["joinUrl"])
    return None


# Graph refuses a meeting's recordings and transcripts when no calendar event backs it (Meet now, a meeting made
# with the onlineMeetings API): "No iCalUid found for the meeting. This API is supported only for calendar backed
# OnlineMeeting." (https://learn.microsoft.com/en-us/graph/api/calltranscript-get: "doesn't support meetings
# created using the create onlineMeeting API that are not associated with an event on the user's calendar").
CALENDARLESS_REFUSAL = "supported only for calendar backed"


def calendarless_refusal(reply: Reply) -> bool:
    """Graph's documented refusal for a meeting no calendar backs: a limitation (``unsupported``), not a failure."""
    return reply.status == 400 and CALENDARLESS_REFUSAL in reply.error_text().lower()


def same_link(a: str | None, b: str | None) -> bool:
    """Two join URLs name the same meeting: equal after normalisation, or the same thread *and* message id. Every
    channel meeting of a channel shares the channel's thread, so the thread alone never identifies a meeting."""
    if not a or not b:
        return False
    if normalise_join_url(a) == normalise_join_url(b):
        return True
    ta, tb = thread_from_join_url(a), thread_from_join_url(b)
    ma, mb = message_id_from_join_url(a), message_id_from_join_url(b)
    return bool(ta and tb and ma and mb and ta.lower() == tb.lower() and ma == mb)


@dataclass
class _Work:
    """What is known of one occurrence while it is being gathered."""

    organiser_id: str | None
    join_url: str | None
    start: datetime | None
    end: datetime | None
    scheduled: bool
    mailbox: str | None = None
    event: JSON | None = None
    event_full: bool = False
    meeting: JSON | None = None
    meeting_error: Reply | None = None
    records: dict[str, JSON] = field(default_factory=dict)
    fetch_records: list[str] = field(default_factory=list)
    unavailable: list[JSON] = field(default_factory=list)
    invitees: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    anchor: datetime | None = None  # the call's / artefact's start for an unscheduled occurrence


class GraphGateway:
    """Gathers evidence bundles over a ``GraphTransport``.

    ``naive=True`` (benchmark only) switches off the directory cache, the day's call-record cache and
    ``$batch``: every request is sent on its own and the directory is read for every occurrence.
    """

    def __init__(
        self,
        transport: GraphTransport,
        *,
        tenant_id: str,
        staff_group_ids: Iterable[str],
        pupil_group_ids: Iterable[str],
        class_team_ids: Iterable[str] = (),
        consent: ConsentSource,
        directory_ttl_seconds: float = 900.0,
        call_record_list_ttl_seconds: float = 300.0,
        series_lookback: timedelta = timedelta(days=7),
        series_horizon: timedelta = timedelta(days=28),
        naive: bool = False,
        call_index: CallRecordIndex | None = None,
        policy_refused: set[str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.transport = transport
        self.call_index: CallRecordIndex = call_index if call_index is not None else MemoryCallRecordIndex()
        # organisers whose meetings answered "No application access policy" (``add`` is all that is used: the
        # session passes a set that also records them for health and the digest)
        self.policy_refused: set[str] = policy_refused if policy_refused is not None else set()
        self.tenant_id = tenant_id
        self.naive = naive
        if naive:
            transport.batching = False
        self.directory = DirectoryCache(
            transport,
            tenant_id=tenant_id,
            staff_group_ids=staff_group_ids,
            pupil_group_ids=pupil_group_ids,
            class_team_ids=class_team_ids,
            consent=consent,
            ttl_seconds=directory_ttl_seconds,
            cached=not naive,
        )
        self.call_record_list_ttl_seconds = call_record_list_ttl_seconds
        self.series_lookback = series_lookback
        self.series_horizon = series_horizon
        self.now = now
        self._day_lists: dict[str, tuple[datetime, list[JSON]]] = {}
        # The organiser's deleted or cancelled events still kept (``shared/store/series.py``): a call record that
        # arrives after its event was deleted is still linked to the scheduled occurrence.
        self.tombstones: Callable[[str], list[tuple[JSON, JSON | None]]] | None = None

    @classmethod
    def from_settings(cls, transport: GraphTransport, settings: Any, consent: ConsentSource, **kw: Any) -> GraphGateway:
        """From ``shared.settings.Settings``."""
        return cls(
            transport,
            tenant_id=settings.tenant_id,
            staff_group_ids=settings.staff_group_ids,
            pupil_group_ids=settings.pupil_group_ids,
            class_team_ids=settings.class_team_ids,
            consent=consent,
            **kw,
        )

    # ================================================================== entry points
    async def gather_event(self, mailbox_id: str, event_id: str) -> list[GatheredOccurrence]:
        """The occurrence(s) of a changed event; [] when the event is gone (deleted) or cannot be read."""
        facts = await self.directory.facts()
        reply = await self.transport.get(
            f"/users/{mailbox_id}/events/{quote(event_id, safe='')}?$select={EVENT_SELECT}", {"Prefer": PREFER_UTC}
        )
        if reply.status in (403, 404):  # deleted since, or no access: nothing to evaluate
            return []
        if not reply.ok:  # past the transport's retries and the queue's: the evaluation must fail loudly
            raise GraphError(reply.status, reply.error_text(), "event")
        event = clean(reply.json)
        instances = [event]
        if event.get("type") == "seriesMaster":
            now = self.now()
            # The master's occurrences and exceptions in the window, cancelled ones left out
            # (https://learn.microsoft.com/en-us/graph/api/event-list-instances).
            items, _ = await self.transport.get_all(
                f"/users/{mailbox_id}/events/{quote(event_id, safe='')}/instances"
                f"?startDateTime={graph_time(now - self.series_lookback)}"
                f"&endDateTime={graph_time(now + self.series_horizon)}&$select={EVENT_SELECT}&$top=500",
                {"Prefer": PREFER_UTC},
            )
            instances = [clean(i) for i in items if i.get("seriesMasterId") in (None, event.get("id"))]
            results = await asyncio.gather(*(self._from_event(facts, mailbox_id, ev) for ev in instances))
            return [replace(r, series_master_id=str(event.get("id"))) for r in results]
        results = await asyncio.gather(*(self._from_event(facts, mailbox_id, ev) for ev in instances))
        if event.get("type") in ("occurrence", "exception") and event.get("seriesMasterId"):
            # An exception names the slot it left (event.originalStart, docs/graph-facts.md §6).
            moved_from = parse_time(event.get("originalStart")) if event.get("type") == "exception" else None
            return [replace(r, series_id=str(event["seriesMasterId"]),
                            original_start=moved_from if moved_from != r.scheduled_start else None) for r in results]
        return list(results)

    async def gather_call_record(self, call_record_id: str) -> list[GatheredOccurrence]:
        facts = await self.directory.facts()
        records, errors, partial = await self._fetch_records([call_record_id])
        record = records.get(call_record_id)
        if record is None:
            reason = errors.get(call_record_id, "404 not found")
            if not reason.startswith(("403", "404")):
                # The occurrence is unknown without its record: fail loudly (queue retries, then the poison
                # queue and health) rather than record an unavailability under a key of its own.
                raise GraphError(int(reason.split()[0]) if reason.split()[0].isdigit() else 500, reason, "callRecord")
            bundle = self._bundle(facts, [], [{"kind": "callRecord", "reason": reason}])
            return [GatheredOccurrence(OccurrenceKey.call(call_record_id), bundle, True, None, None, None, None)]
        await self._note(record)
        organiser = _user_id_of((record.get("organizer_v2") or {}).get("identity"))[0] or (
            str((record.get("organizer_v2") or {}).get("id") or "") or None
        )
        join = record.get("joinWebUrl")
        call_start = parse_time(record.get("startDateTime"))
        call_end = parse_time(record.get("endDateTime")) or call_start
        if not join or not organiser or call_start is None:
            return [await self._lone_call(facts, record)]
        return [
            await self._from_anchor(
                facts, organiser, str(join), call_start, call_end or call_start, {call_record_id: record}, partial
            )
        ]

    async def gather_recording(
        self, meeting_id: str, recording_id: str, organiser_id: str | None = None
    ) -> list[GatheredOccurrence]:
        return await self._gather_artefact("recordings", meeting_id, recording_id, organiser_id)

    async def gather_transcript(
        self, meeting_id: str, transcript_id: str, organiser_id: str | None = None
    ) -> list[GatheredOccurrence]:
        return await self._gather_artefact("transcripts", meeting_id, transcript_id, organiser_id)

    # ================================================================== flows
    async def _from_event(self, facts: DirectoryFacts, mailbox: str, event: JSON) -> GatheredOccurrence:
        start, end = event_time(event.get("start")), event_time(event.get("end"))
        organiser = await self._organiser_of_event(facts, event, mailbox)
        join = join_of_event(event)
        work = _Work(organiser, join, start, end, True, mailbox=mailbox, event=event)
        await self._resolve_invitees(facts, work)
        subject = event.get("subject")
        if event.get("isCancelled"):
            key = self._key(work)
            return GatheredOccurrence(key, self._bundle(facts, [], []), False, start, end, organiser, subject, True)
        in_scope = self._scope_before_meeting(facts, work)
        if not in_scope and join and thread_from_join_url(join) is None and organiser:
            # A short /meet/ link names no thread: only the meeting says whether it is a class team's channel.
            await self._fetch_meeting(work)
            in_scope = self._scope_before_meeting(facts, work)
        if not in_scope:
            return GatheredOccurrence(
                self._key(work), self._bundle(facts, [], []), False, start, end, organiser, subject
            )
        if join and organiser and work.meeting is None and work.meeting_error is None:
            self._take_meeting(
                work, await self.transport.get(self._meeting_request(organiser, join).url, {"Prefer": PREFER_ENUMS})
            )
        if end is not None and end <= self.now() and join:
            await self._match_day_records(work, None)
        return await self._finish(facts, work)

    async def _from_anchor(
        self,
        facts: DirectoryFacts,
        organiser: str,
        join: str,
        start: datetime,
        end: datetime,
        seed: dict[str, JSON],
        partial: Iterable[JSON] = (),
    ) -> GatheredOccurrence:
        """An occurrence located by a call (or artefact) on ``join`` at ``start``..``end``."""
        work = _Work(organiser, join, None, None, False, anchor=start)
        work.records.update(seed)
        work.unavailable.extend(partial)
        window = (start - timedelta(hours=12), end + timedelta(hours=12))
        replies = await self.transport.many(
            [
                self._meeting_request(organiser, join),
                Request(
                    "GET",
                    f"/users/{organiser}/calendarView?startDateTime={graph_time(window[0])}"
                    f"&endDateTime={graph_time(window[1])}&$select={EVENT_SELECT}&$top=500",
                    {"Prefer": PREFER_UTC},
                ),
            ]
        )
        self._take_meeting(work, replies[0])
        candidates, _ = await self.transport.follow(replies[1]) if replies[1].ok else ([], replies[1])
        meeting_join = (work.meeting or {}).get("joinWebUrl")
        best: tuple[timedelta, JSON] | None = None
        for item in candidates:
            ev_join = join_of_event(item)
            if not (same_link(ev_join, join) or same_link(ev_join, meeting_join)):
                continue
            s, e = event_time(item.get("start")), event_time(item.get("end"))
            if s is None or e is None or not (s - EARLY <= start < e):
                continue
            distance = abs(start - s)
            if best is None or distance < best[0]:
                best = (distance, clean(item))
        if best is None and self.tombstones is not None:
            # The event was deleted or cancelled after it was read: judge the call as that scheduled lesson.
            for event, meeting in self.tombstones(organiser):
                ev_join = join_of_event(event)
                s, e = event_time(event.get("start")), event_time(event.get("end"))
                if not (same_link(ev_join, join) or same_link(ev_join, meeting_join)):
                    continue
                if s is None or e is None or not (s - EARLY <= start < e):
                    continue
                if best is None or abs(start - s) < best[0]:
                    best = (abs(start - s), event)
                    if work.meeting is None and meeting:
                        work.meeting, work.meeting_error = meeting, None
        if best is not None:
            event = best[1]
            work.event, work.mailbox, work.scheduled = event, organiser, True
            work.start, work.end = event_time(event.get("start")), event_time(event.get("end"))
        else:
            work.start, work.end = start, end
        await self._resolve_invitees(facts, work)
        await self._match_day_records(work, next(iter(seed), None))
        # Records named by the day list (siblings) are fetched in _finish; scope needs the seed's participants.
        in_scope = self._scope_before_meeting(facts, work) or any(
            self._pupil_present(facts, r) for r in work.records.values()
        )
        if not in_scope:
            key = self._key(work)
            return GatheredOccurrence(
                key, self._bundle(facts, [], []), False, work.start, work.end, organiser, self._subject(work)
            )
        return await self._finish(facts, work)

    async def _gather_artefact(
        self, kind: str, meeting_id: str, item_id: str, organiser_id: str | None
    ) -> list[GatheredOccurrence]:
        facts = await self.directory.facts()
        if meeting_id.startswith(ADHOC_PREFIX):
            return await self._adhoc_artefact(facts, kind, meeting_id.removeprefix(ADHOC_PREFIX), item_id)
        organiser = organiser_id or organiser_from_meeting_id(meeting_id)
        if not organiser:
            return []
        base = f"/users/{organiser}/onlineMeetings/{quote(meeting_id, safe='')}"
        meeting_reply, item_reply = await self.transport.many(
            [Request("GET", base, {"Prefer": PREFER_ENUMS}), Request("GET", f"{base}/{kind}/{quote(item_id, safe='')}")]
        )
        if not meeting_reply.ok or not item_reply.ok:
            return []
        meeting = clean(meeting_reply.json)
        created = parse_time(item_reply.json.get("createdDateTime"))
        join = meeting.get("joinWebUrl")
        if created is None or not join:
            return []
        ended = parse_time(item_reply.json.get("endDateTime")) or created
        return [await self._from_anchor(facts, organiser, str(join), created, ended, {})]

    async def _adhoc_artefact(
        self, facts: DirectoryFacts, kind: str, call_id: str, item_id: str
    ) -> list[GatheredOccurrence]:
        """A recording or transcript of an ad hoc call, read through the ``adhocCalls`` routes — never the online
        meeting ones (https://learn.microsoft.com/en-us/graph/api/adhoccall-list-recordings,
        https://learn.microsoft.com/en-us/graph/api/adhoccall-list-transcripts). Keyed by the call; in scope when
        a pupil organised it (the call record, when it arrives, brings who was there)."""
        url = f"/communications/adhocCalls/{quote(call_id, safe='')}/{kind}/{quote(item_id, safe='')}"
        reply = await self.transport.get(url)
        key = OccurrenceKey.call(f"adhoc:{call_id}")
        if not reply.ok:
            bundle = self._bundle(facts, [], [{"kind": kind, "reason": reply.error_text()}])
            return [GatheredOccurrence(key, bundle, True, None, None, None, None)]
        item = clean(reply.json)
        organiser = _user_id_of(item.get("meetingOrganizer"))[0]
        created = parse_time(item.get("createdDateTime"))
        await self.directory.classify(facts, [organiser] if organiser else [])
        in_scope = facts.role(organiser) == "pupil"
        bundle = self._bundle(facts, [], [])
        if in_scope:
            bundle[kind] = [item]
        return [GatheredOccurrence(key, bundle, in_scope, created, created, organiser, None)]

    async def _lone_call(self, facts: DirectoryFacts, record: JSON) -> GatheredOccurrence:
        """A call with no meeting (peer-to-peer, or a group call with no join URL): keyed by its record id."""
        start, end = parse_time(record.get("startDateTime")), parse_time(record.get("endDateTime"))
        await self.directory.classify(facts, self._record_people(facts, record))
        organiser = _user_id_of((record.get("organizer_v2") or {}).get("identity"))[0]
        in_scope = self._pupil_present(facts, record)
        bundle = self._bundle(facts, [record] if in_scope else [], [])
        return GatheredOccurrence(
            OccurrenceKey.call(str(record["id"])),
            bundle,
            in_scope,
            start,
            end,
            organiser,
            None,
            call_record_ids=(str(record["id"]),),
        )

    # ================================================================== pieces
    def _meeting_request(self, organiser: str, join: str) -> Request:
        flt = quote(f"JoinWebUrl eq '{join}'", safe="")
        # A fresh headers mapping per request: never shared between requests (kiota-python#507).
        return Request("GET", f"/users/{organiser}/onlineMeetings?$filter={flt}", {"Prefer": PREFER_ENUMS})

    async def _fetch_meeting(self, work: _Work) -> None:
        if work.organiser_id and work.join_url:
            self._take_meeting(
                work,
                await self.transport.get(
                    self._meeting_request(work.organiser_id, work.join_url).url, {"Prefer": PREFER_ENUMS}
                ),
            )

    def _take_meeting(self, work: _Work, reply: Reply) -> None:
        if not reply.ok:
            work.meeting_error = reply
            if reply.status == 403 and "application access policy" in reply.error_text().lower() and work.organiser_id:
                # Teams' application access policy does not cover this organiser (group policy reaches direct
                # members only, and takes up to 24 hours): named in health and the digest so the admin adds them.
                name = (((work.event or {}).get("organizer") or {}).get("emailAddress") or {}).get("name")
                self.policy_refused.add(f"{name} ({work.organiser_id})" if name else work.organiser_id)
            return
        found = ok_items(reply)
        if found:
            work.meeting = clean(found[0])
        else:
            work.meeting_error = Reply(404, {}, {"error": {"message": "no online meeting with this JoinWebUrl"}})

    async def _organiser_of_event(self, facts: DirectoryFacts, event: JSON, mailbox: str) -> str | None:
        if event.get("isOrganizer") is True:
            return mailbox
        address = (((event.get("organizer") or {}).get("emailAddress") or {}).get("address") or "").lower()
        if not address:
            return None
        ids = facts.resolve_address(address)
        if not ids:
            await self.directory.resolve_addresses(facts, [address])
            ids = facts.resolve_address(address)
        return ids[0] if len(ids) == 1 and address not in facts.groups else None

    async def _resolve_invitees(self, facts: DirectoryFacts, work: _Work) -> None:
        event = work.event or {}
        addresses = [
            str((a.get("emailAddress") or {}).get("address") or "")
            for a in event.get("attendees") or []
            if isinstance(a, dict)
        ]
        addresses = [a for a in addresses if a]
        await self.directory.resolve_addresses(facts, addresses)
        for address in addresses:
            if address.lower() in facts.groups:
                work.groups.add(address.lower())
            work.invitees.update(facts.resolve_address(address))

    def _pupil_invited(self, facts: DirectoryFacts, work: _Work) -> bool:
        if any(facts.role(u) == "pupil" for u in work.invitees):
            return True
        attendees = ((work.meeting or {}).get("participants") or {}).get("attendees") or []
        return any(facts.role(_user_id_of(a.get("identity"))[0]) == "pupil" for a in attendees if isinstance(a, dict))

    def _thread(self, work: _Work) -> str | None:
        chat = (work.meeting or {}).get("chatInfo") or {}
        return str(chat.get("threadId") or "") or thread_from_join_url(work.join_url)

    def _scope_before_meeting(self, facts: DirectoryFacts, work: _Work) -> bool:
        if facts.role(work.organiser_id) == "pupil" or self._pupil_invited(facts, work):
            return True
        thread = self._thread(work)
        return bool(thread and thread.lower() in facts.channel_team)

    def _pupil_present(self, facts: DirectoryFacts, record: JSON) -> bool:
        return any(facts.role(u) == "pupil" for u in self._record_people(facts, record))

    def _record_people(self, facts: DirectoryFacts, record: JSON) -> set[str]:
        """User ids of the school's tenant (or with no tenant given) present in a call record."""
        people: set[str] = set()

        def add(uid: Any, tenant: Any) -> None:
            if uid and (not tenant or str(tenant).lower() == self.tenant_id.lower()):
                people.add(str(uid))

        for p in record.get("participants_v2") or record.get("participants") or []:
            if isinstance(p, dict):
                uid, tenant = _user_id_of(p.get("identity"))
                add(uid, tenant)
        for s in record.get("sessions") or []:
            for end in ("caller", "callee"):
                ident = (s.get(end) or {}).get("associatedIdentity") if isinstance(s, dict) else None
                if isinstance(ident, dict):
                    add(ident.get("id"), ident.get("tenantId"))
        return people

    def _key(self, work: _Work) -> OccurrenceKey:
        chat = (work.meeting or {}).get("chatInfo") or {}
        thread = str(chat.get("threadId") or "") or thread_from_join_url(work.join_url)
        message = str(chat.get("messageId") or "") or message_id_from_join_url(work.join_url) or "0"
        if thread:
            if work.scheduled and work.start is not None:
                return OccurrenceKey.scheduled(thread, message, work.start.timestamp())
            anchor = work.anchor or work.start
            if anchor is not None:
                return OccurrenceKey.unscheduled_use(thread, message, anchor.timestamp())
        ical = str((work.event or {}).get("iCalUId") or (work.event or {}).get("id") or "")
        if ical and work.start is not None:
            return OccurrenceKey.scheduled("ical:" + ical, "0", work.start.timestamp())
        if work.records:
            return OccurrenceKey.call(sorted(work.records)[0])
        return OccurrenceKey.call("unknown:" + (work.join_url or ""))

    def _subject(self, work: _Work) -> str | None:
        for source in (work.event, work.meeting):
            if source and source.get("subject"):
                return str(source["subject"])
        return None

    def _window(self, work: _Work) -> tuple[datetime, datetime]:
        starts = [t for t in (work.start, work.anchor) if t is not None]
        ends = [t for t in (work.end,) if t is not None]
        for record in work.records.values():
            s, e = parse_time(record.get("startDateTime")), parse_time(record.get("endDateTime"))
            if s:
                starts.append(s)
            if e:
                ends.append(e)
        lo = min(starts) if starts else datetime.min.replace(tzinfo=UTC)
        hi = max(ends + starts) if (ends or starts) else datetime.max.replace(tzinfo=UTC)
        return lo - EARLY, hi + LATE

    # ------------------------------------------------------------------ call records
    @staticmethod
    def _record_requests(ids: list[str]) -> list[Request]:
        requests: list[Request] = []
        for rid in ids:
            requests.append(Request("GET", f"/communications/callRecords/{rid}?$expand=sessions($expand=segments)"))
            # participants_v2 pages with @odata.nextLink; $top is not among its documented query parameters
            # (https://learn.microsoft.com/en-us/graph/api/callrecords-callrecord-list-participants_v2)
            requests.append(Request("GET", f"/communications/callRecords/{rid}/participants_v2"))
        return requests

    async def _fetch_records(self, ids: list[str]) -> tuple[dict[str, JSON], dict[str, str], list[JSON]]:
        """Full call records: sessions (with segments, every page) and participants_v2 (every page)."""
        return await self._records_from(ids, await self.transport.many(self._record_requests(ids)))

    async def _records_from(
        self, ids: list[str], replies: list[Reply]
    ) -> tuple[dict[str, JSON], dict[str, str], list[JSON]]:
        """(records, id → error of the records that could not be read, unavailable entries for parts)."""
        records: dict[str, JSON] = {}
        errors: dict[str, str] = {}
        partial: list[JSON] = []
        for i, rid in enumerate(ids):
            main, parts = replies[2 * i], replies[2 * i + 1]
            if not main.ok:
                errors[rid] = main.error_text()
                continue
            record = clean(main.json)
            sessions = [s for s in main.json.get("sessions", []) if isinstance(s, dict)]
            link = main.json.get("sessions@odata.nextLink")
            while isinstance(link, str) and link:
                page = await self.transport.get(link)
                if not page.ok:
                    errors[rid] = page.error_text()
                    break
                sessions.extend(s for s in page.json.get("value", []) if isinstance(s, dict))
                link = page.json.get("@odata.nextLink")
            if rid in errors:
                continue
            record["sessions"] = sessions
            people, last = await self.transport.follow(parts) if parts.ok else ([], parts)
            if last.ok:
                record["participants_v2"] = people
            else:  # never dropped silently: the participants are part of who was there
                partial.append({"kind": "callRecord", "reason": f"participants_v2: {last.error_text()} ({rid})"})
            records[rid] = record
        return records, errors, partial

    async def _day_list(self, day: str, must_contain: str | None) -> list[JSON]:
        """Call records that started on ``day`` (UTC), from ``GET /communications/callRecords?$filter=...``,
        kept for ``call_record_list_ttl_seconds`` and refreshed when a notified record is not in it yet."""
        now = self.now()
        cached = self._day_lists.get(day)
        fresh = cached is not None and (now - cached[0]).total_seconds() <= self.call_record_list_ttl_seconds
        if self.naive or not fresh or (must_contain and cached and all(r.get("id") != must_contain for r in cached[1])):
            start = datetime.fromisoformat(day).replace(tzinfo=UTC)
            flt = quote(
                f"startDateTime ge {graph_time(start)} and startDateTime lt {graph_time(start + timedelta(days=1))}",
                safe="",
            )
            items, last = await self.transport.get_all(f"/communications/callRecords?$filter={flt}")
            if not last.ok:
                return []
            cached = (now, items)
            if not self.naive:
                self._day_lists[day] = cached
        assert cached is not None
        return cached[1]

    async def index_call_records(self, lo: datetime, hi: datetime) -> list[str]:
        """Nightly reconcile: the tenant's call records that started in ``lo``..``hi``, listed by a
        ``startDateTime`` window and paged (https://learn.microsoft.com/en-us/graph/api/callrecords-cloudcommunications-list-callrecords),
        are added to the index; returns the ids the index did not know — those whose notification was missed,
        which the caller schedules for a gather."""
        flt = quote(f"startDateTime ge {graph_time(lo)} and startDateTime lt {graph_time(hi)}", safe="")
        items, last = await self.transport.get_all(f"/communications/callRecords?$filter={flt}")
        if not last.ok:
            from shared.graph.errors import GraphError

            raise GraphError(last.status, last.error_text(), "/communications/callRecords")
        ids = [str(i["id"]) for i in items if i.get("id")]
        known = await self.call_index.known(ids)
        for item in items:
            if item.get("id"):
                await self._note(item)
        return [rid for rid in ids if rid not in known]

    async def _note(self, record: JSON) -> None:
        """Index a call record read by id under its meeting (``shared.graph.index``)."""
        start = parse_time(record.get("startDateTime"))
        if record.get("id") and record.get("joinWebUrl") and start is not None:
            end = parse_time(record.get("endDateTime"))
            await self.call_index.note(str(record["id"]), str(record["joinWebUrl"]), start, end)

    async def _match_day_records(self, work: _Work, seed_id: str | None) -> None:
        """Every call record of this occurrence's meeting (its join URL's thread *and* message id) that started
        within its window, from vcaudit's call-record index — filled as each record's notification is read by id,
        and by the nightly reconcile for those whose notification was missed — never by listing the tenant's
        call records (``naive`` only, for the benchmark's baseline)."""
        if not work.join_url or work.start is None:
            return
        if work.scheduled:
            lo, hi = work.start - EARLY, (work.end or work.start)
        else:
            lo = hi = work.anchor or work.start
        if not self.naive:
            links = {work.join_url, str((work.meeting or {}).get("joinWebUrl") or "")} - {""}
            for link in links:
                upper = hi if work.scheduled else hi + timedelta(microseconds=1)
                for call in await self.call_index.on_meeting(link, lo, upper):
                    rid = call.record_id
                    if rid in work.records or rid in work.fetch_records:
                        continue
                    if work.scheduled or call.start == lo:
                        work.fetch_records.append(rid)
            return
        days = sorted({(lo + timedelta(days=i)).date().isoformat() for i in range((hi.date() - lo.date()).days + 1)})
        meeting_join = (work.meeting or {}).get("joinWebUrl")
        for day in days:
            for stub in await self._day_list(day, seed_id):
                rid = str(stub.get("id") or "")
                if not rid or rid in work.records or rid in work.fetch_records:
                    continue
                s = parse_time(stub.get("startDateTime"))
                joined = stub.get("joinWebUrl")
                if s is None or not (same_link(joined, work.join_url) or same_link(joined, meeting_join)):
                    continue
                if (work.scheduled and lo <= s < hi) or (not work.scheduled and s == lo):
                    work.fetch_records.append(rid)

    # ------------------------------------------------------------------ the rest of the evidence
    async def _finish(self, facts: DirectoryFacts, work: _Work) -> GatheredOccurrence:
        organiser = work.organiser_id
        meeting = work.meeting
        requests: list[Request] = []
        base = None
        if meeting is not None and organiser:
            base = f"/users/{organiser}/onlineMeetings/{quote(str(meeting['id']), safe='')}"
            requests += [
                Request("GET", f"{base}/attendanceReports"),
                # a channel meeting's refusal (400/501) is an answer: ``unsupported``, not a transient failure
                Request("GET", f"{base}/recordings", expected=UNSUPPORTED_STATUSES),
                Request("GET", f"{base}/transcripts", expected=UNSUPPORTED_STATUSES),
            ]
        elif work.meeting_error is not None and work.join_url:
            reason = work.meeting_error.error_text()
            work.unavailable.append({"kind": "onlineMeeting", "reason": reason})
            if work.meeting_error.status == 403:  # the same access policy governs the artefacts
                for kind in ("attendanceReports", "recordings", "transcripts"):
                    work.unavailable.append({"kind": kind, "reason": reason})
        want_body = (
            work.event is not None
            and not work.event_full
            and work.mailbox is not None
            and self._pupil_invited(facts, work)
        )
        if want_body and work.event is not None:
            event_url = f"/users/{work.mailbox}/events/{quote(str(work.event['id']), safe='')}"
            requests.append(Request("GET", event_url, {"Prefer": PREFER_UTC}))
        requests += self._record_requests(work.fetch_records)
        replies = await self.transport.many(requests)
        record_replies = replies[len(replies) - 2 * len(work.fetch_records) :]
        replies = replies[: len(replies) - 2 * len(work.fetch_records)]
        if want_body:
            body_reply = replies.pop()
            if body_reply.ok:
                work.event, work.event_full = clean(body_reply.json), True
        extra, errors, partial = await self._records_from(work.fetch_records, record_replies)
        work.unavailable.extend(partial)
        work.records.update(extra)
        for rid, reason in errors.items():
            work.unavailable.append({"kind": "callRecord", "reason": f"{reason} ({rid})"})
        lo, hi = self._window(work)
        bundle_parts: JSON = {}
        if base is not None:
            reports_reply, rec_reply, tra_reply = replies
            channel = str(((meeting or {}).get("chatInfo") or {}).get("threadId") or "").endswith(
                ("@thread.tacv2", "@thread.skype")
            )
            if reports_reply.ok:
                reports, _ = await self.transport.follow(reports_reply)
                wanted = [r for r in reports if self._report_belongs(work, r)]
                bundle_parts["attendanceReports"] = await self._expand_reports(work, base, wanted, channel)
                if not wanted and self._over(work) and work.records:
                    # The call happened and has ended, but its report is not among those listed (late, or past
                    # the 50 most recent a channel's list holds): say so rather than show no one present.
                    work.unavailable.append(
                        {
                            "kind": "attendanceReports",
                            "reason": f"no attendance report of this occurrence among the {len(reports)} listed",
                        }
                    )
            else:
                work.unavailable.append({"kind": "attendanceReports", "reason": reports_reply.error_text()})
            for kind, reply in (("recordings", rec_reply), ("transcripts", tra_reply)):
                if reply.ok:
                    items, _ = await self.transport.follow(reply)
                    bundle_parts[kind] = [clean(x) for x in items if self._in_window(x.get("createdDateTime"), lo, hi)]
                elif (channel and reply.status in (400, 403, 501)) or calendarless_refusal(reply):
                    work.unavailable.append({"kind": kind, "reason": reply.error_text(), "unsupported": True})
                else:
                    work.unavailable.append({"kind": kind, "reason": reply.error_text()})
        people: set[str] = set(work.invitees)
        if organiser:
            people.add(organiser)
        for record in work.records.values():
            people |= self._record_people(facts, record)
        for attendee in ((meeting or {}).get("participants") or {}).get("attendees") or []:
            uid, tenant = _user_id_of(attendee.get("identity")) if isinstance(attendee, dict) else (None, None)
            if uid and (not tenant or tenant.lower() == self.tenant_id.lower()):
                people.add(uid)
        await self.directory.classify(facts, people)
        records = sorted(work.records.values(), key=lambda r: str(r.get("startDateTime") or ""))
        bundle = self._bundle(facts, records, work.unavailable, work.groups)
        if work.event is not None:
            bundle["event"] = work.event
        if meeting is not None:
            bundle["onlineMeeting"] = meeting
        bundle.update(bundle_parts)
        return GatheredOccurrence(
            self._key(work),
            bundle,
            True,
            work.start,
            work.end,
            organiser,
            self._subject(work),
            call_record_ids=tuple(str(r["id"]) for r in records),
        )

    def _over(self, work: _Work) -> bool:
        ends = [parse_time(r.get("endDateTime")) for r in work.records.values()] + [work.end]
        known = [e for e in ends if e is not None]
        return bool(known) and max(known) <= self.now()

    def _report_belongs(self, work: _Work, report: JSON) -> bool:
        """An attendance report is this occurrence's when its own meeting start and end lie within one of the
        occurrence's calls (with ``REPORT_SLACK``), or, with no call record yet, within the scheduled window
        (``EARLY`` before the start, ``LATE`` after the end) — never by its start's proximity alone. A channel
        meeting's list holds every meeting of the channel (the 50 most recent), so a neighbouring lesson's report
        must not match: https://learn.microsoft.com/en-us/graph/api/meetingattendancereport-list"""
        start = parse_time(report.get("meetingStartDateTime"))
        end = parse_time(report.get("meetingEndDateTime")) or start
        if start is None or end is None:
            return False
        calls = [
            (parse_time(r.get("startDateTime")), parse_time(r.get("endDateTime")) or parse_time(r.get("startDateTime")))
            for r in work.records.values()
        ]
        windows = [(s, e) for s, e in calls if s is not None and e is not None]
        if windows:
            return any(s - REPORT_SLACK <= start and end <= e + REPORT_SLACK for s, e in windows)
        if work.start is None:
            return False
        return work.start - EARLY <= start < (work.end or work.start) and end <= (work.end or work.start) + LATE

    async def _expand_reports(self, work: _Work, base: str, wanted: list[JSON], channel: bool) -> list[JSON]:
        """Each report with its attendance records. The single-report GET does not support channel meetings
        (https://learn.microsoft.com/en-us/graph/api/meetingattendancereport-get), so a channel meeting's
        records come from ``…/attendanceReports/{id}/attendanceRecords`` (paged)
        (https://learn.microsoft.com/en-us/graph/api/attendancerecord-list)."""
        def url(report: JSON) -> str:
            rid = quote(str(report["id"]), safe="")
            if channel:
                return f"{base}/attendanceReports/{rid}/attendanceRecords"
            return f"{base}/attendanceReports/{rid}?$expand=attendanceRecords"

        replies = await self.transport.many([Request("GET", url(r)) for r in wanted])
        full: list[JSON] = []
        for report, reply in zip(wanted, replies, strict=True):
            if not reply.ok:
                work.unavailable.append({"kind": "attendanceReports", "reason": reply.error_text()})
                full.append(clean(report))
            elif channel:
                items, last = await self.transport.follow(reply)
                if not last.ok:
                    work.unavailable.append({"kind": "attendanceReports", "reason": last.error_text()})
                full.append({**clean(report), "attendanceRecords": items})
            else:
                full.append(clean(reply.json))
        return full

    @staticmethod
    def _in_window(value: Any, lo: datetime, hi: datetime) -> bool:
        at = parse_time(value)
        return at is not None and lo <= at < hi

    def _bundle(
        self, facts: DirectoryFacts, records: list[JSON], unavailable: list[JSON], groups: Iterable[str] = ()
    ) -> JSON:
        bundle: JSON = {"directory": facts.block(groups)}
        if records:
            bundle["callRecord"] = records[0]
            if len(records) > 1:
                bundle["callRecords"] = records[1:]
        problems = list(facts.unavailable) + list(unavailable)
        if problems:
            bundle["unavailable"] = problems
        return bundle
