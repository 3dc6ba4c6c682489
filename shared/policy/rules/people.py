"""Who was there and what they did (G1, G2a, S5, S6, S11, P1, P3, P8, U3, D1, and guidance)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Interval, Meeting, Presence, Role, merge
from shared.evidence.reader import obj, objects
from shared.evidence.times import iso
from shared.policy.catalogue import Draft, Param, rule
from shared.policy.rules._text import capital, duration, meeting_name, person_evidence, who

SCREEN_MODALITIES = frozenset({"screenSharing", "videoBasedScreenSharing"})
SHARING_LABEL = "applicationsharing-video"


@rule("uninvited-attendee", "high", ("G1", "S6", "P3", "S5"), "Someone joined who was not invited",
      per_person=True)
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


def _has_sharing_media(segments: list[dict[str, Any]]) -> bool:
    for segment in segments:
        media = segment.get("media")
        for item in media if isinstance(media, list) else []:
            label = item.get("label") if isinstance(item, dict) else None
            if isinstance(label, str) and label.lower() == SHARING_LABEL:
                return True
    return False


def _session_parties(peer_to_peer: bool) -> tuple[tuple[str, str], ...]:
    # (endpoint, the stream direction in which that endpoint sends)
    if peer_to_peer:
        return (("caller", "callerToCallee"), ("callee", "calleeToCaller"))
    return (("caller", "callerToCallee"),)


@rule("pupil-screen-shared", "high", ("P8", "U3"), "A pupil shared their screen", per_person=True)
def pupil_screen_shared(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """P8/U3: "Not share the screen." Fires for each pupil whose session's segments carry
    ``applicationsharing-video`` media with a stream flowing from the pupil; with no segment media at all, the
    session's ``screenSharing`` / ``videoBasedScreenSharing`` modality counts as a possible share."""
    from shared.evidence.meeting import identity_from_endpoint

    shares: dict[str, list[dict[str, Any]]] = {}
    people: dict[str, Any] = {}
    for index, record in enumerate(m.bundle.call_records):
        path = f"callRecords[{index}]" if index else "callRecord"
        peer_to_peer = record.get("type") == "peerToPeer"
        for s, session in enumerate(objects(record, "sessions", path)):
            spath = f"{path}.sessions[{s}]"
            segments = objects(session, "segments", spath)
            has_media = any(seg.get("media") for seg in segments)
            modalities = session.get("modalities")
            modality_share = isinstance(modalities, list) and bool(SCREEN_MODALITIES & set(
                x for x in modalities if isinstance(x, str)))
            if not (modality_share if not has_media else _has_sharing_media(segments)):
                continue  # nothing shared in this session: no need to know whose it is
            for end, direction in _session_parties(peer_to_peer):
                ident = identity_from_endpoint(obj(session, end, spath), f"{spath}.{end}")
                if ident is None:
                    continue
                person = m.person(ident)
                if person.role is not Role.PUPIL:
                    continue
                if has_media:
                    for g, segment in enumerate(segments):
                        for k, media in enumerate(objects(segment, "media", f"{spath}.segments[{g}]")):
                            label = media.get("label")
                            if not isinstance(label, str) or label.lower() != SHARING_LABEL:
                                continue
                            streams = objects(media, "streams", f"{spath}.segments[{g}].media[{k}]")
                            sent = [st for st in streams if st.get("streamDirection") == direction]
                            if sent:
                                shares.setdefault(person.key, []).append({
                                    "sessionId": session.get("id"), "segmentId": segment.get("id"),
                                    "start": segment.get("startDateTime"), "end": segment.get("endDateTime"),
                                    "media": SHARING_LABEL, "streamDirection": direction,
                                    "streamIds": [st.get("streamId") for st in sent]})
                                people[person.key] = person
                elif modality_share:
                    shares.setdefault(person.key, []).append({
                        "sessionId": session.get("id"), "modalities": [x for x in modalities or []
                                                                       if isinstance(x, str)],
                        "start": session.get("startDateTime"), "end": session.get("endDateTime"),
                        "possible": True})
                    people[person.key] = person
    for key, found in shares.items():
        person = people[key]
        certain = any(not item.get("possible") for item in found)
        evidence: dict[str, Any] = {"pupil": person_evidence(person), "shares": found}
        if not certain:
            evidence["possible"] = True
            text = (f"{person.label} (pupil) may have shared their screen in {meeting_name(m)}: the call record "
                    "shows screen sharing in their session but no detail of who sent it.")
        else:
            text = f"{person.label} (pupil) shared their screen in {meeting_name(m)}."
        yield Draft(text, evidence, person.key, person.name)


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


@rule("pupils-unsupervised", "high", ("S11",), "Pupils were left without a member of staff",
      params={"threshold_seconds": Param(int, 60, "Unsupervised time tolerated before the rule fires (seconds)")})
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


@rule("consent-missing", "high", ("D1", "P1"), "A pupil took part without recorded parental consent",
      per_person=True)
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


@rule("unscheduled-call-with-pupil", "high", ("G2a", "S11"), "A call with a pupil outside a scheduled meeting")
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


@rule("one-to-one-with-pupil", "advisory", ("guidance",), "A one-to-one session between one adult and one pupil")
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
