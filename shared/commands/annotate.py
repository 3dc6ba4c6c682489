"""``vcaudit annotate FINDING_ID --status … --comment …`` and ``vcaudit note MEETING_ID TEXT``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.admin.annotate import add_note, annotate
from shared.admin.query import PEOPLE_STATUSES
from shared.admin.validate import day
from shared.commands.adminargs import add_by_option, add_storage_options, now, open_from_args, register_handler, who
from shared.commands.common import EXIT_OK


def register(commands: Any) -> None:
    p = commands.add_parser("annotate", help="set a finding's status with a comment (history kept)",
                            description="Record a person's word on a finding: who, when, why. An accepted risk "
                                        "needs --until and lapses after that date.")
    p.add_argument("finding", metavar="FINDING_ID", help="WEEK.ROWKEY as printed by vcaudit findings")
    p.add_argument("--status", required=True, choices=PEOPLE_STATUSES)
    p.add_argument("--comment", required=True, help="why")
    p.add_argument("--until", metavar="DATE", help="accepted risk: the last day it holds (YYYY-MM-DD)")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_annotate)
    p = commands.add_parser("note", help="add a teacher's note to a meeting-log entry (policy S12)")
    p.add_argument("meeting", metavar="MEETING_ID", help="WEEK.OCCURRENCE as printed by vcaudit meetings")
    p.add_argument("text", metavar="TEXT", help="what went wrong, in the teacher's words")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_note)


def cmd_annotate(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    until = day("until", args.until)
    annotate(admin.stores.findings.table, admin.audit, args.finding, status=args.status, comment=args.comment,
             by=who(args), now=now(), zone=admin.zone, until=until)
    sys.stdout.write(f"{args.finding.strip()}: {args.status}" + (f" until {until}" if until else "") + "\n")
    return EXIT_OK


def cmd_note(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    entity = add_note(admin.stores.meetings.table, admin.audit, args.meeting, text=args.text, by=who(args), now=now())
    sys.stdout.write(f"{entity['PartitionKey']}.{entity['RowKey']}: note added\n")
    return EXIT_OK
