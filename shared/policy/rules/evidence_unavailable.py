"""Evidence that could not be read: a meeting that could not be checked is never reported as compliant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example

# Evidence whose absence leaves the meeting's scope undecided.
SCOPE_EVIDENCE = frozenset({"event", "callRecord", "callRecords", "directory"})

NAMES = {"event": "the calendar event", "onlineMeeting": "the meeting's options", "attendanceReports":
         "the attendance reports", "callRecord": "the call record", "callRecords": "the call records",
         "recordings": "the list of recordings", "transcripts": "the list of transcripts",
         "directory": "the school's directory"}


def example() -> dict[str, Any]:
    """Graph refused the meeting's options: no application access policy covers the organiser."""
    bundle = _example.lesson()
    del bundle["onlineMeeting"]
    bundle["unavailable"] = [{"kind": "onlineMeeting", "reason": "403 No Application Access Policy found for this app"}]
    return bundle


def scope_proven_out(m: Meeting) -> bool:
    """What was read proves the meeting out of scope: no pupil invited or present, organiser not a pupil, and
    nothing that could have shown a pupil failed to load."""
    if m.in_scope:
        return False
    if any(u.kind in SCOPE_EVIDENCE for u in m.bundle.failed):
        return False
    return bool(m.bundle.event or m.bundle.call_records)


@rule("evidence-unavailable", "medium", (), "Evidence the rules need could not be read", stage="any",
      out_of_scope=True, about_monitoring=True, example=example,
      not_exemptable="evidence that could not be read must never read as compliance",
      passes="""Evidence marked unsupported (a Graph limitation, reported as coverage); unreadable evidence of a meeting
      that what was read proves out of scope.""",
      remediation="""Nothing for the teacher to change: this is for the school's IT admin. The finding names
      what could not be read; a 403 usually means the organiser is not covered by the Teams application access
      policy (run infra/scripts/grant-teams-access-policy.ps1 again for them), a 404 that Graph no longer holds the
      item. Once fixed, vcaudit reads the meeting again on its next notification.""")
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
