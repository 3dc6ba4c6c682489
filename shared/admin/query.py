"""Querying the findings table and the meeting log: filters built with ``@name`` parameters only, results
paged through Table Storage continuation tokens, a finding's effective status (people's word over the
machine's; accepted risk lapsing on its date).

Every value a person gives becomes a query *parameter*; azure-data-tables quotes it (doubling ``'``), so
``' or 1 eq 1`` is searched for literally. The SDK finds placeholders by splitting the filter on spaces,
so every ``@name`` stands between spaces in the templates below.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin import validate
from shared.admin.validate import GUID, InvalidInput
from shared.occurrence_life import called_off
from shared.store.keys import finding_id, week_of

PEOPLE_STATUSES = ("acknowledged", "accepted-risk", "false-positive", "resolved")
STATUSES = ("open", "acknowledged", "accepted-risk", "false-positive", "resolved", "exempt")
MAX_PAGE = 1000
MAX_RANGE_DAYS = 800
TOKEN_LIMIT = 1024

Entity = dict[str, Any]
# Turns an organiser's UPN into their user id (a directory file, or Graph); None when unknown.
UpnResolver = Callable[[str], "str | None"]


# ---------------------------------------------------------------------------------------------- status
def annotation_history(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = entity.get("Annotations")
    if not isinstance(raw, str) or not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def risk_lapses_at(entity: Mapping[str, Any]) -> datetime | None:
    """When an accepted risk lapses (the ``until`` of the annotation that set it), if it is accepted."""
    if entity.get("Status") != "accepted-risk":
        return None
    for item in reversed(annotation_history(entity)):
        if item.get("status") == "accepted-risk":
            return _moment(item.get("lapses"))
    return None


def effective_status(entity: Mapping[str, Any], now: datetime) -> str:
    """What a finding's status is now: false positive, accepted risk (until it lapses) or resolved as people
    said; else resolved when the machine resolved it; exempt under a standing exemption; acknowledged; open."""
    status = entity.get("Status")
    if status == "accepted-risk":
        lapses = risk_lapses_at(entity)
        if lapses is not None and now < lapses:
            return "accepted-risk"
        status = None  # lapsed: back to open (the history keeps it)
    if status in ("false-positive", "resolved"):
        return str(status)
    if entity.get("MachineState") == "resolved":
        return "resolved"
    if entity.get("ExemptionId"):
        return "exempt"
    if status == "acknowledged":
        return "acknowledged"
    return "open"


def on_hold(entity: Mapping[str, Any]) -> bool:
    return bool(entity.get("Hold"))


# ---------------------------------------------------------------------------------------------- filters
@dataclass(frozen=True, slots=True)
class Query:
    """A parameterised Table Storage filter plus the part that can only be judged here (status)."""

    odata: str
    parameters: dict[str, Any]
    accept: Callable[[Entity], bool] = field(default=lambda _: True)

    def __post_init__(self) -> None:
        for word in self.odata.split(" "):
            if word.startswith("@") and word[1:] not in self.parameters:
                raise AssertionError(f"filter placeholder {word} has no parameter")


class _Builder:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.parameters: dict[str, Any] = {}

    def add(self, template: str, **parameters: Any) -> None:
        self.clauses.append(template)
        self.parameters.update(parameters)

    def odata(self) -> str:
        return " and ".join(self.clauses)


def _window(builder: _Builder, week: str | None, date_from: date | None, date_to: date | None,
            zone: ZoneInfo) -> None:
    if week and (date_from or date_to):
        raise InvalidInput("give either a week or a date range (from/to), not both")
    if week:
        builder.add("PartitionKey eq @week", week=week)
        return
    if not (date_from or date_to):
        return
    if date_from and date_to and date_to < date_from:
        raise InvalidInput(f"to: {date_to} is before from: {date_from}")
    if date_from and date_to and (date_to - date_from).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"from/to: more than {MAX_RANGE_DAYS} days; narrow the range")
    if date_from:
        start = datetime(date_from.year, date_from.month, date_from.day, tzinfo=zone)
        builder.add("PartitionKey ge @fromweek and Start ge @fromtime",
                    fromweek=week_of(start.timestamp(), zone), fromtime=start.astimezone(UTC))
    if date_to:
        end = validate.end_of_day(date_to, zone)
        last = datetime(date_to.year, date_to.month, date_to.day, tzinfo=zone)
        builder.add("PartitionKey le @toweek and Start lt @totime",
                    toweek=week_of(last.timestamp(), zone), totime=end.astimezone(UTC))


def _organiser(builder: _Builder, value: str | None, resolve_upn: UpnResolver | None) -> None:
    if value is None:
        return
    if GUID.match(value):
        builder.add("OrganiserId eq @organiser", organiser=value.lower())
    elif "@" in value:
        user_id = resolve_upn(value) if resolve_upn is not None else None
        if user_id is None:
            hint = "" if resolve_upn is not None else " (give a directory to look UPNs up, or the user id or name)"
            raise InvalidInput(f"organiser: no user '{value[:80]}' in the directory{hint}")
        builder.add("OrganiserId eq @organiser", organiser=user_id.lower())
    else:
        builder.add("OrganiserName eq @organiser", organiser=value)


@dataclass(frozen=True, slots=True)
class FindingFilter:
    week: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    organiser: str | None = None
    team: str | None = None
    subject: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, str | None]) -> FindingFilter:
        """From strings (CLI options or HTTP query parameters), every one validated."""
        return cls(week=validate.week("week", raw.get("week")), date_from=validate.day("from", raw.get("from")),
                   date_to=validate.day("to", raw.get("to")), rule=validate.rule("rule", raw.get("rule")),
                   severity=validate.severity("severity", raw.get("severity")),
                   status=validate.choice("status", raw.get("status"), STATUSES),
                   organiser=validate.text("organiser", raw.get("organiser")),
                   team=validate.text("team", raw.get("team")), subject=validate.text("subject", raw.get("subject")))

    @property
    def about_findings(self) -> bool:
        """Whether it says anything beyond the meeting (used to pick meetings by their findings)."""
        return any((self.rule, self.severity, self.status, self.subject))

    def query(self, zone: ZoneInfo, now: datetime, resolve_upn: UpnResolver | None = None) -> Query:
        b = _Builder()
        _window(b, self.week, self.date_from, self.date_to, zone)
        if self.rule:
            b.add("Rule eq @rule", rule=self.rule)
        if self.severity:
            b.add("Severity eq @severity", severity=self.severity)
        if self.status in ("accepted-risk", "false-positive"):
            b.add("Status eq @status", status=self.status)
        _organiser(b, self.organiser, resolve_upn)
        if self.team:
            b.add("Team eq @team", team=self.team)
        if self.subject:
            if GUID.match(self.subject):
                b.add("Subject eq @subject", subject=self.subject.lower())
            else:
                b.add("( Subject eq @subject or SubjectName eq @subjectname )", subject=self.subject,
                      subjectname=self.subject)
        wanted = self.status

        def accept(entity: Entity) -> bool:
            return wanted is None or effective_status(entity, now) == wanted

        return Query(b.odata(), b.parameters, accept)


@dataclass(frozen=True, slots=True)
class MeetingFilter:
    """The meeting log's filters: the same window, organiser and team; ``title`` is the meeting's subject
    line; the finding filters (rule, severity, status, subject) pick meetings having such a finding."""

    findings: FindingFilter = FindingFilter()
    title: str | None = None
    in_scope: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, str | None]) -> MeetingFilter:
        scope = validate.choice("in-scope", raw.get("in_scope"), ("yes", "no", "true", "false"))
        return cls(FindingFilter.parse(raw), validate.text("title", raw.get("title")),
                   None if scope is None else scope in ("yes", "true"))

    def query(self, zone: ZoneInfo, now: datetime, resolve_upn: UpnResolver | None = None,
              occurrences: set[tuple[str, str]] | None = None) -> Query:
        f = self.findings
        b = _Builder()
        _window(b, f.week, f.date_from, f.date_to, zone)
        _organiser(b, f.organiser, resolve_upn)
        if f.team:
            b.add("Team eq @team", team=f.team)
        if self.title:
            b.add("Subject eq @title", title=self.title)
        if self.in_scope is not None:
            b.add("InScope eq @inscope", inscope=self.in_scope)

        def accept(entity: Entity) -> bool:
            return occurrences is None or (str(entity.get("PartitionKey")), str(entity.get("RowKey"))) in occurrences

        return Query(b.odata(), b.parameters, accept)


# ---------------------------------------------------------------------------------------------- paging
def encode_token(token: Mapping[str, Any] | None) -> str | None:
    if not token:
        return None
    data = json.dumps({"pk": token.get("PartitionKey"), "rk": token.get("RowKey")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(value: str | None) -> dict[str, str] | None:
    """A continuation token as printed by an earlier page; anything else is refused."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > TOKEN_LIMIT:
        raise InvalidInput("continuation: too long")
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("continuation: not a token printed by an earlier page") from None
    if not isinstance(raw, dict) or set(raw) != {"pk", "rk"}:
        raise InvalidInput("continuation: not a token printed by an earlier page")
    out: dict[str, str] = {}
    for ours, theirs in (("pk", "PartitionKey"), ("rk", "RowKey")):
        item = raw[ours]
        if item is None:
            continue
        if not isinstance(item, str) or len(item) > 512:
            raise InvalidInput("continuation: not a token printed by an earlier page")
        out[theirs] = item
    return out or None


@dataclass(slots=True)
class Page:
    items: list[Entity]
    continuation: str | None


def page(table: Any, query: Query, *, limit: int, continuation: str | None = None) -> Page:
    """Up to ``limit`` matching entities from where ``continuation`` left off, and the token for the rest.

    Each request asks the service for at most the number still wanted, so a page always ends on a service
    page boundary and the service's own continuation token resumes exactly after the last item returned."""
    token: dict[str, str] | None = decode_token(continuation)
    items: list[Entity] = []
    while True:
        need = min(limit - len(items), MAX_PAGE)
        if query.odata:
            paged = table.query_entities(query_filter=query.odata, parameters=query.parameters,
                                         results_per_page=need)
        else:
            paged = table.list_entities(results_per_page=need)
        pages = paged.by_page(continuation_token=token)
        rows = next(pages, None)
        batch = [dict(row) for row in rows] if rows is not None else []
        token = pages.continuation_token
        items.extend(row for row in batch if query.accept(row))
        if not token or len(items) >= limit:
            return Page(items, encode_token(token))


def every(table: Any, query: Query) -> Iterator[Entity]:
    """Every matching entity, following continuation tokens to the end."""
    token: str | None = None
    while True:
        result = page(table, query, limit=MAX_PAGE, continuation=token)
        yield from result.items
        if result.continuation is None:
            return
        token = result.continuation


# ---------------------------------------------------------------------------------------------- views
def _iso(value: Any) -> str | None:
    moment = _moment(value)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _changed_after_start(entity: Mapping[str, Any]) -> str | None:
    """Why the event changed once the lesson had taken place (it was moved, cancelled or deleted afterwards)."""
    if entity.get("Cancelled") and not called_off(entity):
        return str(entity.get("CancelledReason") or "") or None
    return None


def _json_field(entity: Mapping[str, Any], key: str) -> Any:
    raw = entity.get(key)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def finding_view(entity: Mapping[str, Any], now: datetime, *, evidence: bool = True) -> dict[str, Any]:
    week = str(entity.get("PartitionKey", ""))
    out: dict[str, Any] = {
        "id": finding_id(week, str(entity.get("RowKey", ""))), "week": week,
        "status": effective_status(entity, now), "machineState": entity.get("MachineState") or "open",
        "rule": entity.get("Rule", ""), "severity": entity.get("Severity", ""),
        "subject": entity.get("Subject") or None, "subjectName": entity.get("SubjectName") or None,
        "clauses": str(entity.get("Clauses") or "").split(), "summary": entity.get("Summary", ""),
        "meeting": f"{week}.{entity.get('OccurrenceId', '')}", "meetingSubject": entity.get("MeetingSubject") or None,
        "organiserId": entity.get("OrganiserId") or None, "organiserName": entity.get("OrganiserName") or None,
        "team": entity.get("Team") or None, "start": _iso(entity.get("Start")),
        "firstSeen": _iso(entity.get("FirstSeen")), "lastSeen": _iso(entity.get("LastSeen")),
        "resolvedAt": _iso(entity.get("ResolvedAt")), "exemptionId": entity.get("ExemptionId") or None,
        "hold": _json_field(entity, "Hold") if entity.get("Hold") else None,
        "annotations": annotation_history(entity),
    }
    lapses = risk_lapses_at(entity)
    if lapses is not None and now >= lapses:
        out["riskLapsed"] = _iso(lapses)
    if evidence:
        out["evidence"] = _json_field(entity, "Evidence")
    return out


def meeting_view(entity: Mapping[str, Any]) -> dict[str, Any]:
    week = str(entity.get("PartitionKey", ""))
    return {
        "id": f"{week}.{entity.get('RowKey', '')}", "week": week, "subject": entity.get("Subject") or None,
        "start": _iso(entity.get("Start")), "end": _iso(entity.get("End")),
        "organiserId": entity.get("OrganiserId") or None, "organiserName": entity.get("OrganiserName") or None,
        "team": entity.get("Team") or None, "where": entity.get("Where") or None,
        "inScope": bool(entity.get("InScope")), "stages": str(entity.get("Stages") or "").split(),
        "staffCount": entity.get("StaffCount"), "pupilCount": entity.get("PupilCount"),
        "findingsCount": entity.get("FindingsCount"), "compliant": entity.get("Compliant"),
        "coverage": _json_field(entity, "Coverage"), "unavailable": _json_field(entity, "Unavailable"),
        "unclassifiedAdults": _json_field(entity, "UnclassifiedAdults"),
        "cancelled": called_off(entity), "changedAfterStart": _changed_after_start(entity),
        "evidenceBlob": entity.get("EvidenceBlob") or None,
        "note": _json_field(entity, "Note"), "hold": _json_field(entity, "Hold") if entity.get("Hold") else None,
    }
