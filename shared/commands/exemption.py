"""``vcaudit exemption add|list|remove``: standing exemptions, scoped by rule and by series, organiser, pupil
or external identity, with reason, approver and expiry."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.admin import render
from shared.admin.validate import InvalidInput, day
from shared.commands.adminargs import add_by_option, add_storage_options, now, open_from_args, register_handler, who
from shared.commands.common import EXIT_OK
from shared.records.exemptions import SCOPES


def register(commands: Any) -> None:
    top = commands.add_parser("exemption", help="standing exemptions (add, list, remove)")
    sub = top.add_subparsers(dest="exemption_command", metavar="ACTION", required=True,
                             parser_class=type(top))
    p = sub.add_parser("add", help="add an exemption",
                       description="Findings of RULE within the scope are still stored, marked exempt, and "
                                   "counted apart in the digest, until the end of --expires.")
    p.add_argument("--rule", required=True)
    scope = p.add_mutually_exclusive_group(required=True)
    for name, text in (("series", "a meeting series (as printed by vcaudit meeting ID)"),
                       ("organiser", "an organiser's user id"), ("pupil", "a pupil's user id"),
                       ("external", "a guest's email address")):
        scope.add_argument(f"--{name}", help=text)
    p.add_argument("--reason", required=True)
    p.add_argument("--approver", required=True, help="who approved it (e.g. the DSL)")
    p.add_argument("--expires", required=True, metavar="DATE", help="last day it applies (YYYY-MM-DD)")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_add)
    p = sub.add_parser("list", help="list exemptions in force (--all: expired and removed too)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_storage_options(p)
    register_handler(p, cmd_list)
    p = sub.add_parser("remove", help="end an exemption now (it stays on record)")
    p.add_argument("id", metavar="EXEMPTION_ID")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_remove)


def cmd_add(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    kind = next(name for name in SCOPES if getattr(args, name, None))
    expires = day("expires", args.expires)
    if expires is None:
        raise InvalidInput("expires: required")
    exemption = admin.exemptions.add(rule=args.rule, scope=kind, value=getattr(args, kind), reason=args.reason,
                                     approver=args.approver, expires=expires, by=who(args), now=now(),
                                     zone=admin.zone)
    sys.stdout.write(f"{exemption.id}: {exemption.rule} exempt for {exemption.scope} {exemption.value} "
                     f"until the end of {exemption.expires}\n")
    return EXIT_OK


COLUMNS = ("id", "rule", "scope", "value", "expires", "approver", "reason", "createdBy", "createdAt", "removedAt")


def cmd_list(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    moment = now()
    chosen = admin.exemptions.all() if args.all else admin.exemptions.active(moment)
    rows = [{**e.to_json(), "active": e.active(moment)} for e in chosen]
    if args.format == "json":
        render.write_json(rows, sys.stdout)
    elif args.format == "csv":
        render.write_csv(rows, COLUMNS, sys.stdout)
    else:
        for r in rows:
            state = "" if r["active"] else ("  (removed)" if r["removedAt"] else "  (expired)")
            sys.stdout.write(f"{r['id']}  {r['rule']:<27}  {r['scope']:<9}  {r['value']:<40}  until {r['expires']}  "
                             f"approved by {r['approver']}: {r['reason']}{state}\n")
        sys.stdout.write(f"{len(rows)} exemption(s)\n")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    exemption = admin.exemptions.remove(args.id, by=who(args), now=now())
    sys.stdout.write(f"{exemption.id}: removed\n")
    return EXIT_OK
