"""A pupil taking part without recorded parental consent (D1, P1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import meeting_name


def example() -> dict[str, Any]:
    """Oliver took part, but the consent register holds no consent for him."""
    bundle = _example.lesson()
    bundle["directory"]["consent"].remove(_example.OLIVER)
    return bundle


@rule("consent-missing", "high", ("D1", "P1"), "A pupil without recorded parental consent was invited or took part",
      stage="any", per_person=True, example=example,
      not_exemptable="record the pupil's consent in the consent register instead",
      passes="""Pupils in the consent register; pupils who were invited only as members of a class team or an invited
      group and did not take part.""",
      remediation="""Ask the school office whether the parents have given consent; once they have, the office
      records it in the consent register (vcaudit consent import). Until then do not invite the pupil
      individually or admit them from the lobby.""")
def consent_missing(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """D1: "We will not invite any children in to a Teams meeting without confirmation that the relevant
    permission has been given and agreed." P1: parents "Decide whether they want their child to join the
    meeting." Fires for each pupil present, or invited individually, who is not
    in the consent register; membership of an invited team or group alone does not count."""
    pupils = m.directory.pupils
    concerned: dict[str, str] = {}
    for presence in m.present(Role.PUPIL):
        concerned[presence.person.key] = "present"
    for key in sorted(m.individually_invited & pupils):
        concerned.setdefault(key, "invited")
    for key, how in concerned.items():
        if key in m.directory.consent:
            continue
        name = m.directory.display_name(key) or key
        yield Draft(f"{name} was {'in' if how == 'present' else 'invited to'} {meeting_name(m)} but the consent "
                    "register holds no parental consent for them.",
                    {"pupil": {"id": key, "displayName": m.directory.display_name(key)}, "how": how}, key, name)
