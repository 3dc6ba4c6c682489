"""``vcaudit consent import FILE.csv | list | revoke PUPIL | imports``: the consent register."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from shared.admin import render
from shared.admin.directory import Pupil, graph_pupils, load_directory
from shared.admin.validate import InvalidInput
from shared.commands.adminargs import add_by_option, add_storage_options, now, open_from_args, register_handler, who
from shared.commands.common import EXIT_BAD_INPUT, EXIT_OK, one_line
from shared.records.consent import Columns, ImportRefused, plan_import


def register(commands: Any) -> None:
    top = commands.add_parser("consent", help="the consent register (import, list, revoke, imports)")
    sub = top.add_subparsers(dest="consent_command", metavar="ACTION", required=True, parser_class=type(top))
    p = sub.add_parser("import", help="import the consent-form export (CSV); all or nothing",
                       description="Read a Google Forms CSV export (timestamp, pupil name or email, parent name, "
                                   "yes/no), match each pupil to exactly one directory pupil, and make it the "
                                   "register. Any malformed, unmatched or ambiguous row: nothing is imported.")
    p.add_argument("file", metavar="FILE.csv")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--directory", metavar="USERS.json", help="the pupils, as JSON (a list of Graph users)")
    source.add_argument("--graph", action="store_true",
                        help="read the pupils from Graph (VCAUDIT_PUPIL_GROUP_IDS, VCAUDIT_GRAPH_BASE_URL)")
    defaults = Columns()
    p.add_argument("--timestamp-column", default=defaults.timestamp, metavar="NAME")
    p.add_argument("--pupil-column", default=defaults.pupil, metavar="NAME")
    p.add_argument("--parent-column", default=defaults.parent, metavar="NAME")
    p.add_argument("--answer-column", default=defaults.answer, metavar="NAME")
    p.add_argument("--date-order", choices=("dmy", "mdy"), default="dmy",
                   help="how the form's dates read: 03/09/2026 is 3 September (dmy, default) or March 9 (mdy)")
    p.add_argument("--skip-unmatched", action="store_true",
                   help="leave unmatched and ambiguous rows out (reported) instead of refusing the import")
    p.add_argument("--confirm-removals", action="store_true",
                   help="import even though it takes away more than a tenth of the current consents (or all)")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_import)
    p = sub.add_parser("list", help="the active register")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_storage_options(p)
    register_handler(p, cmd_list)
    p = sub.add_parser("revoke", help="withdraw a pupil's consent (a new register version)")
    p.add_argument("pupil", metavar="PUPIL", help="the pupil's user id or UPN")
    p.add_argument("--reason", required=True)
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_revoke)
    p = sub.add_parser("imports", help="every import: who, when, counts")
    add_storage_options(p)
    register_handler(p, cmd_imports)


def _pupils(args: argparse.Namespace) -> list[Pupil]:
    if args.directory:
        return load_directory(args.directory)
    import os

    from shared.graph.session import graph_transport
    from shared.settings import load_settings

    settings = load_settings(os.environ)
    if not settings.pupil_group_ids:
        raise InvalidInput("--graph: VCAUDIT_PUPIL_GROUP_IDS is not set")

    async def read() -> list[Pupil]:
        async with graph_transport(settings.graph_base_url) as transport:
            return await graph_pupils(transport, settings.pupil_group_ids)

    return asyncio.run(read())


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text (export the form as CSV)") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None


def cmd_import(args: argparse.Namespace) -> int:
    text = _read(args.file)
    pupils = _pupils(args)
    admin = open_from_args(args)
    columns = Columns(args.timestamp_column, args.pupil_column, args.parent_column, args.answer_column)
    try:
        plan = plan_import(text, pupils, admin.zone, columns=columns, date_order=args.date_order)
    except InvalidInput as exc:
        raise InvalidInput(f"{args.file}: {exc}") from None
    try:
        result = admin.consent.import_plan(plan, source=args.file, by=who(args), now=now(),
                                           skip_unmatched=args.skip_unmatched,
                                           confirm_removals=args.confirm_removals)
    except ImportRefused as refused:
        for problem in refused.problems:
            sys.stderr.write(f"vcaudit: {args.file}: {one_line(problem)}\n")
        sys.stderr.write(f"vcaudit: {one_line(refused)}\n")
        return EXIT_BAD_INPUT
    for note in result.notes:
        sys.stdout.write(f"{args.file}: {note}\n")
    for problem in plan.problems:
        sys.stdout.write(f"{args.file}: skipped {problem}\n")
    sys.stdout.write(f"{args.file}: imported {result.rows} row(s) as register {result.version}: "
                     f"{result.consented} consented, {result.refused} refused, {result.duplicates} duplicate(s), "
                     f"{result.skipped} skipped\n")
    return EXIT_OK


LIST_COLUMNS = ("pupil", "name", "upn", "consent", "parent", "answeredAt", "source")


def cmd_list(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    rows = [{"pupil": r["RowKey"], "name": r.get("PupilName", ""), "upn": r.get("Upn", ""),
             "consent": bool(r.get("Consent")), "parent": r.get("Parent", ""),
             "answeredAt": r["AnsweredAt"].isoformat() if r.get("AnsweredAt") else None,
             "source": r.get("Source", "")} for r in admin.consent.entries()]
    if args.format == "json":
        render.write_json(rows, sys.stdout)
    elif args.format == "csv":
        render.write_csv(rows, LIST_COLUMNS, sys.stdout)
    else:
        for r in rows:
            sys.stdout.write(f"{r['pupil']}  {'yes' if r['consent'] else 'no ':<3}  {r['name']:<28}  {r['upn']:<36}  "
                             f"{r['parent']}\n")
        version = admin.consent.active_version() or "none"
        sys.stdout.write(f"{sum(r['consent'] for r in rows)} of {len(rows)} pupil(s) consented "
                         f"(register {version})\n")
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    row = admin.consent.revoke(args.pupil, reason=args.reason, by=who(args), now=now())
    sys.stdout.write(f"{row['RowKey']}: consent revoked\n")
    return EXIT_OK


def cmd_imports(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    for r in admin.consent.imports():
        sys.stdout.write(f"{r['RowKey']}  {r['At']:%Y-%m-%d %H:%M}  by {r.get('By')}  {r.get('Source')}: "
                         f"{r.get('Rows')} rows, {r.get('Consented')} consented, {r.get('Refused')} refused, "
                         f"{r.get('Duplicates')} duplicates, {r.get('Skipped')} skipped\n")
    return EXIT_OK
