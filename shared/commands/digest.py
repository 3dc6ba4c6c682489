"""``vcaudit digest``: preview a week's digest, or send (resend) it.

``vcaudit digest --week 2026-W48 [--out FILE.html] [--send] [--connection-string CS]``

Storage comes from ``AzureWebJobsStorage`` (as the Function App's) or ``--connection-string``; the app settings
(``VCAUDIT_*``) from the environment. ``--out`` writes the DSL's copy (and ``FILE.txt``, ``findings.csv`` and
``FILE-summary.html`` for the other roles beside it). ``--send`` sends through Graph to every configured
recipient, *even one already sent to* (a person asked for it), and records each send in the digests table.
Without ``--out`` or ``--send`` it prints the plain-text digest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.commands.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, one_line
from shared.store.keys import WEEK


def register(commands: Any) -> None:
    cmd = commands.add_parser("digest", help="preview or send a week's digest",
                              description="Render a week's digest from the findings and the meeting log; "
                                          "--send sends it to the configured recipients.")
    cmd.add_argument("--week", required=True, metavar="YYYY-Www", help="ISO week, for example 2026-W48")
    cmd.add_argument("--out", metavar="FILE.html", help="write the DSL's copy (HTML) here, and its companions")
    cmd.add_argument("--send", action="store_true", help="send (or resend) it through Graph's sendMail")
    cmd.add_argument("--connection-string", metavar="CS",
                     help="storage connection string (default: the AzureWebJobsStorage setting)")
    cmd.set_defaults(handler=cmd_digest)


def _open(args: argparse.Namespace) -> Any:
    from shared.digest.collect import MailContext
    from shared.policy.deployed import deployed_policy
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig
    from shared.store.queues import Queues
    from shared.store.tables import open_stores

    settings = load_settings(os.environ)
    config = (StorageConfig.from_connection_string(args.connection_string) if args.connection_string
              else StorageConfig.from_env(os.environ)).for_command()
    stores = open_stores(config, create=True)
    return MailContext.open(stores, settings, queues=Queues(config.queue_service()),
                            policy=deployed_policy(settings.policy_file))


def _write(path: Path, digest: Any) -> list[Path]:
    from shared.digest.render import write_digest_files

    return write_digest_files(path, digest)[1]


async def _send(ctx: Any, week: str, now: datetime) -> int:
    from shared.digest.mail import GraphMailSender
    from shared.digest.scheduler import NotConfigured, send_digest
    from shared.graph.session import graph_transport

    if not ctx.settings.digest_sender or not ctx.settings.digest_recipients:
        sys.stderr.write("vcaudit: the digest needs VCAUDIT_DIGEST_SENDER and VCAUDIT_DIGEST_RECIPIENTS\n")
        return EXIT_BAD_INPUT
    async with graph_transport(ctx.settings.graph_base_url) as transport:
        ctx.mailer = GraphMailSender.over(transport)
        try:
            run = await send_digest(ctx, week, now, force=True)
        except NotConfigured as exc:
            sys.stderr.write(f"vcaudit: {exc}\n")
            return EXIT_BAD_INPUT
    status = EXIT_OK
    for delivery in run.deliveries:
        sys.stdout.write(f"{delivery.role:<9} {delivery.address}: {delivery.status} {delivery.detail}\n")
        if delivery.status != "sent":
            status = EXIT_FAILED
    return status


def cmd_digest(args: argparse.Namespace) -> int:
    if not WEEK.fullmatch(args.week):
        sys.stderr.write(f"vcaudit: --week: '{args.week}' is not an ISO week; expected for example 2026-W48\n")
        return EXIT_BAD_INPUT
    from azure.core.exceptions import AzureError

    try:
        ctx = _open(args)
    except ValueError as exc:  # SettingsError, StorageConfigError, PolicyError
        sys.stderr.write(f"vcaudit: {one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except AzureError as exc:
        first = str(getattr(exc, "message", None) or exc).splitlines()
        sys.stderr.write(f"vcaudit: storage could not be reached: {one_line(first[0][:300] if first else exc)}\n")
        return EXIT_FAILED
    from shared.digest.collect import collect
    from shared.digest.render import render_digest

    now = datetime.now(tz=UTC)
    try:
        digest = collect(ctx, args.week, now)
    except Exception as exc:
        sys.stderr.write(f"vcaudit: could not read the week's findings ({type(exc).__name__}: {one_line(exc)})\n")
        return EXIT_FAILED
    if args.out:
        for path in _write(Path(args.out), digest):
            sys.stdout.write(f"wrote {path}\n")
    if args.send:
        return asyncio.run(_send(ctx, args.week, now))
    if not args.out:
        sys.stdout.write(render_digest(digest, full=True, attach_csv=False).text)
    return EXIT_OK
