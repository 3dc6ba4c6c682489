"""The catalogue is the one home of a rule's facts: every rule declares them, no other code names a rule, and
each rule's tests sit beside it by name."""

from __future__ import annotations

import re
from pathlib import Path

from shared.engine import evaluate_raw
from shared.policy.catalogue import STAGES, catalogue, rank
from shared.policy.rules import MODULES

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = ROOT / "shared" / "policy" / "rules"


def test_every_rule_module_has_its_tests_beside_it_by_name() -> None:
    modules = {spec.module for spec in catalogue().values()}
    assert modules == set(MODULES)
    for module in modules:
        assert (RULES / f"{module}.py").is_file(), module
        assert (ROOT / "tests" / "rules" / f"test_{module}.py").is_file(), module


def test_every_rule_declares_its_facts() -> None:
    for spec in catalogue().values():
        assert spec.remediation and spec.passes and spec.title, spec.id
        assert spec.stage in STAGES
        assert spec.exemptable or len(spec.not_exemptable) > 10
        assert spec.example is not None and spec.example.__doc__, spec.id


def test_order_is_the_order_of_registration() -> None:
    ids = list(catalogue())
    assert list(rank()) == ids
    by_module = [spec.module for spec in catalogue().values()]
    assert sorted(by_module, key=MODULES.index) == by_module


def test_each_example_fires_its_own_rule_and_no_other() -> None:
    for spec in catalogue().values():
        assert spec.example is not None
        found = {f.rule for f in evaluate_raw(spec.example()).findings}
        assert found == {spec.id}, (spec.id, found)


def test_no_rule_id_is_named_outside_the_rules() -> None:
    """The engine, stores, admin tools, digest, functions and CLI read rule facts from the catalogue."""
    ids = "|".join(re.escape(rule_id) for rule_id in catalogue())
    quoted = re.compile(rf"[\"']({ids})[\"']")
    offenders = []
    for folder in ("shared", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            if RULES in path.parents:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if quoted.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert (ROOT / "function_app.py").is_file()
    assert not quoted.search((ROOT / "function_app.py").read_text(encoding="utf-8"))
    assert offenders == []


def test_a_rule_reading_another_rules_parameter_follows_the_policy(policy_file) -> None:
    """pupils-unsupervised reads lobby-bypass-too-broad's allowed scopes as the school's policy sets them."""
    spec = catalogue()["pupils-unsupervised"]
    assert dict(spec.reads) == {"lobby_allowed_scopes": ("lobby-bypass-too-broad", "allowed_scopes")}
    bundle = spec.example()
    # the teacher joins late: the pupils wait alone for 10 minutes, in a lobby only the organiser bypasses
    bundle["callRecord"]["sessions"][0]["startDateTime"] = "2026-03-10T09:10:00Z"
    bundle["callRecord"]["sessions"][0]["endDateTime"] = "2026-03-10T09:46:10Z"
    bundle["callRecord"]["sessions"][0]["segments"][0]["startDateTime"] = "2026-03-10T09:10:00Z"
    bundle["callRecord"]["sessions"][0]["segments"][0]["endDateTime"] = "2026-03-10T09:46:10Z"
    assert "pupils-unsupervised" not in {f.rule for f in evaluate_raw(bundle).findings}
    bundle["onlineMeeting"]["lobbyBypassSettings"]["scope"] = "organization"
    broad = policy_file('[rules.lobby-bypass-too-broad]\nallowed_scopes = ["organizer", "organization"]')
    found = {f.rule for f in evaluate_raw(bundle, broad).findings}
    assert "pupils-unsupervised" not in found and "lobby-bypass-too-broad" not in found
    assert "pupils-unsupervised" in {f.rule for f in evaluate_raw(bundle).findings}
