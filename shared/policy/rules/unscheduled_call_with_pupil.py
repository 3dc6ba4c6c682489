"""Calls between staff and pupils outside a scheduled meeting (G2a, S11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example


def example() -> dict[str, Any]:
    """The teacher called Amelia directly (a peer-to-peer call, no meeting)."""
    bundle = _example.lesson()
    for key in ("event", "onlineMeeting"):
        del bundle[key]
    call = _example.session(_example.TEACHER, "15:30:12", "15:42:40")
    call["callee"] = _example.endpoint(_example.AMELIA)
    call["segments"][0]["callee"] = _example.endpoint(_example.AMELIA)
    bundle["callRecord"] = {"id": "2b6c1a0e-7c1d-4e27-9a43-5d3f0a61c7b9", "type": "peerToPeer",
                            "startDateTime": "2026-03-10T15:30:12Z", "endDateTime": "2026-03-10T15:42:40Z",
                            "sessions": [call]}
    return bundle


@rule("unscheduled-call-with-pupil", "high", ("G2a", "S11"), "A call with a pupil outside a scheduled meeting",
      example=example,
      passes="""A scheduled or recurring meeting with a join link; calls between staff only, or pupils only (the latter
      may be `pupils-unsupervised`'s).""",
      remediation="""Do not call pupils directly or start a Meet now with them. Schedule every session from the
      class team (General channel > Meet > Schedule a meeting) so it is logged and its options apply. If the
      call was needed, record why in a note on the finding for the DSL.""")
def unscheduled_call_with_pupil(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2a: "Only staff members are able to initiate a meeting"; S11: staff "Schedule and host all video
    conference sessions." Fires when a call involves a staff member and a pupil and is not a scheduled meeting
    (peer-to-peer, no join link, or an ad hoc / Meet now meeting)."""
    staff, pupils = m.directory.staff, m.directory.pupils
    adhoc = m.meeting_type in ("adhoc", "meetnow")
    calls = []
    for index, record in enumerate(m.bundle.call_records):
        people = m.record_people[index]
        kind = record.get("type")
        unscheduled = kind == "peerToPeer" or not record.get("joinWebUrl") or adhoc
        if unscheduled and people & staff and people & pupils:
            calls.append({"callRecordId": record.get("id"), "type": kind,
                          "joinWebUrl": record.get("joinWebUrl"), "meetingType": m.meeting_type,
                          "start": record.get("startDateTime"), "end": record.get("endDateTime")})
    if not calls and adhoc and m.presence_source == "attendanceReports" and m.present(Role.STAFF) \
            and m.present(Role.PUPIL):
        calls.append({"meetingType": m.meeting_type, "source": "attendanceReports"})
    if not calls:
        return
    staff_names = sorted(p.person.label for p in m.present(Role.STAFF))
    pupil_names = sorted(p.person.label for p in m.present(Role.PUPIL))
    what = "a direct (peer-to-peer) call" if calls[0].get("type") == "peerToPeer" else "an unscheduled meeting"
    yield Draft(f"{', '.join(staff_names)} had {what} with {', '.join(pupil_names)}; the policy has staff schedule "
                "every session.", {"calls": calls, "staff": staff_names, "pupils": pupil_names})
