"""Evaluation: one meeting occurrence's evidence in, findings and the facts the log and digest need out.

Pure: no I/O, no clock. Rules that need evidence the bundle does not hold do not fire and do not count as
passes; ``Evaluation.stages`` says what was evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.evidence.bundle import Bundle, parse_bundle
from shared.evidence.meeting import Meeting, Role
from shared.policy.catalogue import Coverage, catalogue, rank
from shared.policy.policyfile import Policy, default_policy

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "advisory": 3}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    subject: str | None
    clauses: tuple[str, ...]
    summary: str
    evidence: dict[str, Any]
    subject_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "subject": self.subject,
                "subjectName": self.subject_name, "clauses": list(self.clauses), "summary": self.summary,
                "evidence": self.evidence}


@dataclass(slots=True)
class Evaluation:
    findings: list[Finding]
    in_scope: bool
    stages: list[str]
    organiser: dict[str, Any] | None
    staff_count: int
    pupil_count: int
    unclassified_adults: list[dict[str, Any]]
    coverage_gaps: list[dict[str, Any]]  # Graph limitations (unsupported evidence) and what rules could not judge
    unavailable: list[dict[str, str]]  # evidence that could not be read
    rules_off: list[dict[str, str]] = field(default_factory=list)
    team: str | None = None  # the class team, for a channel meeting

    @property
    def compliant(self) -> bool:
        """Every stage reached was evaluated and produced nothing but advisories."""
        return self.in_scope and not self.unavailable and all(f.severity == "advisory" for f in self.findings)

    def facts(self) -> dict[str, Any]:
        return {"inScope": self.in_scope, "stages": self.stages, "organiser": self.organiser,
                "staffCount": self.staff_count, "pupilCount": self.pupil_count,
                "unclassifiedAdults": self.unclassified_adults, "coverageGaps": self.coverage_gaps,
                "unavailable": self.unavailable, "rulesOff": self.rules_off, "compliant": self.compliant,
                "team": self.team}


def evaluate(bundle: Bundle, policy: Policy | None = None) -> Evaluation:
    policy = policy or default_policy()
    specs = catalogue()
    meeting = Meeting(bundle)
    in_scope = meeting.in_scope
    findings: list[Finding] = []
    coverage: list[dict[str, Any]] = [{"kind": u.kind, "reason": u.reason} for u in bundle.unsupported]
    for rule_id, spec in specs.items():
        chosen = policy.rules[rule_id]
        if not chosen.enabled:
            continue
        if not in_scope and not spec.out_of_scope:
            continue  # out of scope: no findings, but a meeting whose scope could not be read still says so
        params: dict[str, Any] = dict(chosen.params)
        for name, (other, key) in spec.reads.items():  # another rule's parameter, as the policy sets it
            params[name] = policy.rules[other].params.get(key, specs[other].params[key].default)
        seen: set[str | None] = set()
        for draft in spec.check(meeting, params):
            if isinstance(draft, Coverage):
                coverage.append({"kind": draft.kind, "reason": draft.reason, "count": draft.count, "rule": rule_id})
                continue
            if draft.subject in seen:
                continue  # at most one finding per (rule, subject) per occurrence
            seen.add(draft.subject)
            findings.append(Finding(rule_id, chosen.severity, draft.subject, spec.clauses, draft.summary,
                                    draft.evidence, draft.subject_name))
    order = rank()
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], order[f.rule], f.subject or ""))
    organiser = meeting.organiser
    return Evaluation(
        findings=findings,
        in_scope=in_scope,
        stages=meeting.stages,
        organiser=None if organiser is None else {"id": organiser.key, "displayName": organiser.name,
                                                   "role": organiser.role.value},
        staff_count=len(meeting.present(Role.STAFF)),
        pupil_count=len(meeting.present(Role.PUPIL)),
        unclassified_adults=[{"id": p.key, "displayName": p.name} for p in meeting.unclassified_adults],
        coverage_gaps=coverage,
        unavailable=[{"kind": u.kind, "reason": u.reason} for u in bundle.failed],
        rules_off=[{"rule": r.id, "reason": r.reason} for r in policy.switched_off],
        team=meeting.team.display_name if meeting.team else None,
    )


def evaluate_raw(raw: Any, policy: Policy | None = None) -> Evaluation:
    """Evaluate a bundle given as parsed JSON; :class:`shared.evidence.reader.BundleError` when it is broken."""
    return evaluate(parse_bundle(raw), policy)
