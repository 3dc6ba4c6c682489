"""A tenant that changes over time: the ``timeline`` of a tenant file, applied as an injectable clock moves.

Each step is ``{"at": <ISO 8601>, "delayMinutes": <optional>, "action": <name>, ...}`` and takes effect at
``at + delayMinutes`` (artefacts name the call's end as ``at`` and their own delay). Actions and their fields are
listed in ``devtools/graphsim/README.md`` ("Timeline"). :func:`apply_step` mutates the tenant and returns the
notifications Graph would send, as ``(kind, …)`` tuples the simulator delivers on its next ``tick()``.

Series changes notify the series master: a change to one occurrence or exception is reported by Outlook as an
update of the master (microsoftgraph/microsoft-graph-docs#5520, pnp/PnP#1894).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from devtools.graphsim import calendar
from devtools.graphsim.tenant import JSON, Tenant, event_window, graph_time, parse_time

Notification = tuple[str, ...]


class SimClock:
    """A settable clock: ``SimClock(start)()`` is the simulated now (aware UTC); it never goes backwards."""

    def __init__(self, now: datetime) -> None:
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        now = now.astimezone(UTC)
        if now < self.now:
            raise ValueError(f"the clock cannot go back from {self.now.isoformat()} to {now.isoformat()}")
        self.now = now


class TimelineError(ValueError):
    """A timeline step that names something the tenant does not hold, or an unknown action."""


def _deep_merge(target: JSON, patch: JSON) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _series_copies(tenant: Tenant, mailbox: str, master_id: str) -> list[tuple[str, JSON]]:
    """(mailbox, master) for the organiser's series and every attendee's copy of it (same iCalUId)."""
    master = tenant.event(mailbox, master_id)
    if master is None or master.get("type") != "seriesMaster":
        raise TimelineError(f"no series master {master_id!r} in mailbox {mailbox!r}")
    ical = master.get("iCalUId")
    out = [(mailbox, master)]
    for other, events in tenant.events.items():
        for event in events:
            if event is not master and event.get("type") == "seriesMaster" and ical and event.get("iCalUId") == ical:
                out.append((other, event))
    return out


def _instance(tenant: Tenant, mailbox: str, master: JSON, original: datetime) -> JSON:
    """The stored instance of ``master`` at ``original``, or the generated occurrence."""
    for event in tenant.events.get(mailbox, []):
        if event.get("seriesMasterId") == master["id"] and event.get("type") in ("occurrence", "exception"):
            start = parse_time(event["originalStart"]) if event.get("originalStart") else event_window(event)[0]
            if start == original:
                return copy.deepcopy(event)
    s0, e0 = event_window(master)
    if original not in calendar.series_starts(master, original.replace(microsecond=0) + (e0 - s0)):
        raise TimelineError(f"series {master['id']!r} has no occurrence starting {original.isoformat()}")
    return tenant.generated_occurrence(master, original, e0 - s0, str(master["start"].get("timeZone") or "UTC"))


def _times(step: JSON, instance: JSON) -> None:
    for key in ("start", "end"):
        if key in step:
            instance[key] = dict(step[key])


def _cancelled_subject(event: JSON) -> None:
    event["isCancelled"] = True
    subject = str(event.get("subject") or "")
    if not subject.startswith("Canceled: "):
        event["subject"] = "Canceled: " + subject


REQUIRED: dict[str, tuple[str, ...]] = {
    "patchMeeting": ("meetingId", "patch"),
    "upsertEvent": ("mailbox", "event"),
    "deleteEvent": ("mailbox", "eventId"),
    "moveOccurrence": ("mailbox", "seriesMasterId", "originalStart", "start", "end"),
    "cancelOccurrence": ("mailbox", "seriesMasterId", "originalStart"),
    "changePattern": ("mailbox", "seriesMasterId", "recurrence"),
    "addCallRecord": ("callRecord",),
    "updateCallRecord": ("callRecordId",),
    "addAttendanceReport": ("meetingId", "report"),
    "addRecording": ("meetingId", "recording"),
    "addTranscript": ("meetingId", "transcript"),
}


def validate(steps: list[JSON]) -> None:
    """Refuse a malformed timeline up front, naming the step, rather than failing mid-run."""
    for index, step in enumerate(steps):
        where = f"timeline step {index}"
        if not isinstance(step, dict):
            raise TimelineError(f"{where}: not an object")
        action = step.get("action")
        if action not in REQUIRED:
            raise TimelineError(f"{where}: unknown action {action!r} (known: {', '.join(sorted(REQUIRED))})")
        missing = [k for k in ("at", *REQUIRED[str(action)]) if k not in step]
        if missing:
            raise TimelineError(f"{where} ({action}): missing {', '.join(missing)}")
        try:
            parse_time(str(step["at"]))
            float(step.get("delayMinutes") or 0)
        except ValueError as exc:
            raise TimelineError(f"{where} ({action}): bad 'at' or 'delayMinutes': {exc}") from exc


def apply_step(tenant: Tenant, step: JSON, due: datetime) -> list[Notification]:
    """Apply one timeline step to ``tenant`` (caller holds ``tenant.lock``); return the notifications to send."""
    action = step.get("action")
    stamp = graph_time(due)
    out: list[Notification] = []
    if action == "patchMeeting":
        found = tenant.meeting(str(step["meetingId"]))
        if found is None:
            raise TimelineError(f"no online meeting {step['meetingId']!r}")
        _deep_merge(found[1], dict(step["patch"]))
    elif action == "upsertEvent":
        event = copy.deepcopy(step["event"])
        event.setdefault("lastModifiedDateTime", stamp)
        existed = tenant.event(str(step["mailbox"]), event["id"]) is not None
        tenant.upsert_event(str(step["mailbox"]), event)
        target = event.get("seriesMasterId") or event["id"]
        out.append(("event", str(step["mailbox"]), target, "updated" if existed else "created"))
    elif action == "deleteEvent":
        mailbox, event_id = str(step["mailbox"]), str(step["eventId"])
        event = tenant.event(mailbox, event_id)
        if event is None:
            raise TimelineError(f"no event {event_id!r} in mailbox {mailbox!r}")
        tenant.delete_event(mailbox, event_id)
        out.append(("event", mailbox, event_id, "deleted"))
        if step.get("cancelForAttendees", True) and event.get("isOrganizer", True) and event.get("iCalUId"):
            for other, events in list(tenant.events.items()):
                for copy_ in events:
                    if other != mailbox and copy_.get("iCalUId") == event["iCalUId"]:
                        updated = copy.deepcopy(copy_)
                        _cancelled_subject(updated)
                        updated["lastModifiedDateTime"] = stamp
                        tenant.upsert_event(other, updated)
                        out.append(("event", other, updated["id"], "updated"))
    elif action in ("moveOccurrence", "cancelOccurrence"):
        mailbox, master_id = str(step["mailbox"]), str(step["seriesMasterId"])
        original = parse_time(str(step["originalStart"]))
        for owner, master in _series_copies(tenant, mailbox, master_id):
            if action == "cancelOccurrence" and owner == mailbox:
                tenant.remove_occurrence(owner, master["id"], original)  # the organiser's copy vanishes
            else:
                instance = _instance(tenant, owner, master, original)
                instance["originalStart"] = graph_time(original, digits=0)
                instance["lastModifiedDateTime"] = stamp
                if action == "moveOccurrence":
                    instance["type"] = "exception"
                    _times(step, instance)
                else:
                    _cancelled_subject(instance)
                tenant.upsert_event(owner, instance)
            out.append(("event", owner, master["id"], "updated"))
    elif action == "changePattern":
        mailbox, master_id = str(step["mailbox"]), str(step["seriesMasterId"])
        for owner, master in _series_copies(tenant, mailbox, master_id):
            updated = copy.deepcopy(master)
            updated["recurrence"] = copy.deepcopy(step["recurrence"])
            _times(step, updated)
            updated["lastModifiedDateTime"] = stamp
            # Changing the pattern discards the series' exceptions and removed occurrences (choice, README).
            tenant.events[owner] = [e for e in tenant.events.get(owner, []) if e.get("seriesMasterId") != master["id"]]
            tenant.removed_occurrences.get(owner, {}).pop(master["id"], None)
            tenant.upsert_event(owner, updated)
            out.append(("event", owner, master["id"], "updated"))
    elif action == "addCallRecord":
        record = copy.deepcopy(step["callRecord"])
        tenant.add_call_record(record, step.get("lobbySessionIds"))
        out.append(("callRecord", record["id"], "created"))
    elif action == "updateCallRecord":
        record = tenant.call_records.get(str(step["callRecordId"]))
        if record is None:
            raise TimelineError(f"no call record {step['callRecordId']!r}")
        record.setdefault("sessions", []).extend(copy.deepcopy(step.get("addSessions") or []))
        known = {p.get("id") for p in record.get("participants_v2", [])}
        for person in step.get("addParticipants") or []:
            if person.get("id") not in known:
                record.setdefault("participants_v2", []).append(copy.deepcopy(person))
        _deep_merge(record, dict(step.get("set") or {}))
        record["version"] = int(record.get("version") or 1) + 1
        record["lastModifiedDateTime"] = stamp
        out.append(("callRecord", record["id"], "updated"))
    elif action == "addAttendanceReport":
        tenant.attendance_reports.setdefault(str(step["meetingId"]), []).append(copy.deepcopy(step["report"]))
    elif action in ("addRecording", "addTranscript"):
        kind = "recording" if action == "addRecording" else "transcript"
        store = tenant.recordings if kind == "recording" else tenant.transcripts
        item: dict[str, Any] = copy.deepcopy(step[kind])
        store.setdefault(str(step["meetingId"]), []).append(item)
        out.append((kind, str(step["meetingId"]), str(item["id"])))
    else:
        raise TimelineError(f"unknown timeline action {action!r}")
    return out
