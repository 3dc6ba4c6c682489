"""Invitations that point pupils to a video-conferencing platform the school has not approved (S8)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.evidence.meeting import Meeting
from shared.policy.catalogue import Draft, Param, rule
from shared.policy.rules import _example
from shared.policy.rules._text import meeting_name

_HOST = re.compile(r"(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(?![\w-])", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def example() -> dict[str, Any]:
    """The invitation sent to the class carries a Zoom link."""
    bundle = _example.lesson()
    bundle["event"]["body"]["content"] = ("<p>Year 5 live lesson. If Teams plays up, join here: "
                                          "https://us02web.zoom.us/j/81234567890</p>")
    return bundle


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
      stage="scheduled", example=example,
      params={
          "approved_hosts": Param(list, ["teams.microsoft.com"], "Video-conferencing hosts the school approves", str),
          "unapproved_hosts": Param(list, ["zoom.us", "meet.google.com", "webex.com", "gotomeeting.com",
                                           "whereby.com", "teams.live.com"],
                                    "Known video-conferencing hosts the school has not approved", str),
      },
      passes="""Microsoft Teams links (`teams.microsoft.com`) and any host the policy approves; an invitation with no
      pupil among its attendees.""",
      remediation="""Use only the school's Microsoft Teams for lessons. In Outlook or the Teams calendar, open
      the meeting, remove the other platform's link from the invitation (body, location) and send the update;
      if the lesson took place elsewhere, tell the DSL. Next time schedule from the class team's General
      channel so the Teams link is the only one.""")
def unapproved_platform(m: Meeting, params: Mapping[str, Any]) -> Iterable[Draft]:
    """S8: staff "Only use a videoconferencing system that has been approved by the school." Fires when an
    invitation with a pupil among its attendees carries a link to a platform the policy does not approve."""
    if not m.bundle.event or not (m.event_attendees & m.directory.pupils):
        return
    approved = list(params["approved_hosts"])
    unapproved = list(params["unapproved_hosts"])
    links: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    domains = [domain.lower().lstrip(".") for domain in unapproved]
    for where, value in _texts(m):
        text = html.unescape(value) if "&" in value else value
        lowered = text.lower()
        if "safelinks" in lowered:
            text = _unwrap_safe_links(text)
            lowered = text.lower()
        if not any(domain in lowered for domain in domains):
            continue  # a host of a listed platform contains its domain: no need to look for hosts at all
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
