"""Generated documentation: README.md's clause-coverage table, rule catalogue and app settings, and one page per
rule under ``docs/rules/`` with their index.

Generated from the catalogue and the settings module, so docs and code cannot disagree (a test checks):
``python -m shared.readme`` prints the README blocks; ``python -m shared.readme --write README.md`` refreshes
them in place between their markers and rewrites ``docs/rules/`` beside the README. Each rule page's example is
produced by running the rule on its example evidence, so it cannot drift from what the rule does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.engine import evaluate_raw
from shared.policy.catalogue import STAGE_WORDS, RuleSpec, catalogue
from shared.policy.clauses import CLAUSES
from shared.policy.rules import _example
from shared.settings import SETTINGS

RULES_DIR = Path("docs") / "rules"


def rules_for_clause() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c.id: [] for c in CLAUSES}
    for spec in catalogue().values():
        for clause in spec.clauses:
            out.setdefault(clause, []).append(spec.id)
    return out


def clause_table() -> str:
    checked = rules_for_clause()
    lines = ["| clause | what the policy says | checked by |", "|---|---|---|"]
    for clause in CLAUSES:
        rules = checked.get(clause.id, [])
        cell = ", ".join(f"`{r}`" for r in rules)
        if clause.note:
            cell = f"{cell} ({clause.note})" if cell else clause.note
        lines.append(f"| {clause.id} | {clause.text} | {cell or 'not machine-checkable'} |")
    for spec in catalogue().values():
        if not spec.clauses or "guidance" in spec.clauses:
            what = "guidance beyond the written policy" if spec.clauses else "any clause whose evidence is unreadable"
            lines.append(f"| — | {spec.title} ({what}) | `{spec.id}` |")
    return "\n".join(lines)


def rule_table() -> str:
    lines = ["| rule | severity | clauses | fires when | what to do |", "|---|---|---|---|---|"]
    for spec in catalogue().values():
        lines.append(f"| [`{spec.id}`]({RULES_DIR.as_posix()}/{spec.id}.md) | {spec.severity} | "
                     f"{' '.join(spec.clauses) or '—'} | {spec.title} | {_cell(spec.remediation)} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# ------------------------------------------------------------------------------------------------ rule pages


def _changes(base: Any, new: Any, path: str = "") -> dict[str, Any]:
    """What ``new`` changes in ``base``: dotted paths to their new values (``"(removed)"`` when gone)."""
    if isinstance(base, dict) and isinstance(new, dict):
        out: dict[str, Any] = {}
        for key in [*base, *(k for k in new if k not in base)]:
            where = f"{path}.{key}" if path else key
            if key not in new:
                out[where] = "(removed)"
            elif key not in base:
                out[where] = new[key]
            else:
                out.update(_changes(base[key], new[key], where))
        return out
    if isinstance(base, list) and isinstance(new, list) and len(base) == len(new):
        out = {}
        for i, (a, b) in enumerate(zip(base, new, strict=True)):
            out.update(_changes(a, b, f"{path}[{i}]"))
        return out
    return {} if base == new else {path: new}


def example_findings(spec: RuleSpec) -> list[dict[str, Any]]:
    """The findings of ``spec``'s rule on its example evidence, under the built-in policy."""
    if spec.example is None:
        return []
    return [f.to_json() for f in evaluate_raw(spec.example()).findings if f.rule == spec.id]


def _json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


def rule_page(spec: RuleSpec) -> str:
    texts = {c.id: c.text for c in CLAUSES}
    clauses = ", ".join(f"{c} ({texts[c]})" if c in texts else ("guidance beyond the written policy"
                                                                 if c == "guidance" else c)
                        for c in spec.clauses) or "none: it says when the other rules could not look"
    facts = [
        f"- **Severity** (default): {spec.severity}",
        f"- **Clauses**: {clauses}",
        f"- **Judged at**: {STAGE_WORDS[spec.stage]}",
        "- **Findings frozen at the lesson's start**: " + (
            "yes (a setting changed after the lesson started does not rewrite its finding)"
            if spec.frozen_at_start else "no"),
        "- **One finding per**: " + ("person" if spec.per_person else "meeting occurrence"),
        "- **Standing exemptions**: " + ("may cover it" if spec.exemptable else f"never: {spec.not_exemptable}"),
        "- **Meetings out of scope** (no pupil): " + ("still checked" if spec.out_of_scope else "not checked"),
        f"- **Source**: `shared/policy/rules/{spec.module}.py`; tests: `tests/rules/test_{spec.module}.py`",
    ]
    lines = [f"# `{spec.id}`: {spec.title}", "", *facts, ""]
    if spec.params or spec.reads:
        lines += ["## Parameters (policy file)", "", "| parameter | default | meaning |", "|---|---|---|"]
        for name, param in spec.params.items():
            lines.append(f"| `{name}` | `{json.dumps(param.default)}` | {param.description} |")
        for name, (other, key) in spec.reads.items():
            lines.append(f"| `{name}` | from [`{other}`]({other}.md)'s `{key}` | read from that rule's setting |")
        lines.append("")
    lines += ["## The clause and what fires it", "", " ".join(spec.policy_text.split()), "",
              "## What does not fire it", "", spec.passes, "", "## Remediation", "", spec.remediation, ""]
    if spec.example is not None:
        changes = _changes(_example.lesson(), spec.example())
        lines += ["## Example", "", " ".join((spec.example.__doc__ or "").split()), "",
                  "Evidence: a compliant Year 5 lesson (`shared/policy/rules/_example.py`) with these changes:", "",
                  _json_block(changes), "", "The finding the rule gives (produced by running it):", "",
                  _json_block(example_findings(spec)), ""]
    if spec.references:
        lines += ["## References", "", *(f"- {ref}" for ref in spec.references), ""]
    lines += ["Generated by `python -m shared.readme --write README.md` from the rule's declaration; do not edit.",
              ""]
    return "\n".join(lines)


def rules_index() -> str:
    lines = ["# Rules", "", "One page per rule: the clause it checks, what fires it and what does not, what a teacher",
             "does about it, and an example produced by running the rule. Listed in the catalogue's order.", "",
             "| rule | severity | clauses | title |", "|---|---|---|---|"]
    for spec in catalogue().values():
        lines.append(f"| [`{spec.id}`]({spec.id}.md) | {spec.severity} | {' '.join(spec.clauses) or '—'} | "
                     f"{spec.title} |")
    lines += ["", "Generated by `python -m shared.readme --write README.md`; do not edit.", ""]
    return "\n".join(lines)


def rule_pages() -> dict[str, str]:
    """File name under ``docs/rules`` -> its generated text."""
    pages = {f"{spec.id}.md": rule_page(spec) for spec in catalogue().values()}
    pages["README.md"] = rules_index()
    return pages


def write_rule_pages(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pages = rule_pages()
    for stale in folder.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")


def settings_table() -> str:
    lines = ["| app setting | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = "**required**" if setting.required else (f"`{setting.default}`" if setting.default else "empty")
        lines.append(f"| `{setting.name}` | {default} | {setting.description} |")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "clause-coverage": clause_table,
    "rule-catalogue": rule_table,
    "app-settings": settings_table,
}


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- {name}:start (generated by `python -m shared.readme --write README.md`) -->",
            f"<!-- {name}:end -->")


def refresh(text: str) -> str:
    for name, build in BLOCKS.items():
        start, end = markers(name)
        head, sep, rest = text.partition(start)
        _, sep2, tail = rest.partition(end)
        if not (sep and sep2):
            raise ValueError(f"README.md: the {name} markers are missing")
        text = f"{head}{start}\n{build()}\n{end}{tail}"
    return text


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        path.write_text(refresh(path.read_text(encoding="utf-8")), encoding="utf-8")
        write_rule_pages(path.resolve().parent / RULES_DIR)
        return 0
    for name, build in BLOCKS.items():
        print(f"{name}:\n{build()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
