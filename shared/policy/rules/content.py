"""Where the meeting lives, what platform it uses, and whether it was recorded (G2e, S5, S7, S8, S14)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, Param, rule
from shared.policy.rules._text import capital, meeting_name


@rule("not-in-class-team-general", "low", ("G2e", "S5", "S7"),
      "Meeting not held in the General channel of a class team")
def not_in_class_team_general(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """G2e: "The link / details will be posted in the general section of the year group or class team."
    S5: "Share the invitation link with relevant staff/ pupils." S7: "Only share the meeting specific invitation
    link." Fires when the meeting is not a channel meeting of
    a class team's General channel."""
    if not m.is_meeting or not m.thread_id:
        return
    if m.in_general_channel:
        return
    evidence: dict[str, Any] = {"chatInfo.threadId": m.thread_id}
    if m.team is not None:
        evidence["classTeam"] = {"id": m.team.id, "displayName": m.team.display_name,
                                 "generalChannelId": m.team.general_channel_id}
        text = (f"{capital(meeting_name(m))} was held in another channel of {m.team.display_name}, not its General "
                "channel where the policy says lesson links are posted.")
    else:
        evidence["privateMeeting"] = True
        text = (f"{capital(meeting_name(m))} was a private calendar meeting, not a meeting in the General channel of "
                "a class team. If its link was pasted into General by hand this cannot be seen: an annotation or "
                "a standing exemption clears it.")
    yield Draft(text, evidence)


@rule("session-recorded", "high", ("S14", "P9", "U4"), "The session was recorded or transcribed")
def session_recorded(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S14: "the recording, taking screenshots or photographs of any session is not permitted. Online meetings
    must not be reproduced in any other way." P9/U4: "Not record, screenshot or photograph any of the session."
    Fires when the evidence holds a recording or a transcript."""
    items = [("recording", r) for r in m.bundle.recordings] + [("transcript", t) for t in m.bundle.transcripts]
    if not items:
        return
    found = [{"kind": kind, "id": item.get("id"), "createdDateTime": item.get("createdDateTime"),
              "endDateTime": item.get("endDateTime")} for kind, item in items]
    kinds = sorted({kind for kind, _ in items})
    done = " and ".join("recorded" if k == "recording" else "transcribed" for k in kinds)
    yield Draft(f"{capital(meeting_name(m))} was {done} ({len(items)} item{'s' if len(items) != 1 else ''}); the "
                "policy does not permit recording.",
                {"artefacts": found})


# --- links to other platforms ---

_HOST = re.compile(r"(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(?![\w-])", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def _unwrap_safe_links(text: str) -> str:
    """Append the targets of Outlook Safe Links (``…safelinks.protection.outlook.com/?url=…``) to the text."""
    extra = []
    for url in _URL.findall(text):
        parts = urlsplit(url)
        if parts.netloc.lower().endswith("safelinks.protection.outlook.com"):
            for target in parse_qs(parts.query).get("url", []):
                extra.append(unquote(target))
    return text + (" " + " ".join(extra) if extra else "")


def _texts(m: Meeting) -> list[tuple[str, str]]:
    event = m.event
    found: list[tuple[str, str]] = []

    def add(where: str, value: Any) -> None:
        if isinstance(value, str) and value:
            found.append((where, value))

    add("subject", event.get("subject"))
    body = event.get("body")
    if isinstance(body, dict):
        add("body", body.get("content"))
    add("bodyPreview", event.get("bodyPreview"))
    location = event.get("location")
    if isinstance(location, dict):
        add("location", location.get("displayName"))
        add("location", location.get("locationUri"))
    locations = event.get("locations")
    for item in locations if isinstance(locations, list) else []:
        if isinstance(item, dict):
            add("locations", item.get("displayName"))
            add("locations", item.get("locationUri"))
    add("onlineMeetingUrl", event.get("onlineMeetingUrl"))
    online = event.get("onlineMeeting")
    if isinstance(online, dict):
        add("onlineMeeting.joinUrl", online.get("joinUrl"))
    return found


def _matches(host: str, domains: list[str]) -> str | None:
    for domain in domains:
        d = domain.lower().lstrip(".")
        if host == d or host.endswith("." + d):
            return d
    return None


@rule("unapproved-platform", "medium", ("S8",), "Invitation points to a platform the school has not approved",
      params={
          "approved_hosts": Param(list, ["teams.microsoft.com"], "Video-conferencing hosts the school approves", str),
          "unapproved_hosts": Param(list, ["zoom.us", "meet.google.com", "webex.com", "gotomeeting.com",
                                           "whereby.com", "teams.live.com"],
                                    "Known video-conferencing hosts the school has not approved", str),
      })
def unapproved_platform(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S8: staff "Only use a videoconferencing system that has been approved by the school." Fires when an
    invitation with a pupil among its attendees carries a link to a platform the policy does not approve."""
    if not m.bundle.event or not (m.event_attendees & m.directory.pupils):
        return
    approved = list(params["approved_hosts"])
    unapproved = list(params["unapproved_hosts"])
    links: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for where, value in _texts(m):
        text = _unwrap_safe_links(html.unescape(value))
        for host in _HOST.findall(text):
            host = host.lower()
            if _matches(host, approved):
                continue
            platform = _matches(host, unapproved)
            if platform and (where, host) not in seen:
                seen.add((where, host))
                links.append({"where": where, "host": host, "platform": platform})
    if not links:
        return
    hosts = sorted({link["platform"] for link in links})
    pupils = sorted(m.directory.display_name(p) or p for p in m.event_attendees & m.directory.pupils)
    yield Draft(f"The invitation to {meeting_name(m)}, sent to pupils, links to {', '.join(hosts)}, which the "
                "school has not approved for lessons.", {"links": links, "pupilsInvited": len(pupils)})


