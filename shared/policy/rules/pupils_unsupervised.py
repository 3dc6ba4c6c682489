"""Pupils left in a meeting with no member of staff (S11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Interval, Meeting, Presence, Role, merge
from shared.evidence.times import iso
from shared.policy.catalogue import Draft, Param, rule
from shared.policy.rules import _example
from shared.policy.rules._text import duration, meeting_name


def example() -> dict[str, Any]:
    """The teacher left at 09:30; the pupils stayed until 09:45."""
    bundle = _example.lesson()
    bundle["callRecord"]["sessions"][0] = _example.session(_example.TEACHER, "08:58:02", "09:30:00")
    return bundle


def _first_staff_join(m: Meeting) -> dict[int, float]:
    first: dict[int, float] = {}
    for presence in m.present(Role.STAFF):
        for start, _end, index in presence.intervals:
            if index not in first or start < first[index]:
                first[index] = start
    return first


def _lobby_holds_pupils(m: Meeting, allowed_scopes: list[str]) -> bool:
    """With a staff organiser and a lobby that admits only the organiser, a pupil's call-record time before
    the first staff member joined was spent waiting in the lobby."""
    if m.organiser is None or m.organiser.role is not Role.STAFF:
        return False
    lobby = m.online_meeting.get("lobbyBypassSettings")
    scope = lobby.get("scope") if isinstance(lobby, dict) else None
    return isinstance(scope, str) and scope in allowed_scopes


def _subtract(spans: list[Interval], cover: list[Interval]) -> list[Interval]:
    """Parts of ``spans`` (merged) not covered by ``cover`` (merged)."""
    out: list[Interval] = []
    j = 0
    for start, end in spans:
        cursor = start
        while j < len(cover) and cover[j][1] <= cursor:
            j += 1
        k = j
        while k < len(cover) and cover[k][0] < end:
            if cover[k][0] > cursor:
                out.append((cursor, cover[k][0]))
            cursor = max(cursor, cover[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


@rule("pupils-unsupervised", "high", ("S11",), "Pupils were left without a member of staff", example=example,
      params={"threshold_seconds": Param(int, 60, "Unsupervised time tolerated before the rule fires (seconds)")},
      reads={"lobby_allowed_scopes": ("lobby-bypass-too-broad", "allowed_scopes")},
      passes="""Unsupervised time of at most the threshold; a pupil waiting in the lobby before the first member of
      staff joined, when the organiser is staff and the lobby admits only the allowed scopes; presence
      without times (a participant in no session).""",
      remediation="""Stay until every pupil has left and end the lesson for everyone: in the meeting select the
      arrow beside Leave > End meeting. If you must step out, ask another member of staff to join first. Keep
      the lobby on (Only me and co-organizers) so pupils wait there until you arrive.""")
def pupils_unsupervised(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S11: staff "Schedule and host all video conference sessions." Fires when the time during which at least
    one pupil was present and no staff member was exceeds the threshold (strictly)."""
    if m.presence_source is None:
        return
    threshold = params["threshold_seconds"]
    lobby = m.presence_source == "callRecord" and _lobby_holds_pupils(m, list(params.get("lobby_allowed_scopes",
                                                                                          ["organizer"])))
    first_staff = _first_staff_join(m) if lobby else {}
    pupil_spans: list[Interval] = []
    owners: list[tuple[float, float, Presence]] = []
    for presence in m.present(Role.PUPIL):
        for start, end, index in presence.intervals:
            if lobby and index >= 0:
                if index not in first_staff:
                    continue  # no staff member ever joined this call: the pupil waited in the lobby
                start = max(start, first_staff[index])
                if start >= end:
                    continue
            pupil_spans.append((start, end))
            owners.append((start, end, presence))
    if not pupil_spans:
        return
    staff_spans = merge([(s, e) for p in m.present(Role.STAFF) for s, e, _ in p.intervals])
    gaps = _subtract(merge(pupil_spans), staff_spans)
    total = sum(e - s for s, e in gaps)
    if total <= threshold:
        return
    longest = max(gaps, key=lambda g: g[1] - g[0])
    alone = sorted({p.person.label for s, e, p in owners if s < longest[1] and e > longest[0]})
    evidence = {"unsupervisedSeconds": round(total, 1), "thresholdSeconds": threshold,
                "longestGapStart": iso(longest[0]), "longestGapEnd": iso(longest[1]),
                "pupilsDuringLongestGap": alone, "lobbyWaitingExcluded": lobby}
    yield Draft(f"Pupils were in {meeting_name(m)} with no member of staff present for {duration(total)} in all "
                f"(longest stretch {duration(longest[1] - longest[0])}, from {iso(longest[0])}).", evidence)
