"""The calendar and call-record reads behind coalescing, reconcile and preflight (the gateway gathers evidence;
these only find what to evaluate).

- ``identify``: one ``$batch`` of ``$select`` reads tells apart the attendees' copies of one lesson (the same
  ``iCalUId``) and says which copy is the organiser's.
- ``call_records_since``: the tenant's call records that started since an instant (reconcile).
- ``organised_events``: the events a mailbox organises over a window, for reconcile's calendar sweep.
- ``online_meetings_starting``: a staff mailbox's online meetings it organises that start within a window
  (preflight re-checks their options).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.graph.client import GraphTransport, Request

IDENTIFY_SELECT = "id,iCalUId,isOrganizer,isCancelled,type,seriesMasterId,organizer"


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class CalendarReader:
    def __init__(self, transport: GraphTransport) -> None:
        self.transport = transport

    async def identify(self, copies: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """For each (mailbox, event id): its identifying fields, or None when it cannot be read now."""
        requests = [Request("GET", f"/users/{m}/events/{quote(e, safe='')}?$select={IDENTIFY_SELECT}")
                    for m, e in copies]
        replies = await self.transport.many(requests)
        return [reply.json if reply.ok else None for reply in replies]

    async def call_records_since(self, since: datetime) -> list[dict[str, Any]]:
        items, _ = await self.transport.get_all(
            f"/communications/callRecords?$filter=startDateTime ge {_instant(since)}")
        return items

    async def organised_events(self, mailbox: str, start: str, end: str) -> list[dict[str, Any]]:
        """``start``/``end``: ISO instants (``…Z``) of the calendar view's window."""
        items, _ = await self.transport.get_all(
            f"/users/{mailbox}/calendarView?startDateTime={start}&endDateTime={end}"
            f"&$select=id,iCalUId,isOrganizer,isOnlineMeeting,seriesMasterId,type&$top=200")
        return [item for item in items if item.get("isOrganizer")]

    async def online_meetings_starting(self, mailbox: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        items, _ = await self.transport.get_all(
            f"/users/{mailbox}/calendarView?startDateTime={_instant(start)}&endDateTime={_instant(end)}"
            f"&$select=id,isOrganizer,isOnlineMeeting&$top=50")
        return [item for item in items if item.get("isOrganizer") and item.get("isOnlineMeeting")]
