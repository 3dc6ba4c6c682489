"""Putting a meeting's options right: ``PATCH /users/{organiser}/onlineMeetings/{id}`` with only the
properties the policy requires (enforce mode).

Graph documents which properties can be updated, and which of them apply to a meeting already in progress:
https://learn.microsoft.com/en-us/graph/api/onlinemeeting-update?view=graph-rest-1.0 . The application
permission is ``OnlineMeetings.ReadWrite.All``, with the organiser covered by the Teams application access
policy. One HTTP exchange per call: a refusal (403, 400, 404) is final and reported, never retried in a loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from shared.digest.mail import RawSender


@dataclass(frozen=True, slots=True)
class UpdateResult:
    status: int
    meeting: dict[str, Any] = field(default_factory=dict)  # Graph's updated onlineMeeting (on success)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def update_meeting_options(sender: RawSender, base_url: str, organiser: str, meeting_id: str,
                                 changes: dict[str, Any]) -> UpdateResult:
    url = (f"{base_url.rstrip('/')}/users/{quote(organiser, safe='@')}/onlineMeetings/"
           f"{quote(meeting_id, safe='')}")
    body = json.dumps(changes).encode("utf-8")
    try:
        reply = await sender.send("PATCH", url, {"Content-Type": "application/json"}, body)
    except Exception as exc:  # no answer: reported; the next evaluation looks again
        return UpdateResult(0, detail=f"no answer from Graph: {type(exc).__name__}")
    status = int(getattr(reply, "status", 0))
    if 200 <= status < 300:
        meeting = getattr(reply, "body", None)
        return UpdateResult(status, meeting if isinstance(meeting, dict) else {}, f"Graph {status}")
    text = reply.error_text() if hasattr(reply, "error_text") else str(status)
    return UpdateResult(status, detail=f"Graph {text}")
