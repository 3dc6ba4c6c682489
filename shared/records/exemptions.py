"""Standing exemptions: what recurs and is approved (an SEN one-to-one series, a visiting author invited as a
guest). Scoped by rule and by one of: a meeting series, an organiser, a pupil, an external identity; with a
reason, an approver and an expiry. Matching findings are still stored, marked with the exemption's id, and
counted apart in the digest.

The evaluation worker calls :func:`apply_exemptions` after recording an occurrence (or :func:`exemption_for`
per finding entity). ``consent-missing`` and ``evidence-unavailable`` cannot be exempted: consent belongs in
the consent register, and evidence that could not be read must never read as compliance.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin import validate
from shared.admin.validate import InvalidInput
from shared.policy.catalogue import catalogue
from shared.records.audit import AuditLog, pupil_ref
from shared.store.keys import finding_id

SCOPES = ("series", "organiser", "pupil", "external")
NOT_EXEMPTABLE = {spec.id: spec.not_exemptable for spec in catalogue().values() if not spec.exemptable}
MAX_DAYS = 400
PARTITION = "exemption"


def series_id_of(bundle: Mapping[str, Any] | None) -> str | None:
    """A meeting series' id from an evidence bundle: the chat thread, and for a channel meeting (whose thread
    is the channel's) the meeting's message id too. ``vcaudit meeting ID`` prints it."""
    if not bundle:
        return None
    meeting = bundle.get("onlineMeeting")
    chat = meeting.get("chatInfo") if isinstance(meeting, dict) else None
    thread = chat.get("threadId") if isinstance(chat, dict) else None
    if not isinstance(thread, str) or not thread:
        return None
    message = chat.get("messageId") if isinstance(chat, dict) else None
    if isinstance(message, str) and message and message != "0":
        return f"{thread.lower()}/{message}"
    return thread.lower()


@dataclass(frozen=True, slots=True)
class Exemption:
    id: str
    rule: str
    scope: str
    value: str
    reason: str
    approver: str
    expires: date  # inclusive
    lapses: datetime  # midnight after ``expires``, school time
    created_by: str
    created_at: datetime
    removed_at: datetime | None = None
    removed_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.removed_at is None and now < self.lapses

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "scope": self.scope, "value": self.value, "reason": self.reason,
                "approver": self.approver, "expires": self.expires.isoformat(),
                "createdBy": self.created_by, "createdAt": self.created_at.isoformat(),
                "removedAt": self.removed_at.isoformat() if self.removed_at else None,
                "removedBy": self.removed_by}


def _matches(exemption: Exemption, finding: Mapping[str, Any], series_id: str | None) -> bool:
    if exemption.rule != finding.get("Rule"):
        return False
    if exemption.scope == "organiser":
        return str(finding.get("OrganiserId") or "").lower() == exemption.value
    if exemption.scope in ("pupil", "external"):
        return str(finding.get("Subject") or "").casefold() == exemption.value.casefold()
    series = series_id or finding.get("SeriesId")
    return isinstance(series, str) and series.lower() == exemption.value.lower()


def exemption_for(finding: Mapping[str, Any], exemptions: Iterable[Exemption], now: datetime, *,
                  series_id: str | None = None) -> Exemption | None:
    """The standing exemption covering a finding entity now, if any (pure). ``series_id``: the meeting
    series (:func:`series_id_of` of the bundle); a ``SeriesId`` key in the entity serves too."""
    if finding.get("Rule") in NOT_EXEMPTABLE:
        return None
    for exemption in sorted(exemptions, key=lambda e: e.id):
        if exemption.active(now) and _matches(exemption, finding, series_id):
            return exemption
    return None


def _value(scope: str, value: str) -> str:
    if scope in ("organiser", "pupil"):
        if not validate.GUID.match(value.strip()):
            raise InvalidInput(f"{scope}: '{value[:60]}' is not a user id (GUID)")
        return value.strip().lower()
    cleaned = validate.text(scope, value, required=True) or ""
    if scope == "external" and "@" not in cleaned:
        raise InvalidInput(f"external: '{cleaned[:60]}' is not an address; expected the guest's email address")
    if scope == "series" and not cleaned.startswith("19:"):
        raise InvalidInput(f"series: '{cleaned[:60]}' is not a series id; copy it from vcaudit meeting ID")
    return cleaned.lower() if scope == "series" else cleaned


class ExemptionStore:
    def __init__(self, table: Any, audit: AuditLog) -> None:
        self.table = table
        self.audit = audit

    def add(self, *, rule: str, scope: str, value: str, reason: str, approver: str, expires: date, by: str,
            now: datetime, zone: ZoneInfo) -> Exemption:
        chosen = validate.rule("rule", rule)
        if chosen is None:
            raise InvalidInput("rule: required")
        if chosen in NOT_EXEMPTABLE:
            raise InvalidInput(f"rule: {chosen} cannot be exempted; {NOT_EXEMPTABLE[chosen]}")
        kind = validate.choice("scope", scope, SCOPES)
        if kind is None:
            raise InvalidInput(f"scope: required; one of {', '.join(SCOPES)}")
        today = now.astimezone(zone).date()
        if expires < today:
            raise InvalidInput(f"expires: {expires} is in the past")
        if expires > today + timedelta(days=MAX_DAYS):
            raise InvalidInput(f"expires: more than {MAX_DAYS} days ahead; exemptions are reviewed at least yearly")
        exemption = Exemption(uuid.uuid4().hex[:12], chosen, kind, _value(kind, value),
                              validate.comment("reason", reason, limit=1000),
                              validate.text("approver", approver, limit=200, required=True) or "",
                              expires, validate.end_of_day(expires, zone),
                              validate.text("by", by, limit=200, required=True) or "", now.astimezone(UTC))
        self.table.create_entity({
            "PartitionKey": PARTITION, "RowKey": exemption.id, "Rule": exemption.rule, "Scope": exemption.scope,
            "Value": exemption.value, "Reason": exemption.reason, "Approver": exemption.approver,
            "Expires": exemption.expires.isoformat(), "Lapses": exemption.lapses.astimezone(UTC),
            "CreatedBy": exemption.created_by, "CreatedAt": exemption.created_at})
        self.audit.record("exemption-add", f"exemption:{exemption.id}", exemption.created_by, now,
                          rule=exemption.rule, scope=exemption.scope,
                          value=pupil_ref(exemption.value) if kind == "pupil" else exemption.value,
                          reason=exemption.reason, approver=exemption.approver, expires=exemption.expires)
        return exemption

    def all(self) -> list[Exemption]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p", parameters={"p": PARTITION})
        return sorted((_from_entity(dict(r)) for r in rows), key=lambda e: e.created_at)

    def active(self, now: datetime) -> list[Exemption]:
        return [e for e in self.all() if e.active(now)]

    def remove(self, exemption_id: str, *, by: str, now: datetime) -> Exemption:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import UpdateMode

        key = exemption_id.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{12}", key):
            raise InvalidInput(f"'{exemption_id[:40]}' is not an exemption id; see vcaudit exemption list")
        who = validate.text("by", by, limit=200, required=True) or ""
        try:
            current = _from_entity(dict(self.table.get_entity(partition_key=PARTITION, row_key=key)))
        except ResourceNotFoundError:
            raise InvalidInput(f"{key}: no such exemption") from None
        if current.removed_at is not None:
            return current
        stamp = now.astimezone(UTC)
        self.table.update_entity({"PartitionKey": PARTITION, "RowKey": key, "RemovedAt": stamp, "RemovedBy": who},
                                 mode=UpdateMode.MERGE)
        self.audit.record("exemption-remove", f"exemption:{key}", who, now)
        return replace(current, removed_at=stamp, removed_by=who)

    def forget_pupil(self, pupil_id: str) -> int:
        """Erasure: delete exemptions scoped to the pupil."""
        rows = list(self.table.query_entities(query_filter="PartitionKey eq @p and Scope eq @scope and Value eq @v",
                                              parameters={"p": PARTITION, "scope": "pupil", "v": pupil_id}))
        for row in rows:
            self.table.delete_entity(partition_key=PARTITION, row_key=row["RowKey"])
        return len(rows)

    def about_pupil(self, pupil_id: str) -> list[Exemption]:
        return [e for e in self.all() if e.scope == "pupil" and e.value == pupil_id]


def _from_entity(row: dict[str, Any]) -> Exemption:
    lapses = row.get("Lapses")
    created = row.get("CreatedAt")
    return Exemption(str(row["RowKey"]), str(row.get("Rule", "")), str(row.get("Scope", "")),
                     str(row.get("Value", "")), str(row.get("Reason", "")), str(row.get("Approver", "")),
                     date.fromisoformat(str(row.get("Expires"))),
                     lapses if isinstance(lapses, datetime) else datetime.min.replace(tzinfo=UTC),
                     str(row.get("CreatedBy", "")),
                     created if isinstance(created, datetime) else datetime.min.replace(tzinfo=UTC),
                     row.get("RemovedAt") if isinstance(row.get("RemovedAt"), datetime) else None,
                     row.get("RemovedBy") or None)


def apply_exemptions(findings_table: Any, week: str, occurrence_id: str, exemptions: Iterable[Exemption],
                     now: datetime, *, series_id: str | None = None) -> list[str]:
    """Mark an occurrence's open findings covered by a standing exemption (``ExemptionId``), once: a finding
    already marked keeps its mark. Returns the finding ids marked now. Call after ``Recorder.record``."""
    from azure.data.tables import UpdateMode

    chosen = list(exemptions)
    if not chosen:
        return []
    rows = findings_table.query_entities(query_filter="PartitionKey eq @week and OccurrenceId eq @occurrence",
                                         parameters={"week": week, "occurrence": occurrence_id})
    marked: list[str] = []
    for row in rows:
        if row.get("ExemptionId") or row.get("MachineState") == "resolved":
            continue
        exemption = exemption_for(row, chosen, now, series_id=series_id)
        if exemption is None:
            continue
        findings_table.update_entity({"PartitionKey": week, "RowKey": row["RowKey"], "ExemptionId": exemption.id},
                                     mode=UpdateMode.MERGE)
        marked.append(finding_id(week, row["RowKey"]))
    return marked
