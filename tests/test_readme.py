"""README and code cannot disagree: the generated tables match the catalogue and settings, and the README
opens with the two commands."""

from __future__ import annotations

from pathlib import Path

from shared.policy.catalogue import catalogue
from shared.policy.clauses import CLAUSES
from shared.readme import refresh, rules_for_clause

README = Path(__file__).resolve().parent.parent / "README.md"


def test_generated_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert refresh(text) == text, "run: python -m shared.readme --write README.md"


def test_every_clause_and_rule_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for clause in CLAUSES:
        assert f"| {clause.id} | {clause.text} |" in text
    for rule_id in catalogue():
        assert f"`{rule_id}`" in text


def test_clause_map_matches_the_policy_clause_list() -> None:
    checked = rules_for_clause()
    assert checked["G2a"] == ["organiser-not-staff", "unscheduled-call-with-pupil"]
    assert checked["S11"] == ["organiser-not-staff", "pupils-unsupervised", "unscheduled-call-with-pupil"]
    assert checked["S14"] == ["recording-allowed", "session-recorded"]
    unchecked = {c.id for c in CLAUSES if not checked[c.id]}
    assert unchecked == {"S2", "S3", "S4", "S9", "S10", "S12", "S13", "P2", "P4", "P5", "P6", "P11", "P12", "U1",
                         "U6"}


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").split("\n\n", 3)[:3]
    assert "make demo" in head[1] and "make test" in head[1]
