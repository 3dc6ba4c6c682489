"""A recording or transcript of the session exists (S14, P9, U4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import capital, meeting_name


def example() -> dict[str, Any]:
    """The lesson was recorded: Graph lists one recording of the meeting."""
    bundle = _example.lesson()
    bundle["recordings"] = [{"id": "VjEjIzEjIzE5Om1lZXRpbmdfTkRVMk9HRmxOak", "meetingId": "MSplOTk1OTY2",
                             "createdDateTime": "2026-03-10T09:02:11Z", "endDateTime": "2026-03-10T09:44:30Z"}]
    return bundle


@rule("session-recorded", "high", ("S14", "P9", "U4"), "The session was recorded or transcribed",
      stage="recorded", example=example,
      passes="""No recording or transcript listed. A listing that could not be read is `evidence-unavailable`'s;
      recordings Graph cannot list (channel meetings) are coverage.""",
      remediation="""Tell the DSL straight away, do not share the recording, and have it deleted: in Teams open
      the meeting's chat (or Recap), select the recording > More options (...) > Delete, or ask the school's
      Microsoft 365 admin to remove it from OneDrive or SharePoint. Next time turn off "Record automatically"
      in Meeting options and do not start a recording or transcript.""")
def session_recorded(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S14: "the recording, taking screenshots or photographs of any session is not permitted. Online meetings
    must not be reproduced in any other way." P9/U4: "Not record, screenshot or photograph any of the session."
    Fires when the evidence holds a recording or a transcript."""
    items = [("recording", r) for r in m.bundle.recordings] + [("transcript", t) for t in m.bundle.transcripts]
    if not items:
        return
    found = [{"kind": kind, "id": item.get("id"), "createdDateTime": item.get("createdDateTime"),
              "endDateTime": item.get("endDateTime")} for kind, item in items]
    kinds = sorted({kind for kind, _ in items})
    done = " and ".join("recorded" if k == "recording" else "transcribed" for k in kinds)
    yield Draft(f"{capital(meeting_name(m))} was {done} ({len(items)} item{'s' if len(items) != 1 else ''}); the "
                "policy does not permit recording.",
                {"artefacts": found})
