"""The life of one meeting occurrence, as pure rules: which states it passes through, what moves it between them,
and what each change may do to its findings.

States: ``scheduled`` (an event or online meeting read before the lesson), ``moved`` (its series no longer has it
at that start: the old key is resolved, the new start is an occurrence of its own), ``cancelled`` (the organiser
cancelled it, or any attendee's copy says ``isCancelled``), ``deleted`` (its event was deleted), ``held`` (a call
record or attendance report exists for it) and ``recorded`` (a recording or transcript exists).

What happened stands: once an occurrence is held, a move, cancellation or deletion only notes itself in the log;
its findings are never resolved by it. Held-stage findings (what people did in the call) are resolved by the
machine only when new evidence about the call itself — a fuller or corrected call record — no longer shows
them; a re-read of the meeting's options or calendar never resolves them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.policy.catalogue import catalogue

# Rules judged on what happened in the call: the catalogue's held and recorded stages, and the rules of any
# stage that read who was there (not the monitoring rule, which a later good read resolves).
HELD_RULES = frozenset(spec.id for spec in catalogue().values()
                       if spec.stage in ("held", "recorded", "any") and not spec.about_monitoring)

MOVED = "moved or removed from its series"
CANCELLED = "the event was cancelled"
CANCELLED_IN_A_COPY = "cancelled in an attendee's copy of the event"
DELETED = "the event was deleted"


@dataclass(frozen=True, slots=True)
class KnownOccurrence:
    """An occurrence of a series as last seen: its key id, ISO week and scheduled start (epoch seconds)."""

    occurrence_id: str
    week: str
    start: float
    subject: str | None = None


def vanished(known: Iterable[KnownOccurrence], current: Iterable[str], lo: float,
             hi: float) -> list[KnownOccurrence]:
    """The known occurrences whose start lies in the expanded window [lo, hi) but which the expansion no longer
    has (moved to another start, or cancelled: the organiser's copy of a cancelled occurrence disappears)."""
    now_ids = set(current)
    return [k for k in known if lo <= k.start < hi and k.occurrence_id not in now_ids]


def left_behind(known: Iterable[KnownOccurrence], original_start: float, current: str) -> list[KnownOccurrence]:
    """The known occurrence an exception was moved away from: the one at its ``originalStart`` under another key
    (found even when the master's own notification of the move was missed)."""
    return [k for k in known if abs(k.start - original_start) < 1 and k.occurrence_id != current]


def is_held(stages: str) -> bool:
    """The meeting log's ``Stages`` value says a call record or attendance report was seen."""
    return "held" in stages.split()


# Why a finding was resolved when its occurrence moved, was cancelled or was deleted: the lesson went elsewhere
# or did not take place, which is neither a fix nor a prevention.
WENT_AWAY = (MOVED, CANCELLED, CANCELLED_IN_A_COPY, DELETED)


def resolved_by_going_away(why: str | None) -> bool:
    """A resolution's ``ResolvedWhy`` says the occurrence moved, was cancelled or was deleted."""
    return bool(why) and str(why).startswith(WENT_AWAY)


def called_off(row: Mapping[str, Any]) -> bool:
    """A meeting-log row for a lesson that did not take place: marked cancelled (moved, cancelled or deleted) and
    never held. A lesson whose event changed after it was held took place: it is audited, with the note."""
    return bool(row.get("Cancelled")) and not is_held(str(row.get("Stages") or ""))


def call_fingerprint(bundle: Mapping[str, Any] | None) -> str:
    """What the evidence says about the call itself: every call record's id, version, last change and how many
    sessions and segments it holds, and the attendance records. Equal fingerprints: no new evidence about the
    call, so no held-stage finding may be resolved."""
    if not bundle:
        return ""
    records: list[Any] = []
    for record in [bundle.get("callRecord"), *(bundle.get("callRecords") or [])]:
        if not isinstance(record, Mapping):
            continue
        sessions = record.get("sessions") or []
        segments = sum(len(s.get("segments") or []) for s in sessions if isinstance(s, Mapping))
        records.append([record.get("id"), record.get("version"), record.get("lastModifiedDateTime"),
                        len(sessions), segments])
    reports = []
    for report in bundle.get("attendanceReports") or []:
        if isinstance(report, Mapping):
            reports.append([report.get("id"), len(report.get("attendanceRecords") or [])])
    if not records and not reports:
        return ""
    text = json.dumps([sorted(records, key=str), sorted(reports, key=str)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def unresolvable_rules(previous_stages: str, previous_fingerprint: str, fingerprint: str) -> frozenset[str]:
    """The rules whose open findings this evaluation may not resolve: the held-stage ones, once the occurrence
    was held, unless the call's evidence changed (a fuller or corrected call record)."""
    if not is_held(previous_stages):
        return frozenset()
    if fingerprint and fingerprint != previous_fingerprint:
        return frozenset()
    return HELD_RULES


def resolution_reason(rule: str, *, held_before: bool, call_changed: bool) -> str:
    """Why the machine resolved a finding (kept in its history)."""
    if rule in HELD_RULES and held_before and call_changed:
        return "a fuller or corrected call record no longer shows it"
    if rule in HELD_RULES:
        return "the evidence of the call no longer shows it"
    return "a later reading of the meeting no longer shows it"


# ------------------------------------------------------------------------------------------------ option snapshots
OPTION_KEYS = frozenset({"lobbyBypassSettings", "recordAutomatically", "isEntryExitAnnounced", "chatRestrictions",
                         "watermarkProtection", "shareMeetingChatHistoryDefault"})


@dataclass(frozen=True, slots=True)
class OptionsSnapshot:
    """The meeting's options as read at ``taken_at`` (epoch seconds), at one moment of the occurrence's life:
    ``scheduling`` (ahead of the lesson), ``preflight`` (in the hour before it), ``after-start`` (first sight after
    its start), ``call-record`` (with the call record)."""

    taken_at: float
    moment: str
    options: dict[str, Any]


def options_of(meeting: Mapping[str, Any] | None) -> dict[str, Any]:
    """The option properties of an ``onlineMeeting`` (``allow…``, lobby, recording, chat restrictions)."""
    if not meeting:
        return {}
    return {k: v for k, v in meeting.items() if k.startswith("allow") or k in OPTION_KEYS}


PREFLIGHT_SECONDS = 3600  # the preflight timer re-reads the options of meetings starting within the hour


def snapshot_moment(now: float, start: float, held: bool) -> str:
    """What a reading of the options is called in the evidence: ``scheduling`` (read ahead of the lesson),
    ``preflight`` (within the hour before it starts, when the preflight timer re-reads it), ``after-start``
    (first sight once it began) or ``call-record`` (read with the call record)."""
    if held:
        return "call-record"
    if now >= start:
        return "after-start"
    return "preflight" if start - now <= PREFLIGHT_SECONDS else "scheduling"


def in_force(snapshots: Iterable[OptionsSnapshot], call_end: float) -> OptionsSnapshot | None:
    """The snapshot in force while the call ran: the latest taken before the call ended; when every snapshot was
    taken later (vanished before it could be read), the earliest."""
    ordered = sorted(snapshots, key=lambda s: s.taken_at)
    if not ordered:
        return None
    before = [s for s in ordered if s.taken_at <= call_end]
    return before[-1] if before else ordered[0]


def with_options(bundle: dict[str, Any], snapshot: OptionsSnapshot) -> dict[str, Any]:
    """``bundle`` with its meeting's options as ``snapshot`` recorded them (a shallow copy; the rest unchanged)."""
    meeting = bundle.get("onlineMeeting")
    if not isinstance(meeting, dict):
        return bundle
    replaced = {k: v for k, v in meeting.items() if not (k.startswith("allow") or k in OPTION_KEYS)}
    replaced.update(snapshot.options)
    return {**bundle, "onlineMeeting": replaced}


def snapshot_evidence(snapshot: OptionsSnapshot) -> dict[str, Any]:
    """What a held-stage finding's evidence says about the options it was judged with."""
    from datetime import UTC, datetime

    return {"moment": snapshot.moment,
            "takenAt": datetime.fromtimestamp(snapshot.taken_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
