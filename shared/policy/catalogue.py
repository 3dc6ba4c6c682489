"""The rule catalogue: every rule with its id, default severity, clauses and the check that implements it.

The catalogue is data. The README's clause-coverage table, the digest's coverage section and the CLI all
render from it; rule ids are a contract (``docs/rules.md``) and never change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.evidence.meeting import Meeting

SEVERITIES = ("high", "medium", "low", "advisory")


@dataclass(frozen=True, slots=True)
class Draft:
    """What a check reports; the engine adds the rule's id, severity and clauses."""

    summary: str
    evidence: dict[str, Any]
    subject: str | None = None
    subject_name: str | None = None


@dataclass(frozen=True, slots=True)
class Param:
    kind: type[Any]
    default: Any
    description: str
    item_kind: type[Any] | None = None  # for lists


Check = Callable[[Meeting, Mapping[str, Any]], Iterable[Draft]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    severity: str
    clauses: tuple[str, ...]
    title: str
    check: Check
    params: Mapping[str, Param] = field(default_factory=dict)
    per_person: bool = False

    @property
    def policy_text(self) -> str:
        """The check's docstring: the clause it enforces, quoted."""
        return (self.check.__doc__ or "").strip()


CATALOGUE: dict[str, RuleSpec] = {}

# The order of ``docs/rules.md``: tables, the README and the digest list rules in it.
RULE_ORDER = (
    "organiser-not-staff", "organiser-not-school-account", "attendee-mic-allowed", "meeting-chat-enabled",
    "lobby-bypass-too-broad", "not-in-class-team-general", "attendees-can-present", "recording-allowed",
    "session-recorded", "uninvited-attendee", "pupil-screen-shared", "pupils-unsupervised", "consent-missing",
    "unapproved-platform", "unscheduled-call-with-pupil", "one-to-one-with-pupil", "evidence-unavailable",
)
_ORDERED: dict[str, RuleSpec] = {}


def rule(rule_id: str, severity: str, clauses: tuple[str, ...], title: str, *,
         params: Mapping[str, Param] | None = None, per_person: bool = False) -> Callable[[Check], Check]:
    """Register a check in the catalogue."""
    if severity not in SEVERITIES:
        raise ValueError(f"{rule_id}: unknown severity {severity}")

    def register(check: Check) -> Check:
        if rule_id in CATALOGUE:
            raise ValueError(f"rule {rule_id} registered twice")
        CATALOGUE[rule_id] = RuleSpec(rule_id, severity, clauses, title, check, dict(params or {}), per_person)
        return check

    return register


def catalogue() -> dict[str, RuleSpec]:
    """Every rule, in the order of ``docs/rules.md``."""
    if not _ORDERED:
        from shared.policy import rules  # noqa: F401  (registers the checks)

        if set(CATALOGUE) != set(RULE_ORDER):
            raise RuntimeError(f"catalogue and rule order differ: {sorted(set(CATALOGUE) ^ set(RULE_ORDER))}")
        _ORDERED.update((rule_id, CATALOGUE[rule_id]) for rule_id in RULE_ORDER)
    return _ORDERED
