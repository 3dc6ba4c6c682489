"""From a Graph change notification's resource to the evaluation it calls for, and the key that coalesces it.

Pure: no I/O. Every attendee's mailbox notifies its own copy of a lesson, so work is coalesced per meeting:
events by their ``iCalUId`` (and series), call records by id, recordings and transcripts by meeting. An event's
key needs its identifying fields, read from Graph (``shared.graph.calendar.CalendarReader.identify``);
``route`` sets those copies apart for that read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EVENT_RESOURCE = re.compile(r"^/?users/([^/]+)/events/([^/?]+)$", re.IGNORECASE)
CALL_RESOURCE = re.compile(r"^/?communications/callRecords/([^/?]+)$", re.IGNORECASE)
ARTEFACT_RESOURCE = re.compile(
    r"^/?communications/onlineMeetings\('?([^')]+)'?\)/(recordings|transcripts)\('?([^')]+)'?\)", re.IGNORECASE)

# Ad hoc calls' recordings and transcripts (subscribed only when the school granted the permissions):
# communications/adhocCalls('{callId}')/recordings('{id}') —
# https://learn.microsoft.com/en-us/graph/teams-changenotifications-callrecording-and-calltranscript
ADHOC_RESOURCE = re.compile(
    r"^/?communications/adhocCalls\('?([^')]+)'?\)/(recordings|transcripts)\('?([^')]+)'?\)", re.IGNORECASE)
ADHOC_PREFIX = "adhocCall:"  # an artefact's meetingId naming an ad hoc call, not an online meeting


@dataclass(frozen=True, slots=True)
class Work:
    """One evaluation to schedule: its coalescing key, the evaluate message, and whether this copy is the one
    to gather from (the organiser's) when several coalesce."""

    key: str
    message: dict[str, Any]
    preferred: bool = True


@dataclass(frozen=True, slots=True)
class EventCopy:
    mailbox: str
    event_id: str
    change: str

    @property
    def deleted(self) -> bool:
        return self.change.lower() == "deleted"


@dataclass(slots=True)
class Routed:
    work: list[Work]
    events: list[EventCopy]  # the key of a live copy needs its identifying fields
    skipped: int = 0


def route(items: Iterable[dict[str, Any]]) -> Routed:
    routed = Routed([], [])
    for item in items:
        resource = str(item.get("resource", ""))
        if m := EVENT_RESOURCE.match(resource):
            routed.events.append(EventCopy(m.group(1), m.group(2), str(item.get("changeType", ""))))
        elif m := CALL_RESOURCE.match(resource):
            routed.work.append(call_record(m.group(1)))
        elif m := ARTEFACT_RESOURCE.match(resource):
            kind = "recording" if m.group(2).lower() == "recordings" else "transcript"
            routed.work.append(Work(f"artefact|{m.group(1)}", {"kind": kind, "meetingId": m.group(1),
                                                                "id": m.group(3)}))
        elif m := ADHOC_RESOURCE.match(resource):
            kind = "recording" if m.group(2).lower() == "recordings" else "transcript"
            routed.work.append(Work(f"adhoc|{m.group(1)}", {"kind": kind, "meetingId": ADHOC_PREFIX + m.group(1),
                                                             "id": m.group(3)}))
        else:
            routed.skipped += 1
    return routed


def deleted_event(copy: EventCopy) -> Work:
    return Work(f"deleted|{copy.mailbox.lower()}|{copy.event_id}",
                {"kind": "eventDeleted", "mailbox": copy.mailbox, "eventId": copy.event_id})


def call_record(record_id: str) -> Work:
    return Work(f"call|{record_id.lower()}", {"kind": "callRecord", "id": record_id})


def event(mailbox: str, event_id: str, identity: dict[str, Any] | None) -> Work:
    """An event copy keyed by its lesson. ``identity``: its ``iCalUId``, ``type``, ``seriesMasterId`` and
    ``isOrganizer``; None when it could not be read (deleted since, or no access): it is then evaluated on its
    own, and the gateway turns what it cannot read into ``unavailable`` evidence."""
    message = {"kind": "event", "mailbox": mailbox, "eventId": event_id}
    if identity is None:
        return Work(f"event|{mailbox.lower()}|{event_id}", message)
    series = identity.get("seriesMasterId") if identity.get("type") in ("occurrence", "exception") else None
    ical = identity.get("iCalUId") or event_id
    if identity.get("isCancelled"):
        # A cancelled copy (an attendee's: the organiser's copy of a cancelled occurrence is removed) is read on
        # its own, never absorbed into the organiser's copy, so the cancellation is seen.
        return Work(f"cancelled|{ical}|{series or ''}", message, True)
    return Work(f"ical|{ical}|{series or ''}", message, bool(identity.get("isOrganizer")))


def organised_event(mailbox: str, item: dict[str, Any]) -> Work:
    """An event found in its organiser's calendar (reconcile)."""
    ical = item.get("iCalUId") or item.get("id")
    return Work(f"ical|{ical}|{item.get('seriesMasterId') or ''}",
                {"kind": "event", "mailbox": mailbox, "eventId": item["id"]})


def passing_gap(entry: Mapping[str, Any]) -> bool:
    """An ``unavailable`` entry a later read may not meet: a 5xx, a throttle, a timeout, a lost connection. A 403
    (no application access policy) or 404 (gone, past retention) stands until someone acts, and a Graph
    limitation (``unsupported``) never passes."""
    if entry.get("unsupported"):
        return False
    reason = str(entry.get("reason") or "").lstrip()
    return not reason.startswith(("403", "404"))


def read_again(bundle: Mapping[str, Any] | None, organiser: str | None) -> Work | None:
    """The work that reads an occurrence again, from what its stored evidence holds: its call record when there
    is one (the held stage: everything else follows from it), else its event in the organiser's calendar."""
    if not bundle:
        return None
    records = [bundle.get("callRecord"), *(bundle.get("callRecords") or [])]
    for record in records:
        if isinstance(record, Mapping) and record.get("id"):
            return call_record(str(record["id"]))
    event = bundle.get("event")
    if isinstance(event, Mapping) and event.get("id") and organiser:
        return organised_event(organiser, dict(event))
    return None
