"""``vcaudit findings``, ``vcaudit meetings`` and ``vcaudit meeting ID``: query the findings table and the
meeting log with filters, as a table, CSV or JSON, paged through continuation tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.admin import query as q
from shared.admin import render
from shared.admin.annotate import find_meeting
from shared.admin.directory import load_directory, upn_resolver
from shared.admin.validate import limit as parse_limit
from shared.commands.adminargs import add_storage_options, now, open_from_args, register_handler
from shared.commands.common import EXIT_OK
from shared.records.exemptions import series_id_of


def _filters(parser: argparse.ArgumentParser, *, meetings: bool) -> None:
    f = parser.add_argument_group("filters (all optional; combined with and)")
    f.add_argument("--week", help="ISO week in the school's time zone, e.g. 2026-W47")
    f.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    f.add_argument("--to", dest="date_to", metavar="DATE", help="last day (inclusive), YYYY-MM-DD")
    f.add_argument("--organiser", help="the organiser's user id, UPN (with --directory) or display name")
    f.add_argument("--team", help="the class team's name")
    having = " (meetings with such a finding)" if meetings else ""
    f.add_argument("--rule", help="rule id, e.g. pupils-unsupervised" + having)
    f.add_argument("--severity", help="high, medium, low or advisory")
    f.add_argument("--status", help="open, acknowledged, accepted-risk, false-positive, resolved or exempt")
    f.add_argument("--subject", help="the person a finding is about: user id, address or name")
    if meetings:
        f.add_argument("--title", help="the meeting's subject line (exact)")
        f.add_argument("--in-scope", dest="in_scope", choices=("yes", "no"), help="with pupils (yes) or not (no)")
    parser.add_argument("--directory", metavar="USERS.json", help="users to look organiser UPNs up in")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default table)")
    parser.add_argument("--limit", metavar="N", help="stop after N rows and print a token to continue from")
    parser.add_argument("--continue", dest="continuation", metavar="TOKEN", help="continue where --limit stopped")
    add_storage_options(parser)


def register(commands: Any) -> None:
    p = commands.add_parser("findings", help="list findings, filtered",
                            description="List findings from the findings table. Filters are combined with and.")
    _filters(p, meetings=False)
    register_handler(p, cmd_findings)
    p = commands.add_parser("meetings", help="list the meeting log, filtered",
                            description="List meeting-log entries. The finding filters (rule, severity, status, "
                                        "subject) pick meetings that have such a finding.")
    _filters(p, meetings=True)
    register_handler(p, cmd_meetings)
    p = commands.add_parser("meeting", help="one meeting: its log entry and findings with their evidence")
    p.add_argument("id", metavar="ID", help="WEEK.OCCURRENCE as printed by vcaudit meetings (or the occurrence id)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_storage_options(p)
    register_handler(p, cmd_meeting)


def _raw(args: argparse.Namespace) -> dict[str, str | None]:
    return {"week": args.week, "from": args.date_from, "to": args.date_to, "rule": args.rule,
            "severity": args.severity, "status": args.status, "organiser": args.organiser, "team": args.team,
            "subject": args.subject, "title": getattr(args, "title", None), "in_scope": getattr(args, "in_scope", None)}


def _resolver(args: argparse.Namespace) -> Any:
    return upn_resolver(load_directory(args.directory, pupils_only=False)) if args.directory else None


def _pages(table: Any, query: q.Query, args: argparse.Namespace) -> Any:
    """Yield pages of entities: all of them, or up to --limit then a token on standard error."""
    wanted = parse_limit("limit", args.limit, default=0, maximum=1_000_000) if args.limit else None
    token = args.continuation
    q.decode_token(token)  # refuse a bad token before any output
    got = 0
    while True:
        size = min(q.MAX_PAGE, wanted - got) if wanted is not None else q.MAX_PAGE
        result = q.page(table, query, limit=size, continuation=token)
        got += len(result.items)
        yield result.items
        token = result.continuation
        if token is None:
            return
        if wanted is not None and got >= wanted:
            sys.stderr.write(f"vcaudit: more rows follow; continue with --continue {token}\n")
            return


def _emit(pages: Any, view: Any, args: argparse.Namespace, columns: tuple[str, ...], table_writer: Any,
          zone: Any) -> int:
    count = 0
    collected: list[dict[str, Any]] = []
    for batch in pages:
        rows = [view(r) for r in batch]
        if args.format == "json":
            collected.extend(rows)
        elif args.format == "csv":
            render.write_csv(rows, columns, sys.stdout, header=count == 0)
        else:
            table_writer(rows, zone, sys.stdout, header=count == 0)
        count += len(rows)
    if args.format == "json":
        render.write_json(collected, sys.stdout)
    elif args.format == "table":
        sys.stdout.write(f"{count} row(s)\n")
    return EXIT_OK


def cmd_findings(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    moment = now()
    query = q.FindingFilter.parse(_raw(args)).query(admin.zone, moment, _resolver(args))
    return _emit(_pages(admin.stores.findings.table, query, args),
                 lambda e: q.finding_view(e, moment, evidence=args.format == "json"), args,
                 render.FINDING_COLUMNS, render.findings_table, admin.zone)


def meetings_query(admin: Any, raw: dict[str, str | None], moment: Any, resolver: Any) -> q.Query:
    chosen = q.MeetingFilter.parse(raw)
    occurrences = None
    if chosen.findings.about_findings:
        fq = chosen.findings.query(admin.zone, moment, resolver)
        occurrences = {(str(e["PartitionKey"]), str(e.get("OccurrenceId", "")))
                       for e in q.every(admin.stores.findings.table, fq)}
    return chosen.query(admin.zone, moment, resolver, occurrences)


def cmd_meetings(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    query = meetings_query(admin, _raw(args), now(), _resolver(args))
    return _emit(_pages(admin.stores.meetings.table, query, args), q.meeting_view, args, render.MEETING_COLUMNS,
                 render.meetings_table, admin.zone)


def meeting_detail(admin: Any, ident: str, moment: Any) -> dict[str, Any]:
    entity = find_meeting(admin.stores.meetings.table, ident)
    week, occurrence = str(entity["PartitionKey"]), str(entity["RowKey"])
    rows = admin.stores.findings.table.query_entities(
        query_filter="PartitionKey eq @week and OccurrenceId eq @occurrence",
        parameters={"week": week, "occurrence": occurrence})
    findings = sorted((q.finding_view(dict(r), moment) for r in rows), key=lambda f: (f["severity"], f["rule"]))
    view = q.meeting_view(dict(entity))
    bundle = admin.stores.evidence.load(view["evidenceBlob"]) if view.get("evidenceBlob") else None
    view["series"] = series_id_of(bundle)
    view["evidenceKinds"] = sorted(k for k, v in (bundle or {}).items() if v and k != "directory")
    return {"meeting": view, "findings": findings}


def cmd_meeting(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    detail = meeting_detail(admin, args.id, now())
    if args.format == "json":
        render.write_json(detail, sys.stdout)
        return EXIT_OK
    m = detail["meeting"]
    out = sys.stdout
    out.write(f"{m['id']}  {m.get('subject') or '(no subject)'}\n")
    for label, key in (("start", "start"), ("end", "end"), ("organiser", "organiserName"), ("where", "where"),
                       ("stages", "stages"), ("staff", "staffCount"), ("pupils", "pupilCount"),
                       ("findings", "findingsCount"), ("compliant", "compliant"), ("series", "series"),
                       ("evidence", "evidenceKinds"), ("unavailable", "unavailable"), ("hold", "hold"),
                       ("notes", "note")):
        value = m.get(key)
        if value in (None, [], ""):
            continue
        out.write(f"  {label + ':':<12} {render._cell(value)}\n")
    for f in detail["findings"]:
        out.write(f"\n  {f['id']}  {f['severity']}  {f['rule']}  [{f['status']}]\n    {f['summary']}\n")
        if f.get("evidence") is not None:
            out.write(f"    evidence: {render._cell(f['evidence'])}\n")
        for a in f["annotations"]:
            until = f" until {a['until']}" if a.get("until") else ""
            out.write(f"    {a.get('at', '')[:16]}  {a.get('by', '')}: {a.get('status')}{until}: {a.get('comment')}\n")
    return EXIT_OK
