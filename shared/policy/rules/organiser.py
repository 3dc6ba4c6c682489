"""Who organised the meeting (G2a, S1, S11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, rule
from shared.policy.rules._text import capital, meeting_name, person_evidence


@rule("organiser-not-staff", "high", ("G2a", "S11"), "Meeting organised by someone who is not staff")
def organiser_not_staff(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2a: "Only staff members are able to initiate a meeting." S11: staff "Schedule and host all video
    conference sessions." Fires when the organiser is a school account that is not staff."""
    organiser = m.organiser
    if organiser is None or organiser.role is Role.STAFF or not organiser.school_account:
        return
    kind = "a pupil" if organiser.role is Role.PUPIL else "a school account that is not in the staff groups"
    yield Draft(f"{capital(meeting_name(m))} was organised by {organiser.label}, {kind}; only staff may set up "
                "meetings with pupils.",
                {"organiser": person_evidence(organiser)})


@rule("organiser-not-school-account", "high", ("S1",), "Meeting hosted from an account outside the school")
def organiser_not_school_account(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S1: staff "Only use school registered accounts to host meetings, never personal ones." Fires when the
    organiser is not a school account (guest, other tenant, consumer account, no user id)."""
    organiser = m.organiser
    if organiser is None or organiser.school_account:
        return
    evidence: dict[str, object] = {"organiser": person_evidence(organiser)}
    if organiser.role in (Role.STAFF, Role.PUPIL):
        evidence["directoryRole"] = organiser.role.value
    yield Draft(f"{capital(meeting_name(m))} was hosted by {organiser.label}, an account that is not the school's own "
                "(a guest, another organisation's or a personal account).", evidence)
