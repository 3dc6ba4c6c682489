"""Per-mailbox pacing: at most 4 Graph requests in flight per mailbox, from this process.

Outlook resources (mail, calendar, contacts, ...) allow an application **4 concurrent requests per mailbox**
(Microsoft Graph throttling limits, "Outlook service limits":
https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits); a fifth answers 429
``ApplicationThrottled`` "Application is over its MailboxConcurrency limit". Requests inside one ``$batch``
count too: Graph runs a batch's items in parallel unless they depend on each other
(https://learn.microsoft.com/graph/json-batching), so one batch holds at most 4 items for a mailbox.

This pacer keeps one worker process within the limit. It cannot see other instances: across instances, a 429
that persists past the transport's retry budget becomes ``GraphThrottled`` and the queue worker re-enqueues the
evaluation with Graph's ``Retry-After`` (README, Graph gateway). Pure asyncio; no Graph import.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from urllib.parse import unquote, urlsplit

MAILBOX_CONCURRENCY = 4

# Outlook resources under /users/{id} (and /me) that count against the mailbox's concurrency.
OUTLOOK_SEGMENTS = frozenset({
    "events", "calendar", "calendars", "calendarview", "calendargroups", "messages", "mailfolders", "sendmail",
    "contacts", "contactfolders", "mailboxsettings", "outlook", "inferenceclassification", "findmeetingtimes",
    "getschedule", "reminderview",
})
_PATH = re.compile(r"^/(?:v1\.0/|beta/)?users/([^/?]+)/([^/?(]+)", re.IGNORECASE)


def mailbox_of(url: str) -> str | None:
    """The mailbox an Outlook request reads or writes (``/users/{id or address}/events...``), lower-cased; None
    for anything else (online meetings, call records, directory, subscriptions)."""
    path = urlsplit(url).path if url.lower().startswith(("http://", "https://")) else url.split("?", 1)[0]
    match = _PATH.match("/" + path.lstrip("/"))
    if not match or match.group(2).lower() not in OUTLOOK_SEGMENTS:
        return None
    return unquote(match.group(1)).lower()


class MailboxPacer:
    """Holds up to ``limit`` slots per mailbox. ``hold(counts)`` takes every slot it needs at once (or waits
    until it can), so two callers each holding part of what the other needs can never deadlock."""

    def __init__(self, limit: int = MAILBOX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()  # highest concurrency seen per mailbox (tests, benchmarks)
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:  # created lazily, inside the loop that uses it
            self._changed = asyncio.Condition()
        return self._changed

    def _fits(self, counts: Mapping[str, int]) -> bool:
        return all(self.in_flight[mailbox] + n <= self.limit for mailbox, n in counts.items())

    @asynccontextmanager
    async def hold(self, counts: Mapping[str, int]) -> AsyncIterator[None]:
        counts = {mailbox: n for mailbox, n in counts.items() if n > 0}
        if any(n > self.limit for n in counts.values()):
            raise ValueError(f"more than {self.limit} requests for one mailbox at once; split them (split_batch)")
        if not counts:
            yield
            return
        condition = self._condition()
        async with condition:
            await condition.wait_for(lambda: self._fits(counts))
            for mailbox, n in counts.items():
                self.in_flight[mailbox] += n
                self.peak[mailbox] = max(self.peak[mailbox], self.in_flight[mailbox])
        try:
            yield
        finally:
            async with condition:
                for mailbox, n in counts.items():
                    self.in_flight[mailbox] -= n
                    if not self.in_flight[mailbox]:
                        del self.in_flight[mailbox]
                condition.notify_all()

    def hold_urls(self, urls: Iterable[str]) -> AbstractAsyncContextManager[None]:
        """``hold`` for the mailboxes these request URLs touch."""
        return self.hold(Counter(m for m in map(mailbox_of, urls) if m is not None))

    def split_batch(self, indexes: Sequence[int], urls: Sequence[str]) -> tuple[list[int], list[int]]:
        """(now, later): ``indexes`` in order, at most ``limit`` per mailbox in ``now``; the rest wait for the
        next round of the same ``$batch`` loop."""
        taken: Counter[str] = Counter()
        now: list[int] = []
        later: list[int] = []
        for index in indexes:
            mailbox = mailbox_of(urls[index])
            if mailbox is not None and taken[mailbox] >= self.limit:
                later.append(index)
                continue
            if mailbox is not None:
                taken[mailbox] += 1
            now.append(index)
        return now, later

