"""The ``vcaudit`` command: a dispatcher over the subcommands in ``shared/commands/``.

Every error a user can cause is one line on standard error and exit status 2; no traceback reaches them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from shared.commands import annotate, consent, digest, evaluate, exemption, findings, records
from shared.commands.common import EXIT_BAD_INPUT

SUBCOMMANDS = (evaluate, findings, annotate, exemption, consent, records, digest)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"vcaudit: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vcaudit", description="Audit Teams meetings with pupils against the school's "
                                                 "video-conferencing policy.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in SUBCOMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    status: int = handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
