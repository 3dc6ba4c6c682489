"""What the azd hook scripts share: running a command and keeping what it printed. Standard library only (the
hooks run on the operator's machine, outside vcaudit's virtual environment); imported from beside them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str]], Result]


def run(argv: Sequence[str]) -> Result:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    return Result(done.returncode, done.stdout, done.stderr)
