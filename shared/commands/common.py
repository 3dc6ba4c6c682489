"""What every subcommand shares: exit codes and one-line errors."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def one_line(text: object) -> str:
    """An error message on one line, whatever the exception put in it."""
    return " ".join(str(text).split())
