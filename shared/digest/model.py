"""What the weekly digest says, built from table rows: pure (no I/O, no clock), so it is tested on its own.

``build_digest`` takes the rows ``collect`` read (findings and meeting-log entries of the week and the seven
before it, monitoring-health facts, the policy's switched-off rules, the latest directory) and returns a
:class:`Digest`: every section in the order the DSL reads it. ``render`` turns a digest into mail.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.digest.prevention import PreventionCounts
from shared.occurrence_life import called_off
from shared.policy.catalogue import catalogue, rank
from shared.policy.clauses import CLAUSES, GUIDANCE
from shared.store.keys import finding_id, previous_weeks, week_bounds

TREND_WEEKS = 8
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "advisory": 3}
# People's statuses (written by the admin tools). Absent means open.
CLOSED_BY_PEOPLE = frozenset({"false-positive", "resolved"})
# "exempt": covered by a standing exemption (an approved SEN one-to-one series, a visiting author): still
# stored, shown with the annotated items and counted apart, never among the concerns and issues.
SET_ASIDE = frozenset({"false-positive", "resolved", "accepted-risk", "exempt"})
STATUS_LABEL = {"": "open", "acknowledged": "acknowledged", "accepted-risk": "accepted risk",
                "false-positive": "false positive", "resolved": "resolved", "exempt": "standing exemption"}
# Rules that say something about the organiser rather than about how a meeting was set up.
NOT_STAFF_RULES = frozenset(spec.id for spec in catalogue().values() if spec.about_organiser)
# Rules about what vcaudit could not see: reported under monitoring, never as a teacher's setting issue.
MONITORING_RULES = frozenset(spec.id for spec in catalogue().values() if spec.about_monitoring)
EVIDENCE_KINDS = {"attendanceReports": "attendance reports", "callRecord": "call record",
                  "callRecords": "call records", "onlineMeeting": "meeting options", "event": "calendar event",
                  "recordings": "recordings", "transcripts": "transcripts", "directory": "directory",
                  "consent": "consent register"}
CONSEQUENCE = ("This week's picture may be incomplete: meetings may have taken place that vcaudit did not see "
               "or could not judge. A quiet week below is not evidence that the policy was followed.")


def kind_label(kind: str) -> str:
    return EVIDENCE_KINDS.get(kind, kind)


ISO_STAMP = re.compile(r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?\b")


def localise(text: str, zone: ZoneInfo, day: datetime | None = None) -> str:
    """Machine time stamps in a summary ("from 2026-11-17T16:01:30Z") as the school's local time ("from 16:01",
    with the date when it is not the meeting's day)."""

    def local(match: re.Match[str]) -> str:
        try:
            moment = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            return match.group(0)
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
        if day is not None and moment.date() == day.date():
            return f"{moment:%H:%M}"
        return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M}"

    return ISO_STAMP.sub(local, text)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# ---------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """Monitoring facts read at digest time (``collect.health_facts``)."""

    subscriptions_total: int = 0
    subscriptions_lapsed: tuple[str, ...] = ()  # what each lapsed subscription watched, in plain words
    last_notification: datetime | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)  # refused by the webhook, by reason, this week
    missed: int = 0  # Graph's "missed" lifecycle events this week
    missed_unrecovered: int = 0
    poison: Mapping[str, int] = field(default_factory=dict)  # poison queue -> messages set aside
    send_problems: tuple[str, ...] = ()  # earlier digests or alerts whose sending failed or is unconfirmed
    expect_subscriptions: bool = True  # False for previews of recorded weeks (nothing watches Graph there)
    # what vcaudit wants to watch but cannot, in the DSL's words ("Mrs Khan's calendar has not been watched since
    # Tuesday: the mailbox is outside the scope the school granted")
    not_watched: tuple[str, ...] = ()
    not_covered: tuple[str, ...] = ()  # left out by the school's choice (permissions declined), said as coverage
    no_access_policy: tuple[str, ...] = ()  # organisers whose meetings answered "No application access policy"


@dataclass(slots=True)
class DigestInputs:
    week: str
    zone: ZoneInfo
    now: datetime
    findings: Mapping[str, Sequence[Mapping[str, Any]]]  # week -> findings rows (this week and earlier ones)
    meetings: Mapping[str, Sequence[Mapping[str, Any]]]  # week -> meeting-log rows
    health: HealthFacts = field(default_factory=HealthFacts)
    school: str = ""
    rules_off: Sequence[tuple[str, str]] = ()  # (rule id, reason)
    directory: Mapping[str, Any] | None = None  # the latest evidence bundle's directory block (consent gaps)
    alerts_held: Sequence[str] = ()  # finding ids of this week that the daily alert cap held back
    alert_cap: int = 0
    links: str = ""  # the web view's base URL (``Settings.desk_url``)
    prevention: PreventionCounts = field(default_factory=PreventionCounts)  # before the lesson: nudges, enforce


# ---------------------------------------------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class ClauseRef:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Annotation:
    status: str
    by: str
    at: datetime | None
    note: str

    @property
    def label(self) -> str:
        return STATUS_LABEL.get(self.status, self.status)


@dataclass(frozen=True, slots=True)
class FindingView:
    id: str
    week: str
    rule: str
    title: str
    severity: str
    subject: str
    who: str
    clauses: tuple[ClauseRef, ...]
    summary: str
    meeting: str
    occurrence: str
    organiser_id: str
    organiser: str
    team: str
    start: datetime | None  # in the school's time zone
    machine_state: str
    status: str  # people's status; "" = open
    annotation: Annotation | None
    alert_held: bool = False
    fix: str = ""  # the rule's remediation: what a teacher does about it

    @property
    def when(self) -> str:
        return local_when(self.start)

    @property
    def where(self) -> str:
        return self.team or "private meeting"

    @property
    def status_label(self) -> str:
        return STATUS_LABEL.get(self.status, self.status)

    @property
    def clause_ids(self) -> str:
        return " ".join(c.id for c in self.clauses)

    @property
    def meeting_id(self) -> str:
        """The meeting's page in the web view: ``WEEK.OCCURRENCE``."""
        return f"{self.week}.{self.occurrence}"


@dataclass(frozen=True, slots=True)
class ConcernCard:
    """One meeting's concerns together: the DSL decides about the meeting, not about rows."""

    meeting: str
    when: str
    where: str
    organiser: str
    meeting_id: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True, slots=True)
class IssueLine:
    """One kind of setting issue in one teacher's meetings, with the fix."""

    rule: str
    title: str
    fix: str
    meetings: tuple[str, ...]  # the meetings' subjects, in order
    count: int


@dataclass(frozen=True, slots=True)
class TeacherIssues:
    name: str
    key: str
    is_staff: bool
    lines: tuple[IssueLine, ...]


@dataclass(frozen=True, slots=True)
class MeetingIssues:
    meeting: str
    when: str
    where: str
    issues: tuple[FindingView, ...]


@dataclass(frozen=True, slots=True)
class StaffGroup:
    name: str
    key: str
    is_staff: bool
    meetings: tuple[MeetingIssues, ...]

    @property
    def count(self) -> int:
        return sum(len(m.issues) for m in self.meetings)

    @property
    def rules(self) -> list[tuple[str, int]]:
        """The issue titles of this person's meetings, most frequent first (the conversation's agenda)."""
        counts = Counter(f.title for m in self.meetings for f in m.issues)
        return counts.most_common()


@dataclass(frozen=True, slots=True)
class HealthIssue:
    title: str
    detail: str
    items: tuple[str, ...] = ()  # may name meetings: the DSL's copy only


@dataclass(frozen=True, slots=True)
class CoverageGap:
    what: str
    reason: str
    meetings: int


@dataclass(frozen=True, slots=True)
class ConsentGap:
    group: str
    kind: str  # "class team" or "group"
    pupils: tuple[str, ...]  # names: the DSL's copy only
    count: int = 0  # pupils lacking consent, named or not

    @property
    def size(self) -> int:
        return self.count or len(self.pupils)


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    title: str
    severity: str
    count: int


@dataclass(frozen=True, slots=True)
class TrendWeek:
    week: str
    label: str
    audited: int
    findings: int
    high: int
    current: bool


@dataclass(slots=True)
class Digest:
    week: str
    label: str  # "16–22 November 2026"
    short_label: str  # "w/c 16 Nov"
    school: str
    generated: datetime
    zone: str
    health: list[HealthIssue]
    limitations: list[CoverageGap]
    rules_off: list[tuple[str, str, str]]  # (rule id, title, reason)
    unclassified: list[tuple[str, int]]  # (name, meetings)
    consent_gaps: list[ConsentGap]
    concerns: list[FindingView]
    staff: list[StaffGroup]
    audited: int
    out_of_scope: int
    compliant: int
    by_rule: list[RuleCount]
    trend: list[TrendWeek]
    carried: list[FindingView]
    annotated: list[FindingView]
    week_findings: list[FindingView]  # every finding of the week (the CSV)
    fixed_before_lesson: int
    alerts_held: int
    alert_cap: int
    not_checkable: list[tuple[str, str, str]]  # (clause id, text, note)
    verified: int = 0  # meetings compliant with every piece of evidence read and nothing out of sight
    term_start: bool = False  # the first digest of a term: the clauses no machine checks are listed
    new_limitations: list[CoverageGap] = field(default_factory=list)  # not seen the week before
    links: str = ""  # the web view's base URL; empty: no links
    # High findings the machine resolved this week: (rule title, meeting, why) — each says why.
    machine_resolved_high: list[tuple[str, str, str]] = field(default_factory=list)
    prevention: PreventionCounts = field(default_factory=PreventionCounts)  # before the lesson

    @property
    def healthy(self) -> bool:
        return not self.health

    @property
    def issues_count(self) -> int:
        return sum(g.count for g in self.staff)

    @property
    def standing(self) -> int:
        return sum(r.count for r in self.by_rule)

    @property
    def compliant_percent(self) -> int | None:
        """Meetings verified compliant: what could not be seen counts as not verified."""
        return None if not self.audited else round(100 * self.verified / self.audited)

    @property
    def not_verified(self) -> int:
        """Compliant as far as vcaudit could see, but some evidence was unreadable or out of sight."""
        return max(0, self.compliant - self.verified)

    @property
    def concern_cards(self) -> list[ConcernCard]:
        return concern_cards(self.concerns)

    @property
    def teachers(self) -> list[TeacherIssues]:
        return teacher_lines(self.staff)

    @property
    def needs_monitoring_section(self) -> bool:
        """Monitoring and coverage are in the mail only when something is wrong or changed."""
        return bool(self.health or self.new_limitations or self.consent_gaps or self.unclassified
                    or self.rules_off or self.term_start)

    def link(self, path: str = "") -> str:
        return f"{self.links}/{path}" if self.links else ""

    @property
    def no_findings(self) -> bool:
        return self.standing == 0 and not self.concerns and not self.staff

    def summary_line(self) -> str:
        """The preheader: the week and the counts, readable in a mail list."""
        parts = [plural(len(self.concerns), "safeguarding concern") + " to decide",
                 plural(len(self.carried), "concern") + " open from earlier weeks",
                 plural(self.issues_count, "setting issue"), plural(self.audited, "meeting") + " audited"]
        if self.compliant_percent is not None:
            parts.append(f"{self.compliant_percent}% verified compliant")
        parts.append("monitoring healthy" if self.healthy else "MONITORING NOT HEALTHY")
        return f"Week {self.short_label}: " + " · ".join(parts)


# ---------------------------------------------------------------------------------------------------- helpers


def concern_cards(concerns: Sequence[FindingView]) -> list[ConcernCard]:
    """Concerns grouped by meeting, meetings in the order they happened."""
    by_meeting: dict[str, list[FindingView]] = defaultdict(list)
    for view in concerns:
        by_meeting[view.meeting_id].append(view)
    return [ConcernCard(v[0].meeting, v[0].when, v[0].where, v[0].organiser, key, tuple(v))
            for key, v in by_meeting.items()]


def teacher_lines(groups: Sequence[StaffGroup]) -> list[TeacherIssues]:
    """Each person's setting issues as one line per kind of issue, with the fix."""
    out: list[TeacherIssues] = []
    for group in groups:
        lines: dict[str, list[FindingView]] = defaultdict(list)
        for meeting in group.meetings:
            for view in meeting.issues:
                lines[view.rule].append(view)
        items = [IssueLine(rule, views[0].title, views[0].fix, tuple(dict.fromkeys(v.meeting for v in views)),
                           len(views)) for rule, views in lines.items()]
        items.sort(key=lambda i: (SEVERITY_RANK.get(next(v.severity for v in lines[i.rule]), 9), -i.count))
        out.append(TeacherIssues(group.name, group.key, group.is_staff, tuple(items)))
    return out



@dataclass(frozen=True, slots=True)
class FixKey:
    """How to fix each kind of setting issue, once: ``intro`` is the opening several fixes share (where to find
    the setting), said once; each entry keeps the first step of the rest of its fix."""

    intro: str
    fixes: tuple[tuple[str, str], ...]


def fix_key(teachers: Sequence[TeacherIssues]) -> FixKey:
    fixes: dict[str, str] = {}
    for teacher in teachers:
        for line in teacher.lines:
            if line.fix:
                fixes.setdefault(line.title, line.fix)
    firsts = Counter(_first_sentence(fix) for fix in fixes.values())
    intro, shared = max(firsts.items(), key=lambda kv: (kv[1], len(kv[0])), default=("", 0))
    if shared < 2:
        intro = ""
    # The mail gives each fix's first step; the desk's page for each concern gives the whole text.
    return FixKey(intro, tuple((title, _first_sentence(fix[len(intro):].strip() if intro and fix.startswith(intro)
                                                       else fix)) for title, fix in fixes.items()))


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text[: end + 1] if end >= 0 else text

# Graph's answers in plain words, by HTTP status (the raw text is for the admin tools, never for the mail).
PLAIN_STATUS = {
    "400": "Microsoft Graph does not provide this for that kind of meeting",
    "401": "vcaudit's sign-in to Microsoft Graph was refused",
    "403": "vcaudit is not allowed to read this: an access policy or permission is missing",
    "404": "Microsoft Graph no longer has this",
    "429": "Microsoft Graph was too busy to answer",
}


def plain_reason(reason: str) -> str:
    """A reason stored with unreadable evidence ("403 No Application Access Policy…") in plain words."""
    code = reason.strip().split(" ", 1)[0].split(":", 1)[0]
    if code in PLAIN_STATUS:
        return PLAIN_STATUS[code]
    if code.isdigit() and code.startswith("5"):
        return "Microsoft Graph failed to answer"
    return "no reason was given"


def is_term_start(week: str, zone: ZoneInfo) -> bool:
    """A term's first week: the first whose weekdays reach into the first seven days of September, January or
    April (the three terms of the school year). Its digest lists the clauses no machine checks."""
    start = week_bounds(week, zone)[0]

    def reaches(shift: int) -> bool:
        days = [start + timedelta(days=i - shift) for i in range(5)]
        return any(d.month in (9, 1, 4) and d.day <= 7 for d in days)

    return reaches(0) and not reaches(7)


def local_when(start: datetime | None) -> str:
    if start is None:
        return "time unknown"
    return f"{start:%a} {start.day} {start:%b}, {start:%H:%M}"


def week_label(week: str, zone: ZoneInfo) -> tuple[str, str]:
    start, end = week_bounds(week, zone)
    last = end - timedelta(days=1)
    if start.month == last.month:
        long = f"{start.day}–{last.day} {last:%B %Y}"
    elif start.year == last.year:
        long = f"{start.day} {start:%B} – {last.day} {last:%B %Y}"
    else:
        long = f"{start.day} {start:%B %Y} – {last.day} {last:%B %Y}"
    return long, f"w/c {start.day} {start:%b %Y}"


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def _json(row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _aware(value: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(zone)
    return None


def _annotation(row: Mapping[str, Any], zone: ZoneInfo) -> Annotation | None:
    notes = _json(row, "Annotations")
    status = _text(row, "Status")
    latest: Mapping[str, Any] = {}
    if isinstance(notes, list):
        dicts = [n for n in notes if isinstance(n, dict)]
        if dicts:
            latest = dicts[-1]
    if not latest and not status:
        return None
    by = str(latest.get("by") or latest.get("who") or latest.get("author") or "")
    note = str(latest.get("note") or latest.get("reason") or latest.get("text") or latest.get("comment") or "")
    at = _aware(latest.get("at") or latest.get("when"), zone)
    return Annotation(str(latest.get("status") or status), by, at, note)


def clause_refs(ids: Iterable[str]) -> tuple[ClauseRef, ...]:
    texts = {c.id: c.text for c in CLAUSES}
    out = []
    for cid in ids:
        if cid == GUIDANCE:
            out.append(ClauseRef("guidance", "Guidance beyond the written policy"))
        elif cid:
            out.append(ClauseRef(cid, texts.get(cid, "")))
    return tuple(out)


def finding_view(row: Mapping[str, Any], zone: ZoneInfo, held: frozenset[str] = frozenset()) -> FindingView:
    specs = catalogue()
    rule = _text(row, "Rule")
    spec = specs.get(rule)
    week = _text(row, "PartitionKey")
    fid = finding_id(week, _text(row, "RowKey"))
    return FindingView(
        id=fid, week=week, rule=rule, title=spec.title if spec else rule, severity=_text(row, "Severity"),
        subject=_text(row, "Subject"), who=_text(row, "SubjectName") or _text(row, "Subject"),
        clauses=clause_refs(_text(row, "Clauses").split()),
        summary=localise(_text(row, "Summary"), zone, _aware(row.get("Start"), zone)),
        meeting=_text(row, "MeetingSubject") or "(no subject)", occurrence=_text(row, "OccurrenceId"),
        organiser_id=_text(row, "OrganiserId"), organiser=_text(row, "OrganiserName") or _text(row, "OrganiserId"),
        team=_text(row, "Team"), start=_aware(row.get("Start"), zone),
        machine_state=_text(row, "MachineState") or "open",
        status=_text(row, "Status") or ("exempt" if _text(row, "ExemptionId") else ""),
        annotation=_annotation(row, zone), alert_held=fid in held,
        fix=str(getattr(spec, "remediation", "") or "") if spec else "")


def _standing(view: FindingView) -> bool:
    """Counted: still produced by the evidence and not judged a false positive (a resolved concern happened)."""
    return view.machine_state == "open" and view.status != "false-positive"


def _order(view: FindingView) -> tuple[float, int, int, str]:
    stamp = view.start.timestamp() if view.start else 0.0
    order = rank()
    return stamp, SEVERITY_RANK.get(view.severity, 9), order.get(view.rule, len(order)), view.who


def _live_meetings(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r.get("InScope") and not called_off(r)]


# ---------------------------------------------------------------------------------------------------- sections


def _health(inputs: DigestInputs, meetings: Sequence[Mapping[str, Any]]) -> list[HealthIssue]:
    facts = inputs.health
    zone = inputs.zone
    issues: list[HealthIssue] = []
    if facts.expect_subscriptions and facts.subscriptions_total == 0:
        issues.append(HealthIssue("vcaudit is not watching any calendars or calls",
                                  "There are no Graph subscriptions, so no meeting can be seen. Check the "
                                  "subscriptions timer and the app's Graph permissions."))
    if facts.not_watched:
        issues.append(HealthIssue(
            "Some calendars or calls are not being watched",
            "Graph refused to tell vcaudit about changes there, so meetings in them may be missing from this "
            "digest. Your IT administrator can see Graph's answer on the health page.", tuple(facts.not_watched)))
    if facts.no_access_policy:
        issues.append(HealthIssue(
            "Some organisers' meetings cannot be read",
            "Teams' application access policy does not cover them yet (a policy granted to a group reaches its "
            "direct members only, and takes up to 24 hours): ask IT to add them.", tuple(facts.no_access_policy)))
    if facts.not_covered:
        issues.append(HealthIssue("Not watched by the school's choice", "The school has not granted the "
                                  "permissions these need.", tuple(facts.not_covered)))
    if facts.subscriptions_lapsed:
        issues.append(HealthIssue(
            f"{plural(len(facts.subscriptions_lapsed), 'Graph subscription')} lapsed",
            "While a subscription is lapsed, Graph does not tell vcaudit about new or changed meetings in what "
            "it watched; the reconcile timer recovers what it can.", tuple(facts.subscriptions_lapsed)))
    if facts.expect_subscriptions and facts.subscriptions_total:
        end = min(week_bounds(inputs.week, zone)[1], inputs.now.astimezone(zone))
        if facts.last_notification is None:
            issues.append(HealthIssue("No change notification has ever arrived",
                                      "Graph has not delivered a single notification to the webhook: check the "
                                      "webhook's address and the Function App's access keys."))
        elif facts.last_notification < end - timedelta(hours=24):
            last = facts.last_notification.astimezone(zone)
            issues.append(HealthIssue("Change notifications stopped arriving",
                                      f"The last one arrived on {local_when(last)}; meetings since then may not "
                                      "have been seen."))
    dropped = sum(facts.dropped.values())
    if dropped:
        reasons = ", ".join(f"{reason}: {count:,}" for reason, count in sorted(facts.dropped.items()))
        issues.append(HealthIssue(f"{plural(dropped, 'notification')} refused by the webhook",
                                  f"They did not match a subscription's secret or the school's tenant ({reasons}). "
                                  "If they were genuine, the meetings they announced were missed."))
    if facts.missed:
        recovered = facts.missed - facts.missed_unrecovered
        issues.append(HealthIssue(f"Graph reported {plural(facts.missed, 'missed notification')}",
                                  f"{recovered:,} recovered by a resync, {facts.missed_unrecovered:,} not "
                                  "recovered."))
    poisoned = sum(facts.poison.values())
    if poisoned:
        issues.append(HealthIssue(f"{plural(poisoned, 'message')} failed repeatedly and were set aside",
                                  "The meetings they concern were not evaluated. The poison queues hold them: "
                                  + ", ".join(f"{name} ({count:,})" for name, count in sorted(facts.poison.items()))))
    unreadable: list[str] = []
    for row in sorted(_live_meetings(meetings), key=lambda r: _aware(r.get("Start"), zone) or inputs.now):
        missing = _json(row, "Unavailable")
        if isinstance(missing, list) and missing:
            kinds = sorted({kind_label(str(m.get("kind", "?"))) for m in missing if isinstance(m, dict)})
            why = sorted({plain_reason(str(m.get("reason", ""))) for m in missing if isinstance(m, dict)})
            when = local_when(_aware(row.get("Start"), zone))
            unreadable.append(f"{_text(row, 'Subject') or '(no subject)'}, {when}: the {', '.join(kinds)} "
                              f"could not be read; {'; '.join(why)}")
    if unreadable:
        issues.append(HealthIssue(f"Evidence could not be read for {plural(len(unreadable), 'meeting')}",
                                  "The rules that need that evidence could not check these meetings; they are not "
                                  "counted as verified compliant.", tuple(unreadable)))
    if facts.send_problems:
        issues.append(HealthIssue("Earlier mail from vcaudit may not have arrived",
                                  "Graph did not confirm these; check the sender mailbox's Sent Items and resend "
                                  "with `vcaudit digest --week … --send` if needed.", tuple(facts.send_problems)))
    return issues


def _coverage(inputs: DigestInputs, meetings: Sequence[Mapping[str, Any]]) -> tuple[
        list[CoverageGap], list[tuple[str, int]], list[ConsentGap]]:
    gaps: Counter[tuple[str, str]] = Counter()
    adults: dict[str, tuple[str, set[str]]] = {}
    for row in _live_meetings(meetings) + [r for r in meetings if not r.get("InScope")]:
        entries = _json(row, "Coverage")
        seen: set[tuple[str, str]] = set()
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                reason = str(entry.get("reason", ""))
                seen.add((kind_label(str(entry.get("kind", "?"))), plain_reason(reason) if reason[:3].isdigit()
                          else reason))
        for key in seen:
            gaps[key] += 1
        people = _json(row, "UnclassifiedAdults")
        for person in people if isinstance(people, list) else []:
            if isinstance(person, dict):
                who = str(person.get("id") or person.get("displayName") or "?")
                name = str(person.get("displayName") or person.get("id") or "?")
                adults.setdefault(who, (name, set()))[1].add(_text(row, "RowKey"))
    limitations = [CoverageGap(what, reason, count) for (what, reason), count in
                   sorted(gaps.items(), key=lambda kv: (-kv[1], kv[0]))]
    unclassified = sorted(((name, len(occ)) for name, occ in adults.values()), key=lambda x: (-x[1], x[0]))
    named = {str(r.get("Subject")): str(r.get("SubjectName")) for rows in inputs.findings.values() for r in rows
             if r.get("Subject") and r.get("SubjectName")}
    return limitations, unclassified, _consent_gaps(inputs.directory, named)


def _consent_gaps(directory: Mapping[str, Any] | None, named: Mapping[str, str] | None = None) -> list[ConsentGap]:
    """Class teams and groups with pupils lacking recorded consent, by name: the directory's, else the name a
    finding gave the same pupil (``named``); a pupil with neither is counted, never shown by id."""
    if not directory:
        return []
    pupils = {str(p) for p in directory.get("pupils") or []}
    consent = {str(p) for p in directory.get("consent") or []}
    users = directory.get("users") or {}

    def names(members: Iterable[Any]) -> tuple[tuple[str, ...], int]:
        """Names, never ids: pupils the directory gives no name for are counted instead."""
        lacking = {str(m) for m in members if str(m) in pupils - consent}
        shown_names: set[str] = set()
        unnamed = 0
        for uid in lacking:
            user = users.get(uid) if isinstance(users, dict) else None
            shown = str(user.get("displayName") or "") if isinstance(user, dict) else ""
            shown = shown or (named or {}).get(uid, "")
            if shown:
                shown_names.add(shown)
            else:
                unnamed += 1
        extra = (plural(unnamed, "pupil") + " the directory gives no name for",) if unnamed else ()
        return (*sorted(shown_names), *extra), len(lacking)

    out: list[ConsentGap] = []
    for team in directory.get("classTeams") or []:
        if isinstance(team, dict):
            lacking, count = names(team.get("members") or [])
            if lacking:
                out.append(ConsentGap(str(team.get("displayName") or "a class team"), "class team", lacking, count))
    groups = directory.get("groups") or {}
    for address, members in sorted(groups.items()) if isinstance(groups, dict) else []:
        lacking, count = names(members or [])
        if lacking:
            out.append(ConsentGap(str(address), "group", lacking, count))
    return out


def _staff_groups(issues: Sequence[FindingView], not_staff: set[str]) -> list[StaffGroup]:
    by_person: dict[str, list[FindingView]] = defaultdict(list)
    names: dict[str, str] = {}
    for view in issues:
        key = "~not-staff" if view.occurrence in not_staff else (view.organiser_id or view.organiser or "~unknown")
        by_person[key].append(view)
        names.setdefault(key, view.organiser)
    groups: list[StaffGroup] = []
    for key, views in by_person.items():
        per_meeting: dict[str, list[FindingView]] = defaultdict(list)
        for view in sorted(views, key=_order):
            per_meeting[view.occurrence].append(view)
        meetings = tuple(MeetingIssues(v[0].meeting, v[0].when, v[0].where, tuple(v)) for v in per_meeting.values())
        if key == "~not-staff":
            name, is_staff = "Meetings not organised by a member of staff", False
        elif key == "~unknown":
            name, is_staff = "Organiser not known", False
        else:
            name, is_staff = names[key] or key, True
        groups.append(StaffGroup(name, key, is_staff, meetings))
    groups.sort(key=lambda g: (not g.is_staff, -g.count, g.name.lower()))
    return groups


def build_digest(inputs: DigestInputs) -> Digest:
    zone = inputs.zone
    weeks = previous_weeks(inputs.week, TREND_WEEKS)
    held = frozenset(inputs.alerts_held)
    rows = list(inputs.findings.get(inputs.week, ()))
    meetings = list(inputs.meetings.get(inputs.week, ()))
    views = sorted((finding_view(r, zone, held) for r in rows), key=_order)
    standing = [v for v in views if _standing(v)]
    active = [v for v in standing if v.status not in SET_ASIDE]
    not_staff = {v.occurrence for v in views if v.rule in NOT_STAFF_RULES}
    concerns = [v for v in active if v.severity == "high"]
    issues = [v for v in active if v.severity != "high" and v.rule not in MONITORING_RULES]
    counts = Counter(v.rule for v in standing)
    specs = catalogue()
    by_rule = [RuleCount(rule, specs[rule].title, next(v.severity for v in standing if v.rule == rule), counts[rule])
               for rule in specs if counts.get(rule)]
    by_rule.sort(key=lambda r: (SEVERITY_RANK.get(r.severity, 9), -r.count))
    live = _live_meetings(meetings)
    trend = []
    for week in weeks:
        week_rows = [finding_view(r, zone) for r in inputs.findings.get(week, ())]
        stand = [v for v in week_rows if _standing(v)]
        start = week_bounds(week, zone)[0]
        trend.append(TrendWeek(week, f"{start.day} {start:%b}", len(_live_meetings(inputs.meetings.get(week, ()))),
                               len(stand), sum(1 for v in stand if v.severity == "high"), week == inputs.week))
    week_start, week_end = week_bounds(inputs.week, zone)
    carried: list[FindingView] = []
    annotated = [v for v in views if v.status and v.status != "acknowledged"]
    for week in weeks[:-1]:
        for row in inputs.findings.get(week, ()):
            view = finding_view(row, zone)
            if view.severity == "high" and view.machine_state == "open" and view.status in ("", "acknowledged"):
                carried.append(view)
            elif view.status and view.annotation and view.annotation.at and week_start <= view.annotation.at < week_end:
                annotated.append(view)
    carried.sort(key=_order)
    annotated.sort(key=_order)
    limitations, unclassified, consent_gaps = _coverage(inputs, meetings)
    before = [r for w in weeks[:-1][-1:] for r in inputs.meetings.get(w, ())]
    seen_before = {(g.what, g.reason) for g in _coverage(inputs, before)[0]} if before else set()
    term_start = is_term_start(inputs.week, zone)
    new_limitations = [g for g in limitations if term_start or (g.what, g.reason) not in seen_before]
    verified = sum(1 for r in live if r.get("Compliant") and not _json(r, "Unavailable") and not _json(r, "Coverage"))
    long_label, short_label = week_label(inputs.week, zone)
    not_checkable = [(c.id, c.text, c.note) for c in CLAUSES if c.note]
    return Digest(
        week=inputs.week, label=long_label, short_label=short_label, school=inputs.school,
        generated=inputs.now.astimezone(zone), zone=str(zone.key), health=_health(inputs, meetings),
        limitations=limitations,
        rules_off=[(rule, specs[rule].title if rule in specs else rule, reason) for rule, reason in inputs.rules_off],
        unclassified=unclassified, consent_gaps=consent_gaps, concerns=concerns,
        staff=_staff_groups(issues, not_staff), audited=len(live),
        out_of_scope=sum(1 for r in meetings if not r.get("InScope") and not called_off(r)),
        compliant=sum(1 for r in live if r.get("Compliant")), by_rule=by_rule, trend=trend, carried=carried,
        annotated=annotated, week_findings=views,
        fixed_before_lesson=sum(1 for v in views if v.machine_state == "resolved"),
        alerts_held=sum(1 for v in views if v.alert_held), alert_cap=inputs.alert_cap, not_checkable=not_checkable,
        verified=verified, term_start=term_start, new_limitations=new_limitations, links=inputs.links,
        machine_resolved_high=_machine_resolved_high(rows, specs), prevention=inputs.prevention)


def _machine_resolved_high(rows: list[Mapping[str, Any]], specs: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """High findings of the week the machine resolved, with the reason it recorded."""
    out = []
    for row in rows:
        if _text(row, "Severity") == "high" and _text(row, "MachineState") == "resolved":
            rule = _text(row, "Rule")
            title = specs[rule].title if rule in specs else rule
            out.append((title, _text(row, "MeetingSubject") or "a meeting",
                        _text(row, "ResolvedWhy") or "a later reading no longer showed it"))
    return sorted(out)
