"""Nudges: a short, friendly email to the organising teacher when a lesson with pupils is scheduled (or
changed) with options that break the policy, while there is still time to put them right.

Pure decision logic: :func:`decide` says whether this evaluation calls for a nudge, from the lesson's open
setting findings (the rules whose findings are frozen at the lesson's start: judged on the meeting's options),
what the ledger (``shared/store/nudges.py``) remembers and the ``[prevent]`` policy. :func:`compose` renders
the mail (Jinja2, autoescaped HTML and text). The pipeline calls :func:`shared.prevent.after_evaluation`.

- Once per occurrence, or once per series for a recurring lesson (the ledger is keyed by the series), and
  again only if it gets worse (a setting rule not nudged before).
- Never for a lesson that has started, nor one starting beyond the horizon (default 14 days) until it comes
  within it (the next notification or preflight sees it again).
- Not in quiet hours (local time), and no more than the daily cap per teacher.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.engine import Finding
from shared.policy.catalogue import catalogue
from shared.policy.clauses import CLAUSES
from shared.policy.prevent import PreventPolicy

_CLAUSE_TEXT = {c.id: c.text for c in CLAUSES}
# Graph's onlineMeeting resource: joinWebUrl opens the meeting in Teams, where "Meeting options" is one click
# away (https://learn.microsoft.com/en-us/graph/api/resources/onlinemeeting?view=graph-rest-1.0).
ONLINE_MEETING_DOC = "https://learn.microsoft.com/en-us/graph/api/resources/onlinemeeting?view=graph-rest-1.0"


def setting_rules() -> frozenset[str]:
    return frozenset(spec.id for spec in catalogue().values() if spec.frozen_at_start)


@dataclass(frozen=True, slots=True)
class Lesson:
    """What a nudge is about: one occurrence, and the series it belongs to (if any)."""

    occurrence_id: str
    series_id: str | None
    organiser_id: str
    organiser_name: str
    organiser_address: str
    subject: str
    start: float  # epoch seconds
    join_url: str

    @property
    def key(self) -> str:
        """The ledger's key: the series for a recurring lesson, else the occurrence."""
        return f"series:{self.series_id}" if self.series_id else f"occurrence:{self.occurrence_id}"


@dataclass(frozen=True, slots=True)
class Decision:
    send: bool
    reason: str
    rules: tuple[str, ...] = ()  # the setting rules the nudge is about (all open ones), catalogue order


def open_setting_rules(findings: Iterable[Finding]) -> tuple[str, ...]:
    wanted = setting_rules()
    present = {f.rule for f in findings if f.rule in wanted}
    return tuple(r for r in catalogue() if r in present)


def in_quiet_hours(moment: datetime, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    hour = moment.hour
    if start == end:
        return False
    return start <= hour < end if start < end else (hour >= start or hour < end)


def decide(lesson: Lesson, rules: tuple[str, ...], *, nudged_before: frozenset[str] | None, sent_today: int,
           now: float, policy: PreventPolicy, zone: ZoneInfo, sender: str) -> Decision:
    """Whether to nudge the organiser of ``lesson`` about ``rules`` (its open setting findings) now."""
    if not policy.nudges:
        return Decision(False, "nudges are switched off in the policy")
    if not sender:
        return Decision(False, "no sender mailbox is configured")
    if not rules:
        return Decision(False, "the lesson's options follow the policy")
    if not lesson.organiser_address:
        return Decision(False, "the organiser has no mailbox address")
    if lesson.start <= now:
        return Decision(False, "the lesson has started")
    if lesson.start - now > policy.horizon_days * 86400:
        return Decision(False, f"the lesson starts more than {policy.horizon_days} days ahead")
    if nudged_before is not None and set(rules) <= nudged_before:
        return Decision(False, "the teacher was already told about these settings")
    if in_quiet_hours(datetime.fromtimestamp(now, tz=UTC).astimezone(zone), policy.quiet_hours):
        return Decision(False, "quiet hours")
    if sent_today >= policy.daily_cap:
        return Decision(False, f"the teacher's daily cap of {policy.daily_cap} nudges is reached")
    return Decision(True, "the lesson's options break the policy", rules)


@dataclass(frozen=True, slots=True)
class Change:
    rule: str
    title: str
    why: str  # the clauses in plain words
    clauses: str
    how: str  # the rule's remediation
    worse: bool  # not in an earlier nudge


def changes(rules: tuple[str, ...], nudged_before: frozenset[str] | None) -> list[Change]:
    specs = catalogue()
    out = []
    for rule_id in rules:
        spec = specs[rule_id]
        why = "; ".join(_CLAUSE_TEXT[c] for c in spec.clauses if c in _CLAUSE_TEXT)
        out.append(Change(rule_id, spec.title, why, ", ".join(spec.clauses), spec.remediation,
                          nudged_before is not None and rule_id not in nudged_before))
    return out


@dataclass(frozen=True, slots=True)
class NudgeMail:
    subject: str
    html: str
    text: str
    to: str

    def message(self) -> dict[str, Any]:
        """Graph's ``message`` for ``sendMail``."""
        return {"subject": self.subject, "body": {"contentType": "HTML", "content": self.html},
                "toRecipients": [{"emailAddress": {"address": self.to}}]}


def compose(lesson: Lesson, rules: tuple[str, ...], nudged_before: frozenset[str] | None, zone: ZoneInfo,
            now: float, *, enforced: str = "") -> NudgeMail:
    """The nudge's mail: HTML (autoescaped: subjects and names are people's free text) and text."""
    from shared.digest.model import local_when
    from shared.digest.render import environment

    when = local_when(datetime.fromtimestamp(lesson.start, tz=UTC).astimezone(zone))
    context: Mapping[str, Any] = {
        "lesson": lesson, "when": when, "changes": changes(rules, nudged_before),
        "again": nudged_before is not None, "series": lesson.series_id is not None,
        "minutes": max(1, int((lesson.start - now) // 60)), "enforced": enforced,
    }
    env = environment()
    html = env.get_template("nudge.html.j2").render(**context)
    text = env.get_template("nudge.txt.j2").render(**context)
    subject = f"Before your lesson: {len(rules)} setting{'s' if len(rules) != 1 else ''} to change in " \
              f"'{lesson.subject or 'your lesson'}'"
    if not rules:
        subject = f"Your lesson's options were changed: '{lesson.subject or 'your lesson'}'"
    return NudgeMail(subject[:250], html, text, lesson.organiser_address)
