"""A pupil sent a screen share (P8, U3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.evidence.reader import obj, objects
from shared.policy.catalogue import Draft, rule
from shared.policy.rules import _example
from shared.policy.rules._text import meeting_name, person_evidence

SCREEN_MODALITIES = frozenset({"screenSharing", "videoBasedScreenSharing"})
SHARING_LABEL = "applicationsharing-video"


def example() -> dict[str, Any]:
    """Amelia's session carries a screen-sharing stream flowing from her."""
    bundle = _example.lesson()
    share = {"label": "applicationsharing-video",
             "streams": [{"streamId": "1504", "streamDirection": "callerToCallee"}]}
    bundle["callRecord"]["sessions"][1] = _example.session(_example.AMELIA, "09:00:05", "09:45:00", media=[share])
    return bundle


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


@rule("pupil-screen-shared", "high", ("P8", "U3"), "A pupil shared their screen", per_person=True,
      example=example,
      passes="""A pupil who only watched someone else's share (the stream flows towards them); a member of staff
      sharing; a screen-sharing modality without media when the session's segments do carry media.""",
      remediation="""Talk to the pupil (and their parents) about what was shared; tell the DSL if it was
      inappropriate. Stop a share in the meeting by making the pupil an attendee (People > their name > Make
      an attendee). Next time set Meeting options > Who can present? > Only me and co-organizers before the
      lesson.""")
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
