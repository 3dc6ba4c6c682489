"""Evidence that could not be read: a meeting that could not be checked is never reported as compliant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, rule

# Evidence whose absence leaves the meeting's scope undecided.
SCOPE_EVIDENCE = frozenset({"event", "callRecord", "callRecords", "directory"})

NAMES = {"event": "the calendar event", "onlineMeeting": "the meeting's options", "attendanceReports":
         "the attendance reports", "callRecord": "the call record", "callRecords": "the call records",
         "recordings": "the list of recordings", "transcripts": "the list of transcripts",
         "directory": "the school's directory"}


def scope_proven_out(m: Meeting) -> bool:
    """What was read proves the meeting out of scope: no pupil invited or present, organiser not a pupil, and
    nothing that could have shown a pupil failed to load."""
    if m.in_scope:
        return False
    if any(u.kind in SCOPE_EVIDENCE for u in m.bundle.failed):
        return False
    return bool(m.bundle.event or m.bundle.call_records)


@rule("evidence-unavailable", "medium", (), "Evidence the rules need could not be read")
def evidence_unavailable(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """Fail safe: evidence a rule needs that could not be read (a 403 for a missing application access policy,
    a call record past retention) is a finding, never a pass. Graph limitations marked ``unsupported`` are
    reported as coverage, not as findings."""
    failed = m.bundle.failed
    if not failed or scope_proven_out(m):
        return
    missing = [{"kind": u.kind, "reason": u.reason} for u in failed]
    what = ", ".join(dict.fromkeys(NAMES.get(u.kind, u.kind) for u in failed))
    subject = m.online_meeting.get("subject") or m.event.get("subject")
    name = f"'{subject}'" if isinstance(subject, str) and subject else "this meeting"
    yield Draft(f"vcaudit could not read {what} for {name}, so the rules that need it could not check this "
                "meeting.", {"missing": missing})
