"""The rule catalogue: the one home of every fact about a rule, declared with the rule itself.

Each rule is a small check in its own module under ``shared/policy/rules/`` (one file per rule, or per small
family), registered with :func:`rule`: its id, default severity and clauses, the stage of the meeting it judges,
whether its findings are frozen at the lesson's start, whether a standing exemption may cover it (and why not),
whether it still runs on a meeting out of scope, its digest title, the remediation a teacher can follow, its
parameters (and the parameters of other rules it reads), and an example it is documented with. The engine,
the stores, the admin tools, the digest, the README and the pages under ``docs/rules/`` all read these facts
from here: no rule id appears anywhere else in the code. The order of the catalogue is the order in which the
rule modules register (``shared/policy/rules/__init__.py`` imports them in the order of ``docs/rules``' index).
Rule ids are a contract and never change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.evidence.meeting import Meeting

SEVERITIES = ("high", "medium", "low", "advisory")
# The stages of a meeting occurrence (``Meeting.stages``): what evidence a rule judges.
STAGES = ("scheduled", "held", "recorded", "any")
STAGE_WORDS = {
    "scheduled": "the scheduled stage: the calendar event and the meeting's options, before the lesson",
    "held": "the held stage: who was present and when (call records, attendance reports), after the lesson",
    "recorded": "the recorded stage: recordings and transcripts of the meeting",
    "any": "every stage: whatever evidence the bundle holds",
}


@dataclass(frozen=True, slots=True)
class Draft:
    """What a check reports; the engine adds the rule's id, severity and clauses."""

    summary: str
    evidence: dict[str, Any]
    subject: str | None = None
    subject_name: str | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a check could not judge, reported as coverage (the meeting log and the digest), never a finding."""

    kind: str  # plain words: what could not be judged
    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Param:
    kind: type[Any]
    default: Any
    description: str
    item_kind: type[Any] | None = None  # for lists


Check = Callable[[Meeting, Mapping[str, Any]], Iterable[Draft | Coverage]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    severity: str
    clauses: tuple[str, ...]
    title: str  # the digest's and the README's short title
    check: Check
    remediation: str  # what a teacher does: where in Teams or Outlook, and next time
    passes: str = ""  # what does not fire it (its docs page says so)
    stage: str = "held"  # the stage whose evidence the rule judges (STAGES)
    params: Mapping[str, Param] = field(default_factory=dict)
    # Parameters of other rules this rule reads: {name in this rule's params: (rule id, that rule's param)}.
    reads: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    per_person: bool = False
    frozen_at_start: bool = False  # findings stand as they were at the lesson's start (the meeting's options)
    not_exemptable: str = ""  # why a standing exemption may not cover it; empty: it may
    out_of_scope: bool = False  # also runs on meetings out of scope (no pupil): only for fail-safe rules
    about_organiser: bool = False  # says who organised, not how the meeting was set up
    about_monitoring: bool = False  # says what vcaudit could not see: the digest reports it under monitoring
    example: Callable[[], dict[str, Any]] | None = None  # a small bundle that fires it, for its docs page
    references: tuple[str, ...] = ()  # pages the rule's semantics rest on (cited on its docs page)
    options: tuple[str, ...] = ()  # the onlineMeeting properties it judges (what enforce may set to correct it)

    @property
    def policy_text(self) -> str:
        """The check's docstring: the clause it enforces, quoted, and what fires it."""
        return (self.check.__doc__ or "").strip()

    @property
    def exemptable(self) -> bool:
        return not self.not_exemptable

    @property
    def module(self) -> str:
        """The rule's module name under ``shared.policy.rules`` (its tests: ``tests/rules/test_<module>.py``)."""
        return self.check.__module__.rsplit(".", 1)[-1]


CATALOGUE: dict[str, RuleSpec] = {}


def rule(rule_id: str, severity: str, clauses: tuple[str, ...], title: str, *, remediation: str,
         passes: str = "", stage: str = "held", params: Mapping[str, Param] | None = None,
         reads: Mapping[str, tuple[str, str]] | None = None, per_person: bool = False,
         frozen_at_start: bool = False, not_exemptable: str = "", out_of_scope: bool = False,
         about_organiser: bool = False, about_monitoring: bool = False,
         example: Callable[[], dict[str, Any]] | None = None,
         references: tuple[str, ...] = (), options: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Register a check in the catalogue, with every fact about its rule."""
    if severity not in SEVERITIES:
        raise ValueError(f"{rule_id}: unknown severity {severity}")
    if stage not in STAGES:
        raise ValueError(f"{rule_id}: unknown stage {stage}")
    if not remediation.strip():
        raise ValueError(f"{rule_id}: a rule needs remediation a teacher can follow")

    def register(check: Check) -> Check:
        if rule_id in CATALOGUE:
            raise ValueError(f"rule {rule_id} registered twice")
        CATALOGUE[rule_id] = RuleSpec(rule_id, severity, clauses, title, check, " ".join(remediation.split()),
                                      " ".join(passes.split()), stage, dict(params or {}), dict(reads or {}),
                                      per_person, frozen_at_start, not_exemptable, out_of_scope, about_organiser,
                                      about_monitoring, example, references, options)
        return check

    return register


_CHECKED = False


def catalogue() -> dict[str, RuleSpec]:
    """Every rule, in the order its module registered it."""
    global _CHECKED
    if not _CHECKED:
        from shared.policy import rules  # noqa: F401  (registers the checks)

        for spec in CATALOGUE.values():
            for name, (other, key) in spec.reads.items():
                if other not in CATALOGUE or key not in CATALOGUE[other].params:
                    raise RuntimeError(f"{spec.id}: reads {other}.{key}, which no rule declares")
                if name in spec.params:
                    raise RuntimeError(f"{spec.id}: parameter {name} both declared and read")
        _CHECKED = True
    return CATALOGUE


_RANK: dict[str, int] = {}


def rank() -> dict[str, int]:
    """Each rule's position in the catalogue (tables, the digest and the findings list rules in it)."""
    if not _RANK:
        _RANK.update((rule_id, i) for i, rule_id in enumerate(catalogue()))
    return _RANK
