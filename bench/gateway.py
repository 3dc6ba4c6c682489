"""Graph requests per meeting occurrence over a simulated school week, cached + batched vs naive.

    .venv/bin/python -m bench.gateway [--school primary|trust] [--seed N] [--concurrency N]

Each occurrence of the generated week is gathered once at its last stage — from its call record (the held
stage; siblings, event, meeting, reports and artefacts follow) or, with no call, from its calendar event — the
directory included (read once and cached in the normal mode; re-read for every occurrence in the naive mode,
which also sends every request on its own instead of in ``$batch``). Counts come from the simulator's request
log: HTTP requests (a ``$batch`` counts once) and Graph requests (each batch item counts). The normal mode
links call records through vcaudit's call-record index, filled as each call record's notification is read (here:
gathered in the order the calls ended); the naive mode lists the day's call records.

Then five nightly reconciles with pupil mailboxes monitored (the deployed default): every monitored mailbox's
calendar over this week and the next through ``calendarView/delta`` and its stored link (the first night a full
round, then only changes), against the naive full ``calendarView`` listing each night; and the call records by a
``startDateTime`` window. Figures: requests per mailbox per night, and per quiet mailbox on the nights after the
first.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.graphsim import GraphSimulator, Tenant, generate
from shared.graph.calendar import CalendarReader
from shared.graph.client import GraphTransport, connect
from shared.graph.directory import StaticConsent
from shared.graph.gateway import GraphGateway
from shared.graph.index import MemoryDeltaLinks

WEEK_AFTER = datetime(2026, 3, 16, 12, tzinfo=UTC)  # "now": the generated week (from 2026-03-09) is over


async def run(tenant: Tenant, naive: bool, concurrency: int) -> dict[str, Any]:
    with GraphSimulator(tenant) as sim:
        connection = connect(sim.base_url)
        transport = GraphTransport(connection.sender(), sim.base_url, concurrency=concurrency)
        gateway = GraphGateway(
            transport,
            tenant_id=tenant.tenant_id,
            staff_group_ids=[g["id"] for g in tenant.groups.values() if g["displayName"].endswith("All Staff")],
            pupil_group_ids=[g["id"] for g in tenant.groups.values() if g["displayName"].endswith("All Pupils")],
            class_team_ids=list(tenant.teams),
            consent=StaticConsent(frozenset(tenant.consent)),
            naive=naive,
            now=lambda: WEEK_AFTER,
        )
        gate = asyncio.Semaphore(concurrency)

        async def one(occ: dict[str, Any]) -> int:
            async with gate:
                if occ["callRecordIds"]:
                    got = await gateway.gather_call_record(occ["callRecordIds"][-1])
                else:
                    got = await gateway.gather_event(occ["mailbox"], occ["eventId"])
                return len(got)

        sim.clear_log()
        started = time.perf_counter()
        ordered = sorted(tenant.occurrences, key=lambda o: str(o.get("end") or ""))
        gathered = sum(await asyncio.gather(*(one(o) for o in ordered)))
        elapsed = time.perf_counter() - started
        await connection.aclose()
        http = sum(1 for r in sim.requests if not r.in_batch)
        inner = sum(1 for r in sim.requests if r.in_batch)
        batches = sum(1 for r in sim.requests if r.path == "/$batch")
        directory = sum(1 for r in sim.requests if r.path.startswith(("/groups", "/teams", "/education")))
        return {
            "occurrences": gathered,
            "http": http,
            "graph": http - batches + inner,
            "directory": directory,
            "seconds": elapsed,
        }


async def reconcile(tenant: Tenant, naive: bool, nights: int = 5) -> dict[str, Any]:
    """``nights`` nightly calendar sweeps over every monitored mailbox (staff and pupils with a mailbox)."""
    with GraphSimulator(tenant) as sim:
        connection = connect(sim.base_url)
        transport = GraphTransport(connection.sender(), sim.base_url, concurrency=8)
        reader = CalendarReader(transport)
        links = MemoryDeltaLinks()
        mailboxes = sorted(u["id"] for u in tenant.users.values() if u.get("mail"))
        start, end = "2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z"
        per_night: list[int] = []
        for _night in range(nights):
            sim.clear_log()
            for mailbox in mailboxes:
                if naive:
                    await reader.organised_events(mailbox, start, end)
                else:
                    _, link = await reader.organised_changes(mailbox, start, end, await links.get(mailbox))
                    if link:
                        await links.put(mailbox, link)
            per_night.append(sum(1 for r in sim.requests if not r.in_batch))
        sim.clear_log()
        gateway = GraphGateway(transport, tenant_id=tenant.tenant_id, staff_group_ids=[], pupil_group_ids=[],
                               consent=StaticConsent(), naive=naive, now=lambda: WEEK_AFTER)
        await gateway.index_call_records(WEEK_AFTER - timedelta(days=1, minutes=390), WEEK_AFTER)
        calls = sum(1 for r in sim.requests if not r.in_batch)
        await connection.aclose()
        return {"mailboxes": len(mailboxes), "nights": per_night, "call_record_listing": calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--school", choices=("primary", "trust"), default="primary")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    tenant = generate.primary_school(args.seed) if args.school == "primary" else generate.trust(args.seed)
    print(
        f"{args.school} school week, seed {args.seed}: {len(tenant.occurrences)} meeting occurrences, "
        f"{len(tenant.users)} users, {len(tenant.teams)} class teams"
    )
    print(f"{'mode':<18}{'HTTP req':>10}{'per occ':>9}{'Graph req':>11}{'per occ':>9}{'dir. req':>10}{'occ/s':>8}")
    for label, naive in (("cached + $batch", False), ("naive", True)):
        r = asyncio.run(run(tenant.copy(), naive, args.concurrency))
        n = max(1, r["occurrences"])
        print(
            f"{label:<18}{r['http']:>10}{r['http'] / n:>9.2f}{r['graph']:>11}{r['graph'] / n:>9.2f}"
            f"{r['directory']:>10}{n / r['seconds']:>8.1f}"
        )
    print("target: at most 4 HTTP requests per occurrence on average, directory included")
    print()
    print(f"{'nightly reconcile':<18}{'mailboxes':>10}{'night 1':>9}{'per mbx':>9}{'nights 2+':>11}"
          f"{'per quiet mbx':>15}")
    for label, naive in (("calendarView/delta", False), ("naive full view", True)):
        r = asyncio.run(reconcile(tenant.copy(), naive))
        m = max(1, r["mailboxes"])
        later = r["nights"][1:]
        quiet = sum(later) / max(1, len(later)) / m
        print(f"{label:<18}{m:>10}{r['nights'][0]:>9}{r['nights'][0] / m:>9.2f}{sum(later):>11}{quiet:>15.2f}"
              f"   (+{r['call_record_listing']} call-record listing request(s) a night)")
    print("target: at most 1.2 requests per quiet mailbox per night")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
