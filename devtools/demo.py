"""The whole pipeline on the local stack, on a simulated primary school: ``make demo``.

Azurite and the Graph simulator start; a local runner serves the app's registered functions over HTTP; the
subscriptions are created (Graph's validation handshake goes over HTTP to the webhook); the simulator plays a
school week — every lesson's calendar event and call records, with the violations a real week has — as
change notifications over HTTP; the queue workers coalesce, gather through the Graph gateway, evaluate and
write findings and the meeting log to Azurite; finally the week's digest is rendered to ``out/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEEK_START = date(2026, 3, 9)  # the simulated week, Monday 9 to Friday 13 March 2026
AFTER_WEEK = datetime(2026, 3, 16, 7, 5, tzinfo=UTC)  # Monday 07:05: when the digest goes out
SEVERITY_ORDER = ("high", "medium", "low", "advisory")
DATA = ROOT / ".local" / "demo"  # the demo's Azurite data and settings (ignored by git), opened by make serve
SERVE_PORT = 7071  # make serve's address, which the demo's digest links to
SERVE_URL = f"http://127.0.0.1:{SERVE_PORT}/api/desk"


def bar(done: int, total: int, width: int = 28) -> str:
    filled = round(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


def say(text: str = "", end: str = "\n") -> None:
    sys.stdout.write(text + end)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="vcaudit's pipeline on a simulated school week")
    parser.add_argument("--out", default=str(ROOT / "out"), help="where the digest is written (default out/)")
    parser.add_argument("--seed", type=int, default=1, help="the simulated school (default 1)")
    parser.add_argument("--no-prevent", action="store_true",
                        help="skip the Sunday-evening pass (nudges to teachers, enforce on chat and microphones)")
    args = parser.parse_args(argv)
    started = time.monotonic()

    import function_app
    from devtools.azurite import Azurite, AzuriteNotInstalled
    from devtools.graphsim import GraphSimulator, generate
    from devtools.localstack import graph_factory, group_ids
    from devtools.runner import LocalRunner
    from shared import runtime as runtime_module
    from shared.digest.collect import MailContext, collect
    from shared.digest.render import write_digest_files
    from shared.graph.directory import StaticConsent
    from shared.runtime import Runtime
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig

    say("vcaudit demo: one week at a simulated primary school, through the whole pipeline")
    tenant = generate.primary_school(seed=args.seed, week_start=WEEK_START)
    staff = group_ids(tenant, "All Staff")
    pupils = group_ids(tenant, "All Pupils")
    say(f"  school: {len(tenant.users)} accounts, {len(tenant.teams)} class teams, "
        f"{len(tenant.occurrences)} meetings in the week of {WEEK_START:%d %B %Y}")
    import json
    import shutil

    DATA.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(DATA / "azurite", ignore_errors=True)  # a fresh week each time; kept afterwards for make serve
    try:
        azurite = Azurite(DATA / "azurite").start()
    except AzuriteNotInstalled as exc:
        say(f"vcaudit demo: {exc}")
        return 2
    sim = GraphSimulator(tenant)
    sim.start()
    functions = function_app.app.get_functions()
    try:
        env = {
            "VCAUDIT_TENANT_ID": tenant.tenant_id, "VCAUDIT_STAFF_GROUP_IDS": staff,
            "VCAUDIT_PUPIL_GROUP_IDS": pupils, "VCAUDIT_CLASS_TEAM_IDS": ",".join(tenant.teams),
            "VCAUDIT_MONITOR_PUPIL_MAILBOXES": "false", "VCAUDIT_DIGEST_SENDER": "vcaudit@elmgrove.sch.uk",
            "VCAUDIT_DIGEST_RECIPIENTS": "dsl:dsl@elmgrove.sch.uk;governor:governors@elmgrove.sch.uk",
        }
        (DATA / "demo.json").write_text(json.dumps({"seed": args.seed, "prefix": "demo", "settings": env,
                                                    "week_start": WEEK_START.isoformat()}, indent=1),
                                        encoding="utf-8")
        settings = load_settings({**env, "VCAUDIT_GRAPH_BASE_URL": sim.base_url})
        gathers: list[str] = []
        app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix="demo",
                      consent=StaticConsent(frozenset(tenant.consent)))
        runner = LocalRunner(functions, app.queues, keys=["demo-function-key-0123456789"])
        base = runner.start_http()
        app.settings = replace(settings, webhook_base_url=base + "/api", webhook_key="demo-function-key-0123456789",
                               web_base_url=SERVE_URL)
        app.pipeline_options = {"graph_factory": graph_factory(sim, gathers), "coalesce_seconds": 0,
                                "clock": AFTER_WEEK.timestamp, "on_new_findings": lambda ids: None}
        runtime_module.use(app)
        say(f"  local stack: Azurite on 127.0.0.1:{azurite.table_port}, Graph simulator at {sim.base_url}, "
            f"functions at {base}/api")

        say("  subscriptions: ", end="")
        report = app.pipeline.ensure_subscriptions()
        say(f"{len(report.created)} created, each confirmed by Graph's validation handshake over HTTP"
            + (f"; {len(report.failed)} failed" if report.failed else ""))

        if not args.no_prevent:
            before_the_week(app, sim, tenant, gathers, runner)

        days = sorted({occ["start"][:10] for occ in tenant.occurrences})
        delivered = 0
        for day in days:
            occs = [o for o in tenant.occurrences if o["start"][:10] == day]
            for index, occ in enumerate(occs, 1):
                if occ["eventId"]:
                    delivered += len(sim.notify_event(occ["mailbox"], occ["eventId"]))
                for record in occ["callRecordIds"]:
                    delivered += len(sim.notify_call_record(record, change_type="created"))
                    delivered += len(sim.notify_call_record(record, change_type="updated"))
                if sys.stdout.isatty() and (index % 4 == 0 or index == len(occs)):
                    say(f"\r  {datetime.fromisoformat(day):%a %d %b}: notifications {bar(index, len(occs))} "
                        f"{index}/{len(occs)} meetings", end="")
            runner.drain_all()
            rows = list(app.stores.findings.table.list_entities())
            say(f"\r  {datetime.fromisoformat(day):%a %d %b}: {len(occs):3d} meetings notified and evaluated, "
                f"{len(rows)} findings so far" + " " * 20)
        say(f"  {delivered} webhook deliveries coalesced into {len(gathers)} evaluations (each meeting at its "
            f"scheduled and held stages); {len(runner.failures)} worker failures")

        findings = [r for r in app.stores.findings.table.list_entities() if r.get("MachineState") == "open"]
        meetings = list(app.stores.meetings.table.list_entities())
        in_scope = [m for m in meetings if m.get("InScope")]
        compliant = [m for m in in_scope if m.get("Compliant")]
        say("")
        say(f"Meetings logged: {len(meetings)} ({len(in_scope)} with pupils; {len(compliant)} fully compliant, "
            f"{100 * len(compliant) // max(1, len(in_scope))}%)")
        say(f"Findings: {len(findings)}")
        by_rule = Counter((r["Severity"], r["Rule"]) for r in findings)
        width = max((len(rule) for _, rule in by_rule), default=10)
        say(f"  {'SEVERITY':<9} {'RULE':<{width}}  COUNT")
        for (severity, rule), count in sorted(by_rule.items(), key=lambda kv: (SEVERITY_ORDER.index(kv[0][0]),
                                                                                 kv[0][1])):
            say(f"  {severity:<9} {rule:<{width}}  {count:5d}")
        concerns = [r for r in findings if r["Severity"] == "high"]
        if concerns:
            say("\nSafeguarding concerns (first five):")
            for row in sorted(concerns, key=lambda r: r["Start"])[:5]:
                when = row["Start"].astimezone(settings.zone)
                say(f"  {when:%a %d %b %H:%M}  {row['Rule']:<28} {row['Summary'][:96]}")

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        week = f"{WEEK_START.isocalendar().year}-W{WEEK_START.isocalendar().week:02d}"
        ctx = MailContext.open(app.stores, app.settings, queues=app.queues, policy=app.policy)
        digest = collect(ctx, week, AFTER_WEEK + timedelta(minutes=1))
        full, _ = write_digest_files(out / "digest.html", digest)
        say(f"\nDigest for {week}: {full.subject}")
        p = digest.prevention
        say(f"  before the lesson: {p.nudges_sent} nudges sent; lessons put right by the teacher "
            f"{p.fixed_by_teacher}, by vcaudit {p.fixed_by_vcaudit}; started against the policy anyway "
            f"{p.started_non_compliant}")
        say(f"  setting findings prevented: {p.prevented_findings}; reported: {p.reported_findings}")
        say(f"  written to {out / 'digest.html'} (the DSL's copy), digest.txt, digest-summary.html (no pupils' "
            "names), findings.csv")
        say(f"The week's data stays in {DATA.relative_to(ROOT)}/: `make serve` opens it on the DSL's desk.")
        say(f"Done in {time.monotonic() - started:.0f} s.")
        return 0
    finally:
        runtime_module.use(None)
        sim.stop()
        azurite.close()


SUNDAY_EVENING = datetime(2026, 3, 8, 18, 0, tzinfo=UTC)  # the week's lessons are scheduled; none has begun
DEMO_ENFORCE = ("allowMeetingChat", "allowAttendeeToEnableMic")


def before_the_week(app: Any, sim: Any, tenant: Any, gathers: list[str], runner: Any) -> None:
    """Sunday evening: every lesson's calendar event is evaluated before it begins, with nudges on and enforce on
    for chat and microphones; then every other nudged teacher puts their lesson's options right."""
    from devtools.localstack import graph_factory
    from shared.evidence.times import parse_instant
    from shared.policy.prevent import PreventPolicy
    from shared.runtime import Pipeline

    policy = replace(app.policy, prevent=PreventPolicy(enforce=DEMO_ENFORCE, enforce_mode="on"))
    app.settings = replace(app.settings, enforce_allowed=True)
    sender = next(u for u in tenant.users.values() if u.get("userType") != "Guest")
    app.settings = replace(app.settings, digest_sender=sender["userPrincipalName"])
    saved = dict(app.pipeline_options)
    moment = [SUNDAY_EVENING.timestamp()]
    options = {**saved, "graph_factory": graph_factory(sim, gathers, now=SUNDAY_EVENING),
               "clock": lambda: moment[0], "policy": policy}
    pipeline = Pipeline.build(app, **options)
    events = [o for o in tenant.occurrences if o["eventId"]]
    for occ in events:
        pipeline.evaluator.evaluate({"kind": "event", "mailbox": occ["mailbox"], "eventId": occ["eventId"]})
    nudged = [m for m in sim.sent_mail if str(m.message.get("subject", "")).startswith("Before your lesson")]
    changed = [m for m in sim.sent_mail if "options were changed" in str(m.message.get("subject", ""))]
    say(f"  Sunday 8 March, 18:00: {len(events)} scheduled lessons checked; {len(nudged)} nudges to teachers, "
        f"{len(sim.meeting_updates)} meetings' options put right by vcaudit ({len(changed)} teachers told)")
    # every other nudged lesson: its teacher puts right every option the nudge asked for
    from markupsafe import escape

    bodies = " ".join(str(m.message["body"]["content"]) for m in nudged)
    fixed = 0
    for index, occ in enumerate(o for o in events if o["meetingId"]):
        found = tenant.meeting(occ["meetingId"])
        if found is None or str(escape(found[1].get("joinWebUrl") or "-")) not in bodies:
            continue
        if index % 2:
            continue
        found[1].update(allowMeetingChat="disabled", allowedPresenters="organizer", allowAttendeeToEnableMic=False,
                        recordAutomatically=False, allowRecording=False, allowTranscription=False,
                        lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": False})
        fixed += 1
        moment[0] = parse_instant(occ["start"]) - 1800  # preflight, half an hour before the lesson
        pipeline.evaluator.evaluate({"kind": "event", "mailbox": occ["mailbox"], "eventId": occ["eventId"]})
    say(f"  teachers put right the options of {fixed} nudged lessons before they began "
        "(seen by preflight half an hour before each)")
    app.settings = replace(app.settings, enforce_allowed=False)
    app.pipeline_options = saved


if __name__ == "__main__":
    sys.exit(main())
