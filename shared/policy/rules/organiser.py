"""Who organised the meeting: staff, on a school account (G2a, S1, S11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import capital, meeting_name, person_evidence


def pupil_organiser() -> dict[str, Any]:
    """Amelia (a pupil) set up the meeting and invited her class."""
    bundle = _example.lesson()
    organiser = {"upn": "amelia.clarke@elmgrove.sch.uk", "role": "presenter",
                 "identity": {"user": {"id": _example.AMELIA}}}
    bundle["onlineMeeting"]["participants"]["organizer"] = organiser
    return bundle


def guest_organiser() -> dict[str, Any]:
    """The lesson was hosted from a teacher's personal Microsoft account."""
    bundle = _example.lesson()
    organiser = {"upn": "sarah.patel@outlook.com", "role": "presenter",
                 "identity": {"user": {"id": "0b8e2f4a-9d1c-4f6e-8a3b-2c5d7e9f1a4b", "displayName": "Sarah Patel",
                                       "tenantId": "9188040d-6c67-4c5b-b112-36a304b66dad"}}}
    bundle["onlineMeeting"]["participants"]["organizer"] = organiser
    return bundle


@rule("organiser-not-staff", "high", ("G2a", "S11"), "Meeting organised by someone who is not staff",
      stage="scheduled", about_organiser=True, example=pupil_organiser,
      passes="""A member of staff organised it. An organiser from outside the school is `organiser-not-school-
      account`'s. No organiser anywhere in the evidence: nothing is judged.""",
      remediation="""Only staff set up meetings with pupils. Tell the DSL; the IT admin can stop pupils creating
      meetings (Teams admin center > Meetings > Meeting policies: a pupils' policy with private meeting
      scheduling and Meet now off). If a colleague outside the staff group set it up, ask the admin to add
      them to the staff group vcaudit reads.""")
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


@rule("organiser-not-school-account", "high", ("S1",), "Meeting hosted from an account outside the school",
      stage="scheduled", about_organiser=True, example=guest_organiser,
      passes="""The organiser is a school account (staff, a pupil, or another member of the school). No organiser
      anywhere in the evidence: nothing is judged.""",
      remediation="""Host lessons only from your school Microsoft 365 account, never a personal or another
      organisation's account: sign out of Teams, sign in with your school address, and schedule the lesson
      again from the class team. A supply teacher from another school is invited by a member of staff who
      hosts.""")
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
