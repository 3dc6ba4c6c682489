"""``vcaudit hold|release finding|meeting ID``, ``vcaudit subject-access PUPIL_ID --out FILE.json`` and
``vcaudit erase PUPIL_ID``: safeguarding records and data rights, each action audited."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from shared.admin.validate import InvalidInput, pupil_id
from shared.commands.adminargs import add_by_option, add_storage_options, now, open_from_args, register_handler, who
from shared.commands.common import EXIT_BAD_INPUT, EXIT_OK
from shared.records import retention as records


def register(commands: Any) -> None:
    for name, text in (("hold", "put a finding or a meeting on hold: retention and erasure leave it"),
                       ("release", "take a finding or a meeting off hold")):
        p = commands.add_parser(name, help=text)
        p.add_argument("kind", choices=("finding", "meeting"))
        p.add_argument("id", metavar="ID")
        p.add_argument("--reason", required=True)
        add_by_option(p)
        add_storage_options(p)
        register_handler(p, cmd_hold if name == "hold" else cmd_release)
    p = commands.add_parser("subject-access", help="export everything held about one pupil (JSON)")
    p.add_argument("pupil", metavar="PUPIL_ID", help="the pupil's user id")
    p.add_argument("--out", required=True, metavar="FILE.json", help="where to write it (not overwritten)")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_subject_access)
    p = commands.add_parser("erase", help="erase one pupil's data where no hold applies")
    p.add_argument("pupil", metavar="PUPIL_ID", help="the pupil's user id")
    p.add_argument("--reason", required=True, help="e.g. the erasure request's reference")
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    add_by_option(p)
    add_storage_options(p)
    register_handler(p, cmd_erase)


def cmd_hold(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    records.hold(admin.stores, admin.audit, args.kind, args.id, reason=args.reason, by=who(args), now=now())
    sys.stdout.write(f"{args.kind} {args.id.strip()}: on hold\n")
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    admin = open_from_args(args)
    records.release(admin.stores, admin.audit, args.kind, args.id, reason=args.reason, by=who(args), now=now())
    sys.stdout.write(f"{args.kind} {args.id.strip()}: released\n")
    return EXIT_OK


def cmd_subject_access(args: argparse.Namespace) -> int:
    pupil_id(args.pupil)
    if os.path.exists(args.out):
        raise InvalidInput(f"{args.out}: exists; choose a new file")
    admin = open_from_args(args)
    export = records.subject_access(admin.stores, admin.exemptions, admin.consent, admin.audit, args.pupil,
                                    by=who(args), now=now())
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(export, handle, indent=1, ensure_ascii=False, default=str)
    except OSError as exc:
        raise InvalidInput(f"{args.out}: cannot be written ({exc.strerror})") from None
    sys.stdout.write(f"{args.out}: {len(export['findings'])} finding(s), {len(export['meetings'])} meeting(s), "
                     f"{sum(len(v) for v in export['consent'].values())} consent record(s)\n")
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    pupil_id(args.pupil)
    if not args.yes:
        sys.stderr.write("vcaudit: erase cannot be undone; run again with --yes\n")
        return EXIT_BAD_INPUT
    admin = open_from_args(args)
    report = records.erase(admin.stores, admin.exemptions, admin.consent, admin.audit, args.pupil, by=who(args),
                           now=now(), reason=args.reason)
    for key, value in asdict(report).items():
        if key != "kept_on_hold":
            sys.stdout.write(f"{key.replace('_', ' ')}: {value}\n")
    for item in report.kept_on_hold:
        sys.stdout.write(f"kept (on hold): {item}\n")
    return EXIT_OK
