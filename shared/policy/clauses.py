"""Every clause of the school's video-conferencing policy, with its id (Elmgrove Primary, September 2023).

Clauses no rule can check carry a note saying why; the README's coverage table and the digest's closing
section are generated from this table and the rule catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    text: str
    note: str = ""  # for clauses no rule checks: why not, or what stands in for a check


CLAUSES: tuple[Clause, ...] = (
    Clause("G1", "Unique log-on for each child"),
    Clause("G2a", "Only staff can initiate a meeting"),
    Clause("G2b", "Attendees muted on entry by the host"),
    Clause("G2c", "Chat disabled for attendees"),
    Clause("G2d", "Host decides whether a removed participant can re-join"),
    Clause("G2e", "Link posted in the General channel of the class / year team"),
    Clause("S1", "Staff host only from school accounts, never personal ones"),
    Clause("S2", "School account used for school purposes only", "not machine-checkable"),
    Clause("S3", "Staff keep login details secure", "not machine-checkable"),
    Clause("S4", "Latest version of the app"),
    Clause("S5", "Share the invitation link with relevant staff / pupils"),
    Clause("S6", "Remove uninvited attendees"),
    Clause("S7", "Share only the meeting-specific link"),
    Clause("S8", "Only a school-approved video-conferencing system"),
    Clause("S9", "Safe, appropriate place, nothing inappropriate visible", "not machine-checkable"),
    Clause("S10", "Screens not overlooked", "not machine-checkable"),
    Clause("S11", "Staff schedule and host all sessions"),
    Clause("S12", "Keep a brief log: what, when, where, anything that went wrong",
           "partly: the meeting log records what, when, where and the findings; the teacher's own account of "
           "what went wrong is a note they add"),
    Clause("S13", "Professional boundaries, appropriate language", "not machine-checkable"),
    Clause("S14", "No recording, screenshots or photographs"),
    Clause("P1", "Parents decide whether their child joins"),
    Clause("P2", "Parents monitor their child", "not machine-checkable"),
    Clause("P3", "Parents do not share the link"),
    Clause("P4", "Child in a safe, appropriate place", "not machine-checkable"),
    Clause("P5", "Screens not overlooked", "not machine-checkable"),
    Clause("P6", "Suitable clothing", "not machine-checkable"),
    Clause("P7", "Mute on unless speaking to the teacher"),
    Clause("P8", "Do not share the screen"),
    Clause("P9", "Do not record / screenshot / photograph"),
    Clause("P10", "Do not use chat"),
    Clause("P11", "Appropriate language and behaviour, family included", "not machine-checkable"),
    Clause("P12", "Contact the school with concerns", "not machine-checkable"),
    Clause("U1", "Pupils: appropriate language and behaviour", "not machine-checkable"),
    Clause("U2", "Pupils: mute on unless speaking to the teacher"),
    Clause("U3", "Pupils: do not share the screen"),
    Clause("U4", "Pupils: do not record / screenshot / photograph"),
    Clause("U5", "Pupils: do not use chat"),
    Clause("U6", "Pupils: tell the school if worried", "not machine-checkable"),
    Clause("D1", "No child invited without recorded parental (GDPR) consent"),
)

CLAUSE_IDS = frozenset(c.id for c in CLAUSES)
# Guidance beyond the written policy (NSPCC, SWGfL, NEU) is cited as this pseudo-clause.
GUIDANCE = "guidance"
