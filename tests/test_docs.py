"""The project's contracts live in the repository: every citation of them points at a file under `docs/`, and no
tracked file names a path on one machine or a folder outside the checkout as documentation."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("rules", "graph-facts", "evidence-bundle")
# Documents that exist only outside the repository: citing them points a reader nowhere.
ABSENT = ("design.md", "clauses.md", "style.md")
ABSOLUTE = re.compile(r"(?<![\w.~-])/(?:work|home|root|tmp|Users)/[\w.-]")
OUTSIDE = re.compile(r"\.\./shared\b(/[\w./-]*)?")
CITATION = re.compile(r"(?<![\w-])((?:[\w.-]+/)*)(" + "|".join(CONTRACTS) + r")\.md")
ABSENT_CITED = re.compile(r"(?<![\w-])(" + "|".join(re.escape(name) for name in ABSENT) + ")")


def tracked() -> list[Path]:
    """The files git tracks, and those it would add (untracked, not ignored)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in out.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and path != Path(__file__).resolve():  # this file spells what it looks for
            files.append(path)
    return files


@functools.cache
def texts() -> tuple[tuple[Path, str], ...]:
    """Every text file git tracks or would add, read once per session."""
    out = []
    for path in tracked():
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue
        try:
            out.append((path, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return tuple(out)


def outside_allowed(path: Path, target: str) -> bool:
    """Tests may read the example scenarios beside the checkout; `make scenarios` runs their checker."""
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("tests/") and target.startswith("/scenarios"):
        return True
    return rel == "Makefile" and target.startswith("/tools/check-scenarios")


def test_no_absolute_paths_or_folders_outside_the_checkout() -> None:
    problems = []
    for path, text in texts():
        if not ABSOLUTE.search(text) and "../shared" not in text:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if ABSOLUTE.search(line):
                problems.append(f"{rel}:{number}: absolute path: {line.strip()}")
            for match in OUTSIDE.finditer(line):
                if not outside_allowed(path, match.group(1) or ""):
                    problems.append(f"{rel}:{number}: cites ../shared: {line.strip()}")
    assert problems == []


def test_citations_of_the_contracts_point_at_docs() -> None:
    problems = []
    for path, text in texts():
        if ".md" not in text and "§" not in text:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            for match in CITATION.finditer(line):
                cited = match.group(1) + match.group(2) + ".md"
                from_root = cited.startswith("docs/") and (ROOT / cited).is_file()
                relative = path.suffix == ".md" and (path.parent / cited).is_file()
                if not (from_root or relative):
                    problems.append(f"{rel}:{number}: {cited} is not a file under docs/")
            for absent in ABSENT_CITED.finditer(line):
                problems.append(f"{rel}:{number}: cites {absent.group(1)}, which is not in the repository")
            if not rel.startswith("docs/") and "§" in line and "docs/" not in line:
                problems.append(f"{rel}:{number}: a section (§) cited without its document under docs/")
    assert problems == []


def test_the_contracts_exist_and_cite_learn() -> None:
    for name in CONTRACTS:
        assert (ROOT / "docs" / f"{name}.md").is_file(), name
    facts = (ROOT / "docs" / "graph-facts.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (\d+)\.", facts, flags=re.M)
    assert sections[:3] == ["0", "1", "2"]
    assert facts.count("https://learn.microsoft.com/") >= 20


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The patterns catch what they are for, and pass what they allow."""
    assert ABSOLUTE.search("see ``" + "/" + "work/shared/evidence-bundle.md``")
    assert not ABSOLUTE.search("https://example.org/home/page and ./tmp/x")
    assert CITATION.search("(graph-facts.md §5)").group(1) == ""  # type: ignore[union-attr]
    assert CITATION.search("see docs/rules.md").group(1) == "docs/"  # type: ignore[union-attr]
    assert CITATION.search("docs/rules/organiser-not-staff.md") is None
    tests_file = ROOT / "tests" / "test_scenarios.py"
    assert outside_allowed(tests_file, "/scenarios/pending")
    assert not outside_allowed(tests_file, "/rules.md")
    assert not outside_allowed(ROOT / "README.md", "/scenarios")
