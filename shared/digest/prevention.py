"""Before the lesson, as the digest counts it: nudges sent, lessons whose options the teacher put right before
they began, lessons vcaudit put right (enforce), and lessons that started with options breaking the policy.

A setting finding (a rule frozen at the lesson's start) that was resolved before the lesson's start is
*prevented*, not a violation; one still open when the lesson started is counted as started non-compliant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.nudges import setting_rules
from shared.occurrence_life import called_off, resolved_by_going_away


@dataclass(frozen=True, slots=True)
class PreventionCounts:
    nudges_sent: int = 0
    fixed_by_teacher: int = 0  # lessons
    fixed_by_vcaudit: int = 0  # lessons
    would_have_fixed: int = 0  # lessons enforce in dry-run would have changed
    started_non_compliant: int = 0  # lessons
    prevented_findings: int = 0
    reported_findings: int = 0  # setting findings that stood at the lesson's start

    @property
    def any(self) -> bool:
        """Something happened before a lesson (a nudge, a fix, a dry-run change): only then does the digest say
        so; lessons that started against the policy are the setting issues already listed."""
        return any((self.nudges_sent, self.fixed_by_teacher, self.fixed_by_vcaudit, self.would_have_fixed))


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return None


def prevention_counts(stores: Any, week: str, *, now: float) -> PreventionCounts:
    """The week's counts, from the findings and the nudge ledger's log of that week."""
    wanted = setting_rules()
    log = stores.nudges.week(week)
    nudges = sum(1 for row in log if row.get("Outcome") in ("sent", "unknown"))
    enforced = {row["OccurrenceId"] for row in log if row.get("Outcome") == "enforced"}
    dry_run = {row["OccurrenceId"] for row in log if row.get("Outcome") == "would-enforce"}
    teacher: set[str] = set()
    vcaudit: set[str] = set()
    started: set[str] = set()
    prevented = reported = 0
    gone = {str(r["RowKey"]) for r in stores.meetings.week(week) if called_off(r)}
    for row in stores.findings.week(week):
        # A lesson that moved, was cancelled or deleted before it began was neither put right nor started.
        if row.get("Rule") not in wanted or str(row.get("OccurrenceId")) in gone or (
                row.get("MachineState") == "resolved" and resolved_by_going_away(row.get("ResolvedWhy"))):
            continue
        start = _epoch(row.get("Start"))
        occurrence = str(row.get("OccurrenceId"))
        if row.get("MachineState") == "resolved":
            resolved = _epoch(row.get("ResolvedAt"))
            if start is not None and resolved is not None and resolved < start:
                prevented += 1
                (vcaudit if occurrence in enforced else teacher).add(occurrence)
        elif start is not None and start <= now:
            reported += 1
            started.add(occurrence)
    return PreventionCounts(nudges, len(teacher - vcaudit), len(vcaudit), len(dry_run), len(started), prevented,
                            reported)
