"""vcaudit's own index of call records and calendar delta links, so a gather never lists the tenant's call
records to find one meeting's, and a quiet mailbox costs one request a night.

- ``CallRecordIndex``: each call record read by id (its notification names it; the record carries
  ``joinWebUrl``, ``startDateTime``, ``endDateTime``) is noted under its meeting's identity — the join URL's
  thread *and* message id, since every channel meeting of a channel shares the thread. A gather asks the index
  for the records of its meeting that started within its window.
- ``DeltaLinks``: the ``@odata.deltaLink`` of each mailbox's ``calendarView/delta`` round, so the next night's
  reconcile asks only for what changed.

``MemoryCallRecordIndex`` / ``MemoryDeltaLinks`` serve one process (tests, benchmark); the table-backed ones
(``shared.store.graphindex``) serve every worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.evidence.meeting import normalise_join_url, thread_from_join_url


def meeting_identity(join_url: str | None) -> str | None:
    """``thread|message`` of a Teams join URL (lower-cased thread), else the normalised URL; None without one."""
    if not join_url:
        return None
    import re

    thread = thread_from_join_url(join_url)
    m = re.search(r"/l/meetup-join/[^/?#]+/([^/?#]+)", join_url, re.IGNORECASE)
    if thread and m:
        return f"{thread.lower()}|{m.group(1)}"
    return normalise_join_url(join_url)


@dataclass(frozen=True, slots=True)
class IndexedCall:
    record_id: str
    start: datetime
    end: datetime | None


class CallRecordIndex(Protocol):
    async def note(self, record_id: str, join_url: str, start: datetime, end: datetime | None) -> None: ...

    async def on_meeting(self, join_url: str, lo: datetime, hi: datetime) -> list[IndexedCall]: ...

    async def known(self, record_ids: list[str]) -> set[str]: ...


@dataclass
class MemoryCallRecordIndex:
    by_meeting: dict[str, dict[str, IndexedCall]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)

    async def note(self, record_id: str, join_url: str, start: datetime, end: datetime | None) -> None:
        identity = meeting_identity(join_url)
        if identity is None:
            return
        self.by_meeting.setdefault(identity, {})[record_id] = IndexedCall(record_id, start, end)
        self.ids.add(record_id)

    async def on_meeting(self, join_url: str, lo: datetime, hi: datetime) -> list[IndexedCall]:
        identity = meeting_identity(join_url)
        calls = self.by_meeting.get(identity or "", {}).values()
        return sorted((c for c in calls if lo <= c.start < hi), key=lambda c: c.start)

    async def known(self, record_ids: list[str]) -> set[str]:
        return {r for r in record_ids if r in self.ids}


class DeltaLinks(Protocol):
    async def get(self, mailbox: str) -> str | None: ...

    async def put(self, mailbox: str, link: str) -> None: ...


@dataclass
class MemoryDeltaLinks:
    links: dict[str, str] = field(default_factory=dict)

    async def get(self, mailbox: str) -> str | None:
        return self.links.get(mailbox.lower())

    async def put(self, mailbox: str, link: str) -> None:
        self.links[mailbox.lower()] = link
