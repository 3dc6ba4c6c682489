"""A fortnight at Harbour Academy on a moving clock, through the whole local stack: ``make fortnight``.

The simulated clock (one :class:`~devtools.graphsim.SimClock`, shared by the Graph simulator, the gateway, the
subscription manager and the pipeline) walks from Sunday 22 March 2026 to Monday 6 April, across the start of
British Summer Time. At each moment, in time order:

- the tenant's timeline (``devtools/graphsim/harbour.py``) changes what Graph serves, and the simulator sends the
  change notifications Graph would, over HTTP, to the webhook;
- the app's timers fire on their default schedules (UTC): subscriptions every four hours at :07, reconcile at
  00:20, 06:20, 12:20 and 18:20, preflight on the quarter hours 06:00-18:45 Monday to Friday (only the ticks in
  the hour before a lesson: the others find nothing to check), the pending sweep, and the digest timer on Monday
  mornings;
- the local runner works off every queue, as the Functions host would.

The tests in ``tests/e2e/test_fortnight.py`` read the tables (and the snapshots taken at named moments) afterwards;
this command prints the fortnight and writes the second week's digest to ``out/harbour/``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.graphsim import GraphSimulator, SimClock, Tenant
from devtools.graphsim.harbour import LONDON, fortnight
from devtools.graphsim.tenant import parse_time

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "samples" / "harbour" / "policy.toml"
START = datetime(2026, 3, 22, 18, 0, tzinfo=UTC)  # Sunday evening: vcaudit is deployed
END = datetime(2026, 4, 6, 7, 10, tzinfo=LONDON).astimezone(UTC)  # Monday 6 April, after the second digest
WEEKS = ("2026-W13", "2026-W14")
FUNCTION_KEY = "harbour-function-key-0123456789"


@dataclass(order=True)
class Moment:
    at: datetime
    rank: int  # within one instant: the tenant changes first, then the timers
    what: str = field(compare=False)


def timer_moments(tenant: Tenant, start: datetime, end: datetime) -> list[Moment]:
    """The timers' firings between ``start`` and ``end`` on the app's default schedules (UTC)."""
    out: list[Moment] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        if hour.hour % 4 == 0:
            out.append(Moment(hour.replace(minute=7), 2, "subscriptions_timer"))
        if hour.hour % 6 == 0:
            out.append(Moment(hour.replace(minute=20), 3, "reconcile_timer"))
        local = hour.astimezone(LONDON)
        if local.weekday() == 0 and 5 <= hour.hour <= 9:
            out.append(Moment(hour.replace(minute=5), 4, "digest_timer"))
        hour += timedelta(hours=1)
    starts = sorted({parse_time(str(s["callRecord"]["startDateTime"])) for s in tenant.timeline
                     if s["action"] == "addCallRecord"})
    ticks: set[datetime] = set()
    for lesson in starts:
        tick = lesson.replace(minute=lesson.minute - lesson.minute % 15, second=0, microsecond=0)
        for back in range(4):
            moment = tick - timedelta(minutes=15 * back)
            if moment.weekday() < 5 and 6 <= moment.hour <= 18 and moment > lesson - timedelta(hours=1):
                ticks.add(moment)
    out += [Moment(t, 5, "preflight_timer") for t in sorted(ticks)]
    return [m for m in out if start < m.at <= end]


@dataclass
class Fortnight:
    """The local stack on Harbour's tenant, played on a simulated clock; ``run()`` plays it to the end."""

    tenant: Tenant
    sim: GraphSimulator
    clock: SimClock
    app: Any  # shared.runtime.Runtime
    runner: Any  # devtools.runner.LocalRunner
    log: list[str] = field(default_factory=list)
    snapshots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    digests: dict[str, Any] = field(default_factory=dict)
    gathers: list[str] = field(default_factory=list)
    timer_failures: list[str] = field(default_factory=list)  # a failed timer run; the next firing tries again

    def now(self) -> datetime:
        return self.clock()

    def moments(self, until: datetime = END) -> list[Moment]:
        steps = [Moment(due, 1, f"timeline {step['action']}") for due, _, step in self.sim.timeline_steps()]
        return sorted([m for m in steps if START < m.at <= until] + timer_moments(self.tenant, START, until))

    def findings(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.app.stores.findings.table.list_entities()]

    def meetings(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.app.stores.meetings.table.list_entities()]

    def run(self, *, until: datetime = END, snapshot_at: dict[str, datetime] | None = None,
            progress: Callable[[str], object] | None = None) -> None:
        """Play the fortnight: the first reconcile on Sunday evening, then every moment in time order. After the
        moment at or just before each ``snapshot_at`` time, the findings table is copied into ``snapshots``."""
        wanted = sorted((snapshot_at or {}).items(), key=lambda kv: kv[1])
        self.fire("subscriptions_timer")
        self.fire("reconcile_timer")
        self.runner.drain_all()
        for moment in self.moments(until):
            while wanted and wanted[0][1] < moment.at:
                self.snapshots[wanted.pop(0)[0]] = self.findings()
            self.step(moment)
            if progress is not None and moment.what == "reconcile_timer" and moment.at.hour == 0:
                progress(f"{moment.at.astimezone(LONDON):%a %d %b}: {len(self.findings())} findings")
        for name, _ in wanted:
            self.snapshots[name] = self.findings()

    def step(self, moment: Moment) -> None:
        deliveries = self.sim.set_now(moment.at)
        if moment.what == "digest_timer":
            self.fire(moment.what, lambda: self._digest(moment.at))
        elif not moment.what.startswith("timeline"):
            self.fire(moment.what)
        self.runner.drain_all()
        self.fire("pending_sweep_timer")
        self.runner.drain_all()
        self.log.append(f"{moment.at:%Y-%m-%d %H:%MZ} {moment.what}: {len(deliveries)} deliveries")

    def fire(self, timer: str, run: Callable[[], object] | None = None) -> None:
        """Run a timer function as the host would: a failed invocation is logged and the next firing tries again."""
        try:
            run() if run is not None else self.runner.fire(timer)
        except Exception as exc:
            self.timer_failures.append(f"{self.now():%Y-%m-%d %H:%MZ} {timer}: {type(exc).__name__}")

    def _digest(self, at: datetime) -> None:
        from functions.mail import digest_tick

        run = asyncio.run(digest_tick(at))
        if run is not None:
            self.digests[run.week] = run

    def render(self, out: Path, week: str = WEEKS[1]) -> Path:
        """The week's digest, as collected at the end of the run, written to ``out`` (the DSL's copy and the rest)."""
        from shared.digest.collect import MailContext, collect
        from shared.digest.render import write_digest_files

        ctx = MailContext.open(self.app.stores, self.app.settings, queues=self.app.queues, policy=self.app.policy)
        write_digest_files(out / "digest.html", collect(ctx, week, self.now()))
        return out / "digest.html"


def open_fortnight(azurite: Any, prefix: str, *, functions: Any = None, tenant: Tenant | None = None,
                   fault: Any = None) -> Iterator[Fortnight]:
    """The stack for one fortnight (a generator: close it to stop the simulator and the runner). ``functions``:
    the app's registered functions (``get_functions()`` may be called once per process: tests pass theirs).
    ``fault`` (``devtools.faultsweep.Fault``, armed by the caller): storage calls of the app go through a
    transport that fails the ones it names, Graph calls through a sender that loses the connection; the local
    host's own queue reads are not the app's calls, and it redelivers a failed message at once."""
    from devtools.localstack import graph_factory, group_ids
    from devtools.runner import LocalRunner
    from shared import runtime as runtime_module
    from shared.graph.directory import StaticConsent
    from shared.runtime import Runtime
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig

    tenant = tenant or fortnight()
    clock = SimClock(START)
    sim = GraphSimulator(tenant, clock=clock)
    sim.start()
    runner = None
    try:
        settings = load_settings({
            "VCAUDIT_TENANT_ID": tenant.tenant_id,
            "VCAUDIT_STAFF_GROUP_IDS": group_ids(tenant, "Harbour Staff"),
            "VCAUDIT_PUPIL_GROUP_IDS": group_ids(tenant, "Harbour Students"),
            "VCAUDIT_GRAPH_BASE_URL": sim.base_url,
            "VCAUDIT_WEBHOOK_BASE_URL": "http://127.0.0.1:1/api",  # replaced once the runner listens
            "VCAUDIT_MONITOR_PUPIL_MAILBOXES": "true",
            "VCAUDIT_POLICY_FILE": str(POLICY),
            "VCAUDIT_TIME_ZONE": "Europe/London",
            "VCAUDIT_DIGEST_SENDER": "vcaudit@harbour.sch.uk",
            "VCAUDIT_DIGEST_RECIPIENTS": "dsl:r.adeyemi@harbour.sch.uk",
        })
        storage = StorageConfig.from_connection_string(azurite.connection_string)
        host_queues = None
        sender = None
        if fault is not None:
            from devtools.faultsweep import FaultSender, FaultTransport
            from shared.store.queues import Queues

            host_queues = Queues(storage.queue_service(), create=True, prefix=prefix)
            storage = StorageConfig(connection_string=azurite.connection_string,
                                    options={"transport": FaultTransport(fault), "retry_total": 0})

            def sender(inner: Any) -> Any:
                return FaultSender(inner, fault)
        app = Runtime(settings, storage, prefix=prefix, consent=StaticConsent(frozenset(tenant.consent)))
        if functions is None:
            import function_app

            functions = function_app.app.get_functions()
        runner = LocalRunner(functions, host_queues or app.queues, keys=[FUNCTION_KEY])
        if fault is not None:
            runner.retry_delay = 0
        base = runner.start_http()
        app.settings = replace(settings, webhook_base_url=base + "/api", webhook_key=FUNCTION_KEY)
        value = Fortnight(tenant, sim, clock, app, runner)
        app.pipeline_options = {"graph_factory": graph_factory(sim, value.gathers, now=clock, sender=sender),
                                "coalesce_seconds": 0, "clock": lambda: clock().timestamp()}
        runtime_module.use(app)
        yield value
    finally:
        runtime_module.use(None)
        if runner is not None:
            runner.stop()
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="vcaudit's pipeline on a fortnight at Harbour Academy")
    parser.add_argument("--out", default=str(ROOT / "out" / "harbour"), help="where the second week's digest goes")
    args = parser.parse_args(argv)
    from devtools.azurite import Azurite, AzuriteNotInstalled

    started = time.monotonic()
    try:
        azurite = Azurite(ROOT / ".local" / "fortnight").start()
    except AzuriteNotInstalled as exc:
        sys.stdout.write(f"vcaudit fortnight: {exc}\n")
        return 2
    try:
        for run in open_fortnight(azurite, f"h{int(time.time())}"):
            sys.stdout.write("vcaudit fortnight: Harbour Academy, 23 March - 5 April 2026, on a moving clock\n")
            run.run(progress=lambda line: sys.stdout.write(f"  {line}\n"))
            path = run.render(Path(args.out))
            for week, digest in sorted(run.digests.items()):
                sys.stdout.write(f"  digest {week}: {', '.join(f'{d.role} {d.status}' for d in digest.deliveries)}\n")
            sys.stdout.write(f"  {len(run.log)} moments, {len(run.gathers)} evaluations; second week's digest: "
                             f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}\n")
            sys.stdout.write(f"Done in {time.monotonic() - started:.0f} s.\n")
    finally:
        azurite.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
