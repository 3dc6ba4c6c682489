"""Graph requests per meeting occurrence over a simulated school week, cached + batched vs naive.

    .venv/bin/python -m bench.gateway [--school primary|trust] [--seed N] [--concurrency N]

Each occurrence of the generated week is gathered once at its last stage — from its call record (the held
stage; siblings, event, meeting, reports and artefacts follow) or, with no call, from its calendar event — the
directory included (read once and cached in the normal mode; re-read for every occurrence in the naive mode,
which also sends every request on its own instead of in ``$batch``). Counts come from the simulator's request
log: HTTP requests (a ``$batch`` counts once) and Graph requests (each batch item counts).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from devtools.graphsim import LEGACY_GATEWAY_SWITCHES, GraphSimulator, Tenant, generate
from shared.graph.client import GraphTransport, connect
from shared.graph.directory import StaticConsent
from shared.graph.gateway import GraphGateway

WEEK_AFTER = datetime(2026, 3, 16, 12, tzinfo=UTC)  # "now": the generated week (from 2026-03-09) is over


async def run(tenant: Tenant, naive: bool, concurrency: int) -> dict[str, Any]:
    with GraphSimulator(tenant, **LEGACY_GATEWAY_SWITCHES) as sim:
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
        gathered = sum(await asyncio.gather(*(one(o) for o in tenant.occurrences)))
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
