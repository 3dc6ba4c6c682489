"""``vcaudit evaluate``: evaluate evidence bundles against the policy and print the findings.

``vcaudit evaluate BUNDLE.json [BUNDLE.json …] [--policy FILE] [--format json|table]``. Errors are one line on
standard error naming the file and the problem; a bad bundle never stops the others and never prints a
traceback. Exit status 0 when every bundle was evaluated, 2 when any could not be.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import textwrap
from typing import Any, TextIO

from shared.commands.common import EXIT_BAD_INPUT, EXIT_OK, one_line
from shared.engine import Evaluation, evaluate_raw
from shared.evidence.reader import BundleError
from shared.policy.policyfile import Policy, PolicyError, load_policy


def register(commands: Any) -> None:
    ev = commands.add_parser("evaluate", help="evaluate evidence bundles and print the findings",
                             description="Evaluate evidence bundles (JSON) against the policy and print the "
                                         "findings. Exit 0 when every bundle was evaluated, 2 otherwise.")
    ev.add_argument("bundles", nargs="+", metavar="BUNDLE.json", help="evidence bundle files")
    ev.add_argument("--policy", metavar="POLICY_FILE", help="the school's policy file (TOML); default: built-in")
    ev.add_argument("--format", choices=("json", "table"), default="table", help="output format (default table)")
    ev.set_defaults(handler=cmd_evaluate)


MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # far above any real meeting's bundle; a bigger file is refused unread


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, not a bundle"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _read_bytes(path: str) -> bytes:
    """The file's bytes, only when it is a regular file of at most ``MAX_BUNDLE_BYTES``: opened without
    blocking (a FIFO never hangs the command) and checked on the open descriptor itself."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(_file_kind(info.st_mode))
        if info.st_size > MAX_BUNDLE_BYTES:
            raise BundleError(f"larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB; not read")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_BUNDLE_BYTES:  # grew while being read
                raise BundleError(f"larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB; not read")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_bundle(path: str) -> Any:
    try:
        return json.loads(_read_bytes(path).decode("utf-8"))
    except BundleError:
        raise
    except FileNotFoundError:
        raise BundleError("no such file") from None
    except IsADirectoryError:
        raise BundleError("is a directory, not a bundle") from None
    except PermissionError:
        raise BundleError("permission denied") from None
    except UnicodeDecodeError:
        raise BundleError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BundleError("JSON nested too deeply") from None
    except ValueError as exc:  # a number too long to read (Python's integer digit limit)
        raise BundleError(f"not valid JSON: {one_line(exc)[:120]}") from None
    except OSError as exc:
        raise BundleError(f"cannot be read ({exc.strerror})") from None


def _evaluate_file(path: str, policy: Policy) -> Evaluation:
    raw = _read_bundle(path)
    try:
        return evaluate_raw(raw, policy)
    except RecursionError:
        raise BundleError("JSON nested too deeply") from None


def _table(results: list[tuple[str, Evaluation]], out: TextIO) -> None:
    width = max(80, min(160, shutil.get_terminal_size((120, 20)).columns))
    for path, evaluation in results:
        scope = "in scope" if evaluation.in_scope else "out of scope (no pupils)"
        stages = ", ".join(evaluation.stages) or "no stage"
        out.write(f"{path}  [{scope}; evaluated: {stages}]\n")
        if not evaluation.findings:
            verdict = "compliant" if evaluation.compliant else "no findings"
            out.write(f"  {verdict}\n\n")
            continue
        name_w = min(24, max(3, *(len(_name(f.subject_name, f.subject)) for f in evaluation.findings)))
        rule_w = max(len(f.rule) for f in evaluation.findings)
        head = f"  {'SEVERITY':<8}  {'RULE':<{rule_w}}  {'WHO':<{name_w}}  "
        out.write(head + "SUMMARY\n")
        summary_w = max(30, width - len(head))
        for f in evaluation.findings:
            lines = textwrap.wrap(f.summary, summary_w) or [""]
            who = _name(f.subject_name, f.subject)[:name_w]
            out.write(f"  {f.severity:<8}  {f.rule:<{rule_w}}  {who:<{name_w}}  {lines[0]}\n")
            for line in lines[1:]:
                out.write(" " * len(head) + line + "\n")
        out.write("\n")


def _name(name: str | None, subject: str | None) -> str:
    return name or subject or "-"


def cmd_evaluate(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        sys.stderr.write(f"vcaudit: {one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    status = EXIT_OK
    results: list[tuple[str, Evaluation]] = []
    for path in args.bundles:
        try:
            results.append((path, _evaluate_file(path, policy)))
        except BundleError as exc:
            sys.stderr.write(f"vcaudit: {path}: {one_line(str(exc))}\n")
            status = EXIT_BAD_INPUT
        except Exception as exc:
            sys.stderr.write(f"vcaudit: {path}: could not be evaluated ({type(exc).__name__}); please report "
                             "this bundle\n")
            status = EXIT_BAD_INPUT
    if args.format == "json":
        findings = [{"bundle": path, **f.to_json()} for path, ev in results for f in ev.findings]
        json.dump(findings, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _table(results, sys.stdout)
        total = sum(len(ev.findings) for _, ev in results)
        sys.stdout.write(f"{len(results)} bundle(s) evaluated, {total} finding(s)\n")
    return status
