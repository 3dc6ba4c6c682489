"""Enforce mode: vcaudit puts a lesson's meeting options right itself, before the lesson, for the properties the
school opted into (``[prevent] enforce = [...]`` in the policy file), and only when the school granted
``OnlineMeetings.ReadWrite.All`` (app setting ``VCAUDIT_ENFORCE_ALLOWED``).

- ``enforce_mode = "dry-run"`` (the default): nothing changes; the meeting log and the digest say what would have.
- ``enforce_mode = "on"``: ``PATCH /users/{organiser}/onlineMeetings/{id}`` (``shared/graph/meeting_options.py``)
  with only the properties the policy requires and whose finding is open, never during a live call unless
  ``enforce_during_call = true``.
- Channel meetings are not changed (their options belong to the channel's meeting; the teacher is nudged), and
  a meeting whose update Graph refuses is reported once and never tried again.

:func:`required_changes` is pure; :func:`enforce` records what happened in the meeting log
(``BeforeTheLesson``) and the nudge ledger's week log (the digest counts it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.engine import Finding
from shared.policy.policyfile import Policy
from shared.policy.prevent import ENFORCEABLE
from shared.store.findings import MeetingFacts

log = logging.getLogger("vcaudit.enforce")

WORDS = {
    "allowMeetingChat": "turned meeting chat off",
    "lobbyBypassSettings": "made everyone else wait in the lobby",
    "allowedPresenters": "made the organiser the only presenter",
    "allowAttendeeToEnableMic": "stopped attendees unmuting themselves",
    "recordAutomatically": "turned automatic recording off",
    "allowRecording": "turned recording off",
    "allowTranscription": "turned transcription off",
}


def required_changes(online_meeting: Mapping[str, Any], findings: Iterable[Finding], policy: Policy) -> dict[str, Any]:
    """The onlineMeeting properties to set: opted into, with an open finding, and not already as required."""
    open_rules = {f.rule for f in findings}
    lobby_rule = ENFORCEABLE["lobbyBypassSettings"]
    allowed_scopes = list(policy.rules[lobby_rule].params.get("allowed_scopes") or ["organizer"])
    out: dict[str, Any] = {}
    for name in policy.prevent.enforce:
        if ENFORCEABLE[name] not in open_rules:
            continue
        current = online_meeting.get(name)
        if name == "allowMeetingChat":
            wanted: Any = "disabled"
        elif name == "allowedPresenters":
            wanted = "organizer"
        elif name == "lobbyBypassSettings":
            lobby = current if isinstance(current, dict) else {}
            scope = lobby.get("scope")
            wanted = {"scope": scope if scope in allowed_scopes else allowed_scopes[0],
                      "isDialInBypassEnabled": False}
            if lobby.get("scope") == wanted["scope"] and lobby.get("isDialInBypassEnabled") is False:
                continue
        else:  # allowAttendeeToEnableMic, recordAutomatically, allowRecording, allowTranscription
            wanted = False
        if current != wanted:
            out[name] = wanted
    return out


def describe(changes: Iterable[str]) -> str:
    words = [WORDS[c] for c in changes]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True, slots=True)
class EnforceResult:
    outcome: str  # "off", "nothing", "would-enforce", "enforced", "refused", "skipped"
    changes: dict[str, Any] = field(default_factory=dict)
    meeting: dict[str, Any] = field(default_factory=dict)  # Graph's updated onlineMeeting, when enforced
    note: str = ""


def _when(now: float, start: float, zone: ZoneInfo) -> str:
    moment = datetime.fromtimestamp(now, tz=UTC).astimezone(zone)
    minutes = int((start - now) // 60)
    ahead = (f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours" if minutes < 2880
             else f"{minutes // 1440} days")
    return f"at {moment:%H:%M}, {ahead} before the lesson" if start > now else f"at {moment:%H:%M}, during the lesson"


def enforce(*, policy: Policy, allowed: bool, facts: MeetingFacts, bundle: dict[str, Any], findings: list[Finding],
            channel: bool, now: float, zone: ZoneInfo, stores: Any,
            patch: Callable[[str, str, dict[str, Any]], Awaitable[Any]],
            run: Callable[[Awaitable[Any]], Any]) -> EnforceResult:
    prevent = policy.prevent
    if not prevent.enforce:
        return EnforceResult("off")
    meeting = bundle.get("onlineMeeting") or {}
    changes = required_changes(meeting, findings, policy)
    if not changes:
        return EnforceResult("nothing")
    if now >= facts.start and not prevent.enforce_during_call:
        return EnforceResult("skipped", changes, note="the lesson has started")
    ledger = stores.nudges
    organiser, meeting_id = facts.organiser_id or "", str(meeting.get("id") or "")
    words = describe(changes)
    if prevent.enforce_mode == "dry-run" or not allowed:
        why = "" if allowed else (" (enforce is on in the policy, but OnlineMeetings.ReadWrite.All was not granted: "
                                  "set the azd parameter enforceMeetingOptions and VCAUDIT_ENFORCE_ALLOWED)")
        note = f"vcaudit would have {words} {_when(now, facts.start, zone)}{why}"
        ledger.enforcement(facts.week, facts.occurrence_id, organiser, tuple(changes), now, "would-enforce", note)
        _note(stores, facts, note)
        return EnforceResult("would-enforce", changes, note=note)
    if channel or not meeting_id or not organiser:
        note = ("vcaudit did not change this channel meeting's options (the teacher was asked to)" if channel
                else "vcaudit could not change the options: the meeting could not be identified")
        if ledger.refused_before(meeting_id or facts.occurrence_id):
            return EnforceResult("refused", changes, note=note)
        ledger.refuse(meeting_id or facts.occurrence_id, note, now)
        ledger.enforcement(facts.week, facts.occurrence_id, organiser, tuple(changes), now, "refused", note)
        _note(stores, facts, note)
        return EnforceResult("refused", changes, note=note)
    if ledger.refused_before(meeting_id):
        return EnforceResult("refused", changes, note="Graph refused an earlier update of this meeting")
    result = run(patch(organiser, meeting_id, changes))
    if not result.ok:
        note = f"vcaudit could not change the options ({result.detail}); the teacher was asked to"
        log.warning("meeting options update refused: %s", result.detail)
        if result.status in (400, 403, 404):
            ledger.refuse(meeting_id, note, now)  # final: never retried
        ledger.enforcement(facts.week, facts.occurrence_id, organiser, tuple(changes), now, "refused", note)
        _note(stores, facts, note)
        return EnforceResult("refused", changes, note=note)
    note = f"vcaudit {words} {_when(now, facts.start, zone)}"
    ledger.enforcement(facts.week, facts.occurrence_id, organiser, tuple(changes), now, "enforced", note)
    _note(stores, facts, note)
    return EnforceResult("enforced", changes, result.meeting, note)


def _note(stores: Any, facts: MeetingFacts, note: str) -> None:
    """The meeting log's ``BeforeTheLesson``: what vcaudit did (or would have done) to the options."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.data.tables import UpdateMode

    with contextlib.suppress(ResourceNotFoundError):
        stores.meetings.table.update_entity({"PartitionKey": facts.week, "RowKey": facts.occurrence_id,
                                             "BeforeTheLesson": note[:1000]}, mode=UpdateMode.MERGE)
