"""Meeting options: the settings the policy asks staff to establish before a lesson (G2b-G2d, P7-P10, S14).

A family of five rules judged at the scheduled stage; their findings are frozen at the lesson's start (fixing
next week's options must not rewrite this week's findings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Draft, Param, rule
from shared.policy.rules import _example
from shared.policy.rules._text import meeting_name

UNKNOWN = "unknownFutureValue"


OPTIONS = ("In Teams, open the lesson in your calendar (or the Outlook invitation) and select Meeting options; "
           "or during the lesson, More (...) > Settings > Meeting options.")


def _with(**options: Any) -> dict[str, Any]:
    bundle = _example.lesson()
    bundle["onlineMeeting"].update(options)
    return bundle


def mic_example() -> dict[str, Any]:
    """The lesson's options let attendees unmute themselves."""
    return _with(allowAttendeeToEnableMic=True)


def chat_example() -> dict[str, Any]:
    """The lesson's options left chat on for attendees."""
    return _with(allowMeetingChat="enabled")


def lobby_example() -> dict[str, Any]:
    """Everyone in the school could bypass the lobby, and so could phone callers."""
    return _with(lobbyBypassSettings={"scope": "organization", "isDialInBypassEnabled": True})


def present_example() -> dict[str, Any]:
    """Every attendee could present."""
    return _with(allowedPresenters="everyone")


def recording_example() -> dict[str, Any]:
    """The options do not carry the recording settings: Graph's defaults allow recording and transcription."""
    bundle = _example.lesson()
    for key in ("allowRecording", "allowTranscription"):
        del bundle["onlineMeeting"][key]
    return bundle


def _setting(m: Meeting, name: str, default: Any) -> tuple[Any, bool]:
    """A meeting option and whether it was read as Graph sent it (False: absent, judged by Graph's default)."""
    if name in m.online_meeting and m.online_meeting[name] is not None:
        return m.online_meeting[name], True
    return default, False


@rule("attendee-mic-allowed", "low", ("G2b", "P7", "U2"), "Attendees can unmute themselves",
      options=("allowAttendeeToEnableMic",), stage="scheduled", frozen_at_start=True, example=mic_example,
      passes="""`allowAttendeeToEnableMic` is `false`. No meeting options in the evidence: nothing is judged.""",
      remediation=OPTIONS + """ Turn off "Allow mic for attendees?" and save; unmute a pupil from People when
      they speak to you. Set it before every lesson (a recurring series keeps it).""")
def attendee_mic_allowed(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2b: "Attendees should be set as mute on entry by the host." P7/U2: "ensure 'mute' is on at all times
    unless the child is speaking to the teacher." Fires when ``allowAttendeeToEnableMic`` is not ``false``."""
    if not m.bundle.online_meeting:
        return
    value, read = _setting(m, "allowAttendeeToEnableMic", True)
    if value is False:
        return
    evidence: dict[str, Any] = {"allowAttendeeToEnableMic": value if read else None}
    if not read:
        evidence["default"] = True
    elif not isinstance(value, bool):
        evidence["unverified"] = True
    yield Draft(f"Attendees of {meeting_name(m)} could turn their own microphones on; the policy has the host "
                "mute them on entry.", evidence)


@rule("meeting-chat-enabled", "medium", ("G2c", "P10", "U5"), "Meeting chat is on",
      options=("allowMeetingChat",), stage="scheduled", frozen_at_start=True, example=chat_example,
      passes="""`allowMeetingChat` is `disabled`. No meeting options in the evidence: nothing is judged.""",
      remediation=OPTIONS + """ Set "Meeting chat" (or "Allow meeting chat") to Off (Disabled), not "In-meeting
      only", and save. If the school turns chat off for all pupils in the Teams meeting policy, the DSL can
      switch this rule off in the policy file with that reason.""")
def meeting_chat_enabled(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2c: "The chat function should be disabled for attendees." P10/U5: "Not use the 'chat' function."
    Fires when ``allowMeetingChat`` is not ``disabled`` (``enabled``, ``limited``, absent)."""
    if not m.bundle.online_meeting:
        return
    value, read = _setting(m, "allowMeetingChat", "enabled")
    if value == "disabled":
        return
    evidence: dict[str, Any] = {"allowMeetingChat": value if read else None}
    if not read:
        evidence["default"] = "enabled"
    elif value == UNKNOWN or value not in ("enabled", "limited"):
        evidence["unverified"] = True
    mode = "during the call" if value == "limited" else "for attendees"
    yield Draft(f"Chat was available {mode} in {meeting_name(m)}; the policy has it disabled for attendees.",
                evidence)


@rule("lobby-bypass-too-broad", "medium", ("G2d", "S6"), "People could bypass the lobby",
      options=("lobbyBypassSettings",), stage="scheduled", frozen_at_start=True, example=lobby_example,
      passes="""`lobbyBypassSettings.scope` is one of the policy's allowed scopes (default `organizer`) and phone
      callers wait in the lobby. No meeting options in the evidence: nothing is judged.""",
      remediation=OPTIONS + """ Set "Who can bypass the lobby?" to "Only me and co-organizers" (Only me) and
      turn off "Always let callers bypass the lobby"; then admit each pupil from the lobby, and decide
      yourself whether someone removed may come back.""",
      params={"allowed_scopes": Param(list, ["organizer"], "lobbyBypassSettings.scope values the school accepts",
                                      str)})
def lobby_bypass_too_broad(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2d: "If a participant is removed from a meeting the ability to re-join should be decided by the host."
    S6: the host removes uninvited attendees. Fires when ``lobbyBypassSettings.scope`` is outside the allowed
    scopes (absent or ``unknownFutureValue``: unverified), or dial-in callers bypass the lobby."""
    if not m.bundle.online_meeting:
        return
    lobby = m.online_meeting.get("lobbyBypassSettings")
    lobby = lobby if isinstance(lobby, dict) else {}
    scope = lobby.get("scope")
    dial_in = lobby.get("isDialInBypassEnabled")
    allowed = list(params["allowed_scopes"])
    evidence: dict[str, Any] = {"lobbyBypassSettings.scope": scope, "allowedScopes": allowed}
    problems = []
    if not isinstance(scope, str) or scope == UNKNOWN:
        evidence["unverified"] = True
        problems.append("who may bypass the lobby could not be read")
    elif scope not in allowed:
        problems.append(f"'{scope}' could join without waiting in the lobby")
    if dial_in is True:
        evidence["isDialInBypassEnabled"] = True
        problems.append("phone dial-in callers skipped the lobby")
    if problems:
        yield Draft(f"In {meeting_name(m)}, " + " and ".join(problems) + "; the host should decide who joins.",
                    evidence)


@rule("attendees-can-present", "medium", ("P8", "U3"), "Attendees could present (share their screen)",
      options=("allowedPresenters",), stage="scheduled", frozen_at_start=True, example=present_example,
      passes="""`allowedPresenters` is `organizer`, or `roleIsPresenter` with no pupil as presenter or co-organiser (the
      organiser's own role is `organiser-not-staff`'s business).""",
      remediation=OPTIONS + """ Set "Who can present?" to "Only me and co-organizers" and save; make sure no
      pupil is listed as a presenter or co-organiser.""")
def attendees_can_present(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """P8/U3: "Not share the screen." Fires when ``allowedPresenters`` is ``everyone``, ``organization`` or
    absent, or it is ``roleIsPresenter`` and a pupil has the role ``presenter`` or ``coorganizer``."""
    if not m.bundle.online_meeting:
        return
    value, read = _setting(m, "allowedPresenters", "everyone")
    evidence: dict[str, Any] = {"allowedPresenters": value if read else None}
    if value == "organizer":
        return
    if value == "roleIsPresenter":
        participants = m.online_meeting.get("participants")
        attendees = participants.get("attendees") if isinstance(participants, dict) else None
        from shared.evidence.meeting import identity_from_participant_info

        presenters = []
        for i, attendee in enumerate(attendees if isinstance(attendees, list) else []):
            if not isinstance(attendee, dict) or attendee.get("role") not in ("presenter", "coorganizer"):
                continue
            ident = identity_from_participant_info(attendee, f"onlineMeeting.participants.attendees[{i}]")
            if ident is None:
                continue
            person = m.person(ident)
            if person.role is Role.PUPIL:
                presenters.append({"id": person.key, "displayName": person.name, "role": attendee["role"]})
        if not presenters:
            return
        evidence["pupilPresenters"] = presenters
        names = ", ".join(p["displayName"] or p["id"] for p in presenters)
        yield Draft(f"Pupils were given the presenter role in {meeting_name(m)} ({names}), so they could share "
                    "their screen.", evidence)
        return
    if not read:
        evidence["default"] = "everyone"
    elif value not in ("everyone", "organization"):
        evidence["unverified"] = True
    who = "everyone in the school" if value == "organization" else "every attendee"
    yield Draft(f"In {meeting_name(m)} {who} could present and share their screen; the policy says pupils do not "
                "share the screen.", evidence)


@rule("recording-allowed", "medium", ("S14", "P9", "U4"), "Recording or transcription allowed",
      options=("recordAutomatically", "allowRecording", "allowTranscription"), stage="scheduled",
      frozen_at_start=True, example=recording_example,
      passes="""`allowRecording` and `allowTranscription` are both `false` and `recordAutomatically` is not `true`.""",
      remediation=OPTIONS + """ Turn off "Record and transcribe automatically" and, where shown, set "Who can
      record and transcribe?" to organisers only (or turn recording off); the IT admin can turn off recording
      and transcription for lessons in the Teams meeting policy.""")
def recording_allowed(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S14: "the recording, taking screenshots or photographs of any session is not permitted." P9/U4: "Not
    record, screenshot or photograph any of the session." Fires when
    ``recordAutomatically`` is ``true``, or ``allowRecording`` or ``allowTranscription`` is not ``false``."""
    if not m.bundle.online_meeting:
        return
    auto, auto_read = _setting(m, "recordAutomatically", False)
    allow, allow_read = _setting(m, "allowRecording", True)
    transcribe, transcribe_read = _setting(m, "allowTranscription", True)
    problems = []
    if auto is True:
        problems.append("it was set to record automatically")
    if allow is not False:
        problems.append("recording was allowed")
    if transcribe is not False:
        problems.append("transcription was allowed")
    if not problems:
        return
    evidence: dict[str, Any] = {
        "recordAutomatically": auto if auto_read else None,
        "allowRecording": allow if allow_read else None,
        "allowTranscription": transcribe if transcribe_read else None,
    }
    if not (allow_read and transcribe_read):
        evidence["defaults"] = {"allowRecording": True, "allowTranscription": True, "recordAutomatically": False}
    if any(v is not None and not isinstance(v, bool) for v in (auto, allow, transcribe)):
        evidence["unverified"] = True
    yield Draft(f"In {meeting_name(m)} " + " and ".join(problems) + "; the policy does not permit recording.",
                evidence)
