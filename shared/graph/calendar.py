"""The calendar and call-record reads behind coalescing, reconcile and preflight (the gateway gathers evidence;
these only find what to evaluate).

- ``identify``: one ``$batch`` of ``$select`` reads tells apart the attendees' copies of one lesson (the same
  ``iCalUId``) and says which copy is the organiser's.
- ``call_records_since``: the tenant's call records that started since an instant (reconcile).
- ``organised_events``: the events a mailbox organises over a window (a full listing: the benchmark's baseline).
- ``organised_changes``: reconcile's calendar sweep, through ``calendarView/delta`` and a stored delta link.
- ``online_meetings_starting``: a staff mailbox's online meetings it organises that start within a window
  (preflight re-checks their options).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.graph.client import GraphTransport, Request
from shared.graph.errors import GraphError

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

    async def organised_changes(self, mailbox: str, start: str, end: str,
                                link: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Reconcile's calendar sweep through ``calendarView/delta``: the first round lists the window's events
        (paged); later rounds follow the stored ``@odata.deltaLink`` and return only what changed, so a quiet
        mailbox costs one request a night (https://learn.microsoft.com/en-us/graph/api/event-delta,
        https://learn.microsoft.com/en-us/graph/delta-query-events). Returns the events the mailbox organises
        (removed ones left out: their deletion reaches us by notification) and the new delta link, or None when
        the link was refused (expired: the next round starts afresh)."""
        url = link or f"/users/{mailbox}/calendarView/delta?startDateTime={start}&endDateTime={end}"
        found: list[dict[str, Any]] = []
        while url:
            reply = await self.transport.get(url, {"Prefer": "odata.maxpagesize=200"})
            if not reply.ok:
                if link and reply.status in (400, 404, 410):
                    return await self.organised_changes(mailbox, start, end, None)
                # Not a partial list passed off as the whole: the caller leaves this mailbox for next time.
                raise GraphError(reply.status, reply.error_text(), f"/users/{mailbox}/calendarView/delta")
            found.extend(i for i in reply.json.get("value", []) if isinstance(i, dict))
            nxt = reply.json.get("@odata.nextLink")
            if isinstance(nxt, str) and nxt:
                url = nxt
                continue
            delta = reply.json.get("@odata.deltaLink")
            return ([i for i in found if i.get("isOrganizer") and "@removed" not in i and i.get("id")],
                    str(delta) if delta else None)
        return found, None

    async def online_meetings_starting(self, mailbox: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        items, _ = await self.transport.get_all(
            f"/users/{mailbox}/calendarView?startDateTime={_instant(start)}&endDateTime={_instant(end)}"
            f"&$select=id,isOrganizer,isOnlineMeeting&$top=50")
        return [item for item in items if item.get("isOrganizer") and item.get("isOnlineMeeting")]
