"""The lesson's link belongs in the General channel of its class team (G2e, S5, S7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import capital, meeting_name


def example() -> dict[str, Any]:
    """A lesson scheduled from the teacher's Outlook calendar: a private meeting, not a channel meeting."""
    bundle = _example.lesson()
    bundle["onlineMeeting"]["chatInfo"]["threadId"] = "19:meeting_NDU2OGFlNjMtY2FkOS00@thread.v2"
    return bundle


@rule("not-in-class-team-general", "low", ("G2e", "S5", "S7"),
      "Meeting not held in the General channel of a class team", stage="scheduled", example=example,
      passes="""A channel meeting whose thread is the General channel of a class team in the directory; a call with no
      meeting at all (peer-to-peer, or no join link).""",
      remediation="""Schedule lessons from the class team: in Teams, open the class team's General channel,
      select Meet (the camera icon) > Schedule a meeting, so the link is posted in General for the class. A
      meeting made from the Outlook or Teams calendar is private; if you pasted its link into General by hand,
      add a note to the finding or ask the DSL for a standing exemption for the series.""")
def not_in_class_team_general(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2e: "The link / details will be posted in the general section of the year group or class team."
    S5: "Share the invitation link with relevant staff/ pupils." S7: "Only share the meeting specific invitation
    link." Fires when the meeting is not a channel meeting of
    a class team's General channel."""
    if not m.is_meeting or not m.thread_id:
        return
    if m.in_general_channel:
        return
    evidence: dict[str, Any] = {"chatInfo.threadId": m.thread_id}
    if m.team is not None:
        evidence["classTeam"] = {"id": m.team.id, "displayName": m.team.display_name,
                                 "generalChannelId": m.team.general_channel_id}
        text = (f"{capital(meeting_name(m))} was held in another channel of {m.team.display_name}, not its General "
                "channel where the policy says lesson links are posted.")
    else:
        evidence["privateMeeting"] = True
        text = (f"{capital(meeting_name(m))} was a private calendar meeting, not a meeting in the General channel of "
                "a class team. If its link was pasted into General by hand this cannot be seen: an annotation or "
                "a standing exemption clears it.")
    yield Draft(text, evidence)
