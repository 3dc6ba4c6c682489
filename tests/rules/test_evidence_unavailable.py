"""Tests of the rule in shared/policy/rules/evidence_unavailable.py."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import evaluate, finding


def test_evidence_unavailable_example_evidence_is_exact():
    """The example on docs/rules/evidence-unavailable.md gives exactly this evidence, value for value."""
    spec = catalogue()["evidence-unavailable"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"missing": [{"kind": "onlineMeeting",
                             "reason": "403 No Application Access Policy found for this app"}]}
    assert found.evidence == expected
