"""README, docs and code cannot disagree: the generated tables and rule pages match the catalogue and settings,
and the README opens with the two commands."""

from __future__ import annotations

from pathlib import Path

from shared.policy.catalogue import catalogue
from shared.policy.clauses import CLAUSES
from shared.readme import RULES_DIR, refresh, rule_pages, rules_for_clause

README = Path(__file__).resolve().parent.parent / "README.md"


def test_generated_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert refresh(text) == text, "run: python -m shared.readme --write README.md"


def test_rule_pages_are_current() -> None:
    folder = README.parent / RULES_DIR
    pages = rule_pages()
    fix = "run: python -m shared.readme --write README.md"
    assert sorted(p.name for p in folder.glob("*.md")) == sorted(pages), fix
    for name, text in pages.items():
        assert (folder / name).read_text(encoding="utf-8") == text, f"{name}: {fix}"


def test_every_rule_page_shows_its_remediation_and_a_finding_of_its_own() -> None:
    for rule_id, spec in catalogue().items():
        page = (README.parent / RULES_DIR / f"{rule_id}.md").read_text(encoding="utf-8")
        assert spec.remediation in page
        assert f'"rule": "{rule_id}"' in page
        assert f"[`{rule_id}`]({RULES_DIR.as_posix()}/{rule_id}.md)" in README.read_text(encoding="utf-8")


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
    # A clause no rule checks says why; a checked clause carries no such note.
    assert unchecked == {c.id for c in CLAUSES if c.note}
    assert {c.id for c in CLAUSES if c.note == "not machine-checkable"} == {
        "S2", "S3", "S9", "S10", "S13", "P2", "P4", "P5", "P6", "P11", "P12", "U1", "U6"}
    assert unchecked <= {"S2", "S3", "S4", "S9", "S10", "S12", "S13", "P2", "P4", "P5", "P6", "P11", "P12", "U1",
                         "U6"}


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").split("\n\n", 3)[:3]
    assert "make demo" in head[1] and "make test" in head[1]
