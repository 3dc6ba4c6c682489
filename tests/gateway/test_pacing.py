"""Per-mailbox pacing: at most 4 Graph requests in flight per mailbox (Outlook service limits,
https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), single requests and ``$batch`` items
alike, without slowing other mailboxes or non-mailbox requests."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping

import pytest

from shared.graph.client import GraphTransport, Reply, Request
from shared.graph.pacing import MAILBOX_CONCURRENCY, MailboxPacer, mailbox_of

BASE = "http://127.0.0.1:1/v1.0"


class CountingSender:
    """Answers 200 after a short pause and records, per mailbox, how many requests were in flight at once.
    ``$batch`` items count as requests in flight for their mailbox, as Graph runs them in parallel."""

    def __init__(self, pause: float = 0.01) -> None:
        self.pause = pause
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total_peak = 0
        self.batch_sizes: list[Counter[str]] = []

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        if url.endswith("/$batch"):
            items = json.loads(body or b"{}")["requests"]
            touched = Counter(m for m in (mailbox_of(i["url"]) for i in items) if m)
            self.batch_sizes.append(touched)
            await self._busy(touched)
            answers = [{"id": i["id"], "status": 200, "body": {"url": i["url"]}} for i in items]
            return Reply(200, {}, {"responses": answers})
        mailbox = mailbox_of(url)
        await self._busy(Counter({mailbox: 1}) if mailbox else Counter({"(none)": 1}))
        return Reply(200, {}, {"url": url})

    async def _busy(self, touched: Counter[str]) -> None:
        self.now.update(touched)
        for mailbox in touched:
            self.peak[mailbox] = max(self.peak[mailbox], self.now[mailbox])
        self.total_peak = max(self.total_peak, sum(self.now.values()))
        await asyncio.sleep(self.pause)
        self.now.subtract(touched)


def test_mailbox_of_names_outlook_requests_only() -> None:
    assert mailbox_of("/users/AB12/events/xyz?$select=id") == "ab12"
    assert mailbox_of("https://graph.microsoft.com/v1.0/users/t%40school.sch.uk/calendarView?x=1") == "t@school.sch.uk"
    assert mailbox_of("/users/ab12/sendMail") == "ab12"
    assert mailbox_of("/users/ab12/onlineMeetings?$filter=x") is None  # cloud communications, not Outlook
    assert mailbox_of("/users/ab12?$select=id") is None  # directory
    assert mailbox_of("/communications/callRecords/1") is None


def test_single_requests_never_exceed_four_per_mailbox() -> None:
    sender = CountingSender()
    transport = GraphTransport(sender, BASE, concurrency=32)
    urls = [f"/users/{box}/events/e{i}" for box in ("a", "b") for i in range(12)]
    urls += [f"/communications/callRecords/{i}" for i in range(8)]

    async def go() -> list[Reply]:
        return list(await asyncio.gather(*(transport.get(u) for u in urls)))

    replies = asyncio.run(go())
    assert [r.json["url"] for r in replies] == [transport.absolute(u) for u in urls]
    assert sender.peak["a"] == sender.peak["b"] == MAILBOX_CONCURRENCY  # never more, and not serialised
    assert sender.peak["(none)"] == 8  # other requests are not held back by the mailbox limit
    assert sender.total_peak > MAILBOX_CONCURRENCY


def test_without_the_limit_the_same_load_would_exceed_it() -> None:
    """The measuring sender can see a breach: with a limit of 12 the same load puts 12 on one mailbox."""
    sender = CountingSender()
    transport = GraphTransport(sender, BASE, concurrency=32, mailbox_concurrency=12)

    async def go() -> None:
        await asyncio.gather(*(transport.get(f"/users/a/events/e{i}") for i in range(12)))

    asyncio.run(go())
    assert sender.peak["a"] == 12


def test_a_batch_carries_at_most_four_items_per_mailbox_and_answers_in_order() -> None:
    sender = CountingSender()
    transport = GraphTransport(sender, BASE)
    requests = [Request("GET", f"/users/a/events/e{i}") for i in range(10)]
    requests += [Request("GET", f"/users/b/calendarView?i={i}") for i in range(3)]
    requests += [Request("GET", f"/users/a/onlineMeetings/m{i}") for i in range(5)]
    replies = asyncio.run(transport.many(requests))
    assert [r.json["url"] for r in replies] == [r.url for r in requests]
    assert sender.batch_sizes and all(max(sizes.values(), default=0) <= 4 for sizes in sender.batch_sizes)
    assert sum(sizes["a"] for sizes in sender.batch_sizes) + 1 >= 10  # the last lone item may go unbatched
    assert transport.stats.retries == 0  # deferring items to the next envelope is not a retry


def test_concurrent_batches_share_the_mailbox_limit() -> None:
    sender = CountingSender(pause=0.02)
    transport = GraphTransport(sender, BASE)

    async def go() -> None:
        await asyncio.gather(*(transport.many([Request("GET", f"/users/a/events/{k}-{i}") for i in range(3)])
                               for k in range(4)))

    asyncio.run(go())
    assert sender.peak["a"] <= MAILBOX_CONCURRENCY


def test_the_pacer_refuses_a_hold_larger_than_the_limit() -> None:
    pacer = MailboxPacer(4)

    async def go() -> None:
        async with pacer.hold({"a": 5}):
            pass

    with pytest.raises(ValueError, match="more than 4"):
        asyncio.run(go())


def test_holds_over_two_mailboxes_do_not_deadlock() -> None:
    pacer = MailboxPacer(4)
    order: list[str] = []

    async def take(name: str, counts: dict[str, int]) -> None:
        async with pacer.hold(counts):
            order.append(name)
            await asyncio.sleep(0.01)

    async def go() -> None:
        await asyncio.wait_for(asyncio.gather(
            take("x", {"a": 2, "b": 3}), take("y", {"b": 3, "a": 2}), take("z", {"a": 4}), take("w", {"b": 4}),
        ), timeout=5)

    asyncio.run(go())
    assert sorted(order) == ["w", "x", "y", "z"]
    assert pacer.peak["a"] <= 4 and pacer.peak["b"] <= 4 and not pacer.in_flight


