"""One member of staff and one pupil alone in a session (guidance beyond the written policy)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import capital, meeting_name, person_evidence, who


def example() -> dict[str, Any]:
    """Only Amelia joined the scheduled session."""
    bundle = _example.lesson()
    del bundle["callRecord"]["sessions"][2]
    return bundle


@rule("one-to-one-with-pupil", "advisory", ("guidance",), "A one-to-one session between one adult and one pupil",
      example=example,
      passes="""More than one pupil, more than one adult, or anyone else present; an unscheduled call (`unscheduled-
      call-with-pupil`'s); no presence evidence yet.""",
      remediation="""Agree one-to-one sessions in advance with the DSL and the parents, and invite a second
      adult (a teaching assistant or colleague) to the meeting where you can. For an agreed series (for example
      SEN reading), the DSL can record a standing exemption.""")
def one_to_one_with_pupil(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """Safeguarding guidance (NSPCC, SWGfL, NEU): avoid one-to-one video sessions with a child, or have them
    agreed and recorded. Fires when a scheduled meeting had exactly one pupil and one staff member present,
    and nobody else."""
    if m.presence_source is None or not m.scheduled:
        return
    staff, pupils = m.present(Role.STAFF), m.present(Role.PUPIL)
    if len(staff) == 1 and len(pupils) == 1 and len(m.presence) == 2:
        yield Draft(f"{capital(meeting_name(m))} was a one-to-one session between {who(staff[0].person)} and "
                    f"{who(pupils[0].person)}; guidance advises a second adult or a recorded agreement.",
                    {"staff": person_evidence(staff[0].person), "pupil": person_evidence(pupils[0].person)})
