"""Someone present who was not invited: an outsider, or a pupil from another class (G1, S5, S6, P3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.evidence.times import iso
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import duration, meeting_name, person_evidence


def example() -> dict[str, Any]:
    """Noah, a pupil of another class, joined the Year 5 lesson for five minutes."""
    bundle = _example.lesson()
    bundle["callRecord"]["sessions"].append(_example.session(_example.NOAH, "09:10:00", "09:15:00"))
    bundle["directory"]["consent"].append(_example.NOAH)
    return bundle


@rule("uninvited-attendee", "high", ("G1", "S6", "P3", "S5"), "Someone joined who was not invited",
      per_person=True, example=example,
      passes="""Staff and other school accounts (never uninvited); pupils invited individually, through an invited
      group, or as members of the channel meeting's class team; people from outside whose address or id
      was on the invitation.""",
      remediation="""Check who it was with the DSL. During a lesson, remove an uninvited person at once: in the
      meeting select People, then More options (...) next to their name > Remove from meeting. Keep the lobby
      on (Meeting options > Who can bypass the lobby? > Only me and co-organizers) so you admit each person,
      and share the link only in the class team.""")
def uninvited_attendee(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G1: "Unique log on and password details for Microsoft teams for each child." S6: "If the host notices
    that an uninvited attendee joins the meeting then they should remove that attendee." P3: parents "Not
    share the link / details with others." S5: "Share the invitation link with relevant staff/ pupils."
    Fires for each participant present who is external, or a pupil who was not invited; staff of the school
    are never uninvited."""
    for presence in m.presence.values():
        person = presence.person
        if person.role in (Role.STAFF, Role.ADULT):
            continue
        if person.role is Role.PUPIL and person.key in m.invited:
            continue
        if person.role is Role.EXTERNAL and m.is_invited(person):
            continue
        evidence: dict[str, Any] = {"participant": person_evidence(person)}
        if presence.timed:
            spans = presence.merged()
            evidence["present"] = [[iso(a), iso(b)] for a, b in spans]
            stay = f" for {duration(presence.seconds())}"
        else:
            stay = ""
        if person.role is Role.PUPIL:
            text = (f"{person.label}, a pupil who was not invited, joined {meeting_name(m)}{stay}.")
        else:
            kind = {"anonymous": "an anonymous joiner", "phone": "a phone caller", "guest": "a guest"}.get(
                person.identity.kind, "someone from outside the school")
            text = f"{person.label}, {kind} who was not invited, was present in {meeting_name(m)}{stay}."
        yield Draft(text, evidence, person.key, person.name)
