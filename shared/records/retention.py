"""Safeguarding records and data rights: holds (retention never deletes what is held: child-protection
cases), subject access (everything held about one pupil), erasure (where no hold applies), and retention
itself (:func:`purge_older_than`, which the retention timer calls). Every action is audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin import validate
from shared.admin.annotate import NotFound, find_meeting
from shared.admin.query import finding_view, meeting_view, on_hold
from shared.admin.validate import InvalidInput
from shared.records.audit import AuditLog, pupil_ref
from shared.records.consent import ConsentRegister
from shared.records.exemptions import ExemptionStore
from shared.store.keys import finding_id, week_of
from shared.store.tables import Stores

ERASED = "[erased]"
OTHER_PUPIL = "[another pupil]"


# ---------------------------------------------------------------------------------------------- holds
def _target(stores: Stores, kind: str, ident: str) -> tuple[Any, Any, str]:
    if kind == "finding":
        week, row = validate.finding_id(ident)
        entity = stores.findings.get(week, row)
        if entity is None:
            raise NotFound(f"{finding_id(week, row)}: no such finding")
        return stores.findings.table, entity, finding_id(week, row)
    if kind == "meeting":
        entity = find_meeting(stores.meetings.table, ident)
        return stores.meetings.table, entity, f"{entity['PartitionKey']}.{entity['RowKey']}"
    raise InvalidInput(f"'{kind}': expected finding or meeting")


def hold(stores: Stores, audit: AuditLog, kind: str, ident: str, *, reason: str, by: str,
         now: datetime) -> dict[str, Any]:
    """Put a finding or a meeting on hold: retention and erasure leave it (and what it depends on) alone."""
    from azure.data.tables import UpdateMode

    why = validate.comment("reason", reason, limit=1000)
    who = validate.text("by", by, limit=200, required=True) or ""
    table, entity, name = _target(stores, kind, ident)
    value = {"reason": why, "by": who, "at": now.astimezone(UTC).isoformat()}
    table.update_entity({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"],
                         "Hold": json.dumps(value, ensure_ascii=False)}, mode=UpdateMode.MERGE)
    audit.record("hold", f"{kind}:{name}", who, now, reason=why)
    return value


def release(stores: Stores, audit: AuditLog, kind: str, ident: str, *, reason: str, by: str, now: datetime) -> None:
    from azure.data.tables import UpdateMode

    why = validate.comment("reason", reason, limit=1000)
    who = validate.text("by", by, limit=200, required=True) or ""
    table, entity, name = _target(stores, kind, ident)
    if not on_hold(entity):
        raise InvalidInput(f"{name}: not on hold")
    table.update_entity({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], "Hold": ""},
                        mode=UpdateMode.MERGE)
    audit.record("release", f"{kind}:{name}", who, now, reason=why)


# ---------------------------------------------------------------------------------------------- retention
@dataclass(slots=True)
class PurgeReport:
    cutoff_week: str
    findings_deleted: int = 0
    meetings_deleted: int = 0
    blobs_deleted: int = 0
    kept_on_hold: list[str] = field(default_factory=list)


def cutoff_week(now: datetime, retention_days: int, zone: ZoneInfo) -> str:
    """The first week retention keeps: weeks before it hold only data older than ``retention_days``."""
    return week_of((now - timedelta(days=retention_days)).timestamp(), zone)


def _held_occurrences(stores: Stores, cutoff: str) -> set[tuple[str, str]]:
    """(week, occurrence) of every meeting on hold, or with a finding on hold, before the cutoff."""
    held: set[tuple[str, str]] = set()
    for row in stores.findings.table.query_entities(query_filter="PartitionKey lt @cutoff",
                                                    parameters={"cutoff": cutoff},
                                                    select=["PartitionKey", "OccurrenceId", "Hold"]):
        if row.get("Hold"):
            held.add((str(row["PartitionKey"]), str(row.get("OccurrenceId", ""))))
    for row in stores.meetings.table.query_entities(query_filter="PartitionKey lt @cutoff",
                                                    parameters={"cutoff": cutoff},
                                                    select=["PartitionKey", "RowKey", "Hold"]):
        if row.get("Hold"):
            held.add((str(row["PartitionKey"]), str(row["RowKey"])))
    return held


def purge_older_than(stores: Stores, cutoff: str, *, audit: AuditLog | None = None,
                     now: datetime | None = None) -> PurgeReport:
    """Delete findings, meeting-log entries and evidence blobs of weeks before ``cutoff`` (``2025-W47``),
    except what is on hold: a held meeting keeps its findings and evidence, a held finding keeps its
    meeting's log entry and evidence. Idempotent; the retention timer calls it daily."""
    from azure.core.exceptions import ResourceNotFoundError

    cutoff = validate.week("cutoff", cutoff) or ""
    if not cutoff:
        raise InvalidInput("cutoff: required")
    report = PurgeReport(cutoff)
    held = _held_occurrences(stores, cutoff)
    report.kept_on_hold = sorted(f"{w}.{o}" for w, o in held)
    for row in list(stores.findings.table.query_entities(query_filter="PartitionKey lt @cutoff",
                                                         parameters={"cutoff": cutoff},
                                                         select=["PartitionKey", "RowKey", "OccurrenceId", "Hold"])):
        if row.get("Hold") or (str(row["PartitionKey"]), str(row.get("OccurrenceId", ""))) in held:
            continue
        try:
            stores.findings.table.delete_entity(partition_key=row["PartitionKey"], row_key=row["RowKey"])
            report.findings_deleted += 1
        except ResourceNotFoundError:
            continue
    for row in list(stores.meetings.table.query_entities(query_filter="PartitionKey lt @cutoff",
                                                         parameters={"cutoff": cutoff},
                                                         select=["PartitionKey", "RowKey", "EvidenceBlob"])):
        if (str(row["PartitionKey"]), str(row["RowKey"])) in held:
            continue
        try:
            stores.meetings.table.delete_entity(partition_key=row["PartitionKey"], row_key=row["RowKey"])
            report.meetings_deleted += 1
        except ResourceNotFoundError:
            continue
    # Blobs are named WEEK/OCCURRENCE.json: delete every old one not held (orphans too).
    for blob in list(stores.evidence.container.list_blobs()):
        name = str(blob.name)
        week, _, rest = name.partition("/")
        if not validate.WEEK_NAME.match(week) or week >= cutoff:
            continue
        if (week, rest.removesuffix(".json")) in held:
            continue
        stores.evidence.delete(name)
        report.blobs_deleted += 1
    if audit is not None:
        audit.record("retention", f"before:{cutoff}", "retention", now or datetime.now(tz=UTC),
                     findings=report.findings_deleted, meetings=report.meetings_deleted,
                     blobs=report.blobs_deleted, kept=len(report.kept_on_hold))
    return report


# ---------------------------------------------------------------------------------------------- data rights
def _identifiers(pupil_id: str, directory_entry: dict[str, Any] | None) -> list[str]:
    out = [pupil_id]
    for key in ("userPrincipalName", "mail", "displayName"):
        value = (directory_entry or {}).get(key)
        if isinstance(value, str) and len(value) >= 3:
            out.append(value)
    for proxy in (directory_entry or {}).get("proxyAddresses") or []:
        if isinstance(proxy, str) and ":" in proxy:
            out.append(proxy.split(":", 1)[1])
    return out


def _mentions(value: Any, needles: list[str]) -> bool:
    text = json.dumps(value, ensure_ascii=False).casefold()
    return any(n.casefold() in text for n in needles)


def _prune(node: Any, needles: list[str]) -> Any:
    """``node`` with every list, at any depth, cut down to the items that mention the pupil: their sessions,
    attendance records and invitations stay, other pupils' are left out."""
    if isinstance(node, list):
        return [_prune(item, needles) for item in node if _mentions(item, needles)]
    if isinstance(node, dict):
        return {key: _prune(value, needles) for key, value in node.items()}
    return node


def _other_pupils(bundle: dict[str, Any], pupil_id: str, needles: list[str]) -> list[str]:
    """Identifiers of the other pupils in a bundle's directory snapshot (to keep them out of an export)."""
    directory = bundle.get("directory") or {}
    users = directory.get("users") or {}
    others: list[str] = []
    for other in directory.get("pupils") or []:
        if isinstance(other, str) and other.lower() != pupil_id:
            others.extend(_identifiers(other, users.get(other) if isinstance(users, dict) else None))
    return [o for o in others if o not in needles]


def _excerpt(bundle: dict[str, Any], pupil_id: str, needles: list[str]) -> dict[str, Any]:
    """The parts of an evidence bundle that concern the pupil (the directory reduced to their own entry)."""
    out: dict[str, Any] = {key: _prune(value, needles) for key, value in bundle.items()
                           if key != "directory" and _mentions(value, needles)}
    directory = bundle.get("directory") or {}
    users = directory.get("users") or {}
    out = _redact(out, _other_pupils(bundle, pupil_id, needles), OTHER_PUPIL)
    if out and isinstance(users, dict) and isinstance(users.get(pupil_id), dict):
        out["directory"] = {"users": {pupil_id: users[pupil_id]}}
    return out


def _pupil_directory_entry(blobs: list[tuple[str, dict[str, Any]]], pupil_id: str) -> dict[str, Any]:
    for _, bundle in blobs:
        users = (bundle.get("directory") or {}).get("users") or {}
        entry = users.get(pupil_id)
        if isinstance(entry, dict):
            return entry
    return {}


def _bundles(stores: Stores, needle: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for blob in stores.evidence.container.list_blobs():
        name = str(blob.name)
        data = stores.evidence.container.download_blob(name).readall()
        if needle.encode("utf-8") not in data:
            continue
        try:
            bundle = json.loads(data)
        except ValueError:
            continue
        if isinstance(bundle, dict):
            yield name, bundle


def subject_access(stores: Stores, exemptions: ExemptionStore, consent: ConsentRegister, audit: AuditLog,
                   pupil: str, *, by: str, now: datetime) -> dict[str, Any]:
    """Everything held about one pupil: their findings, the meetings they appear in (log entry and only the
    parts of the evidence that concern them), consent register entries and revocations, exemptions, and the
    audit of actions about them."""
    pupil_id = validate.pupil_id(pupil)
    who = validate.text("by", by, limit=200, required=True) or ""
    bundles = list(_bundles(stores, pupil_id))
    entry = _pupil_directory_entry(bundles, pupil_id)
    needles = _identifiers(pupil_id, entry)
    findings = [finding_view(dict(r), now) for r in stores.findings.table.query_entities(
        query_filter="Subject eq @pupil", parameters={"pupil": pupil_id})]
    meetings = []
    occurrences = {f["meeting"] for f in findings}
    for name, _bundle in bundles:
        week, _, rest = name.partition("/")
        occurrences.add(f"{week}.{rest.removesuffix('.json')}")
    by_blob = dict(bundles)
    for meeting in sorted(occurrences):
        week, _, occurrence = meeting.partition(".")
        log = stores.meetings.get(week, occurrence)
        blob = f"{week}/{occurrence}.json"
        found = by_blob.get(blob)
        excerpt = _excerpt(found, pupil_id, needles) if found else None
        if not excerpt and meeting not in {f["meeting"] for f in findings}:
            continue  # named only in the directory snapshot, not in the meeting
        view = meeting_view(log.entity) if log else None
        if view is not None and found:
            view = _redact(view, _other_pupils(found, pupil_id, needles), OTHER_PUPIL)
        meetings.append({"meeting": meeting, "log": view, "evidence": excerpt})
    register = consent.about_pupil(pupil_id)
    export = {
        "pupil": pupil_id, "generatedAt": now.astimezone(UTC).isoformat(), "generatedBy": who,
        "directory": entry or None, "findings": findings, "meetings": meetings,
        "consent": {k: [_plain(r) for r in v] for k, v in register.items()},
        "exemptions": [e.to_json() for e in exemptions.about_pupil(pupil_id)],
        "audit": [{"action": e.action, "by": e.by, "at": e.at.isoformat(), "detail": e.detail}
                  for e in audit.entries(target=pupil_ref(pupil_id))],
    }
    audit.record("subject-access", pupil_ref(pupil_id), who, now, findings=len(findings), meetings=len(meetings))
    return export


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _redact(value: Any, needles: list[str], replacement: str = ERASED) -> Any:
    if isinstance(value, dict):
        return {(replacement if isinstance(k, str) and k in needles else k): _redact(v, needles, replacement)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, needles, replacement) for v in value]
    if isinstance(value, str):
        out = value
        for needle in needles:
            if needle.casefold() in out.casefold():
                out = _replace_casefold(out, needle, replacement)
        return out
    return value


def _replace_casefold(text: str, needle: str, replacement: str) -> str:
    import re

    return re.sub(re.escape(needle), replacement, text, flags=re.IGNORECASE)


@dataclass(slots=True)
class ErasureReport:
    pupil: str
    findings_deleted: int = 0
    findings_redacted: int = 0
    blobs_redacted: int = 0
    notes_redacted: int = 0
    consent_rows_deleted: int = 0
    exemptions_deleted: int = 0
    kept_on_hold: list[str] = field(default_factory=list)


def erase(stores: Stores, exemptions: ExemptionStore, consent: ConsentRegister, audit: AuditLog, pupil: str, *,
          by: str, now: datetime, reason: str) -> ErasureReport:
    """Erase one pupil: their findings deleted, their identifiers redacted from other findings and from the
    evidence, their consent entries and exemptions deleted; whatever is on hold is left as it is and listed.
    Holds are decided per meeting: a held meeting, or a meeting with any finding on hold, keeps all its
    findings, notes and evidence (listed as ``WEEK.OCCURRENCE`` in ``kept_on_hold``). Idempotent. The audit
    keeps only a one-way reference to the pupil."""
    from azure.data.tables import UpdateMode

    pupil_id = validate.pupil_id(pupil)
    who = validate.text("by", by, limit=200, required=True) or ""
    why = validate.comment("reason", reason, limit=1000)
    report = ErasureReport(pupil_ref(pupil_id))
    bundles = list(_bundles(stores, pupil_id))
    needles = _identifiers(pupil_id, _pupil_directory_entry(bundles, pupil_id))
    held_meetings = {(str(r["PartitionKey"]), str(r["RowKey"]))
                     for r in stores.meetings.table.query_entities(query_filter="Hold ne @empty",
                                                                   parameters={"empty": ""},
                                                                   select=["PartitionKey", "RowKey", "Hold"])
                     if r.get("Hold")}
    rows = list(stores.findings.table.list_entities())
    # Decided per meeting, before anything is changed: a hold on any finding of a meeting keeps the whole
    # meeting (its findings, notes and evidence) as it is, whatever order the rows come in.
    held_meetings |= {(str(r["PartitionKey"]), str(r.get("OccurrenceId", ""))) for r in rows if r.get("Hold")}
    for row in rows:
        key = (str(row["PartitionKey"]), str(row.get("OccurrenceId", "")))
        if not _mentions({k: row.get(k) for k in ("Subject", "SubjectName", "Summary", "Evidence")}, needles):
            continue
        if key in held_meetings:
            report.kept_on_hold.append(finding_id(str(row["PartitionKey"]), str(row["RowKey"])))
            report.kept_on_hold.append(f"{key[0]}.{key[1]}")
            continue
        if str(row.get("Subject", "")).lower() == pupil_id:
            stores.findings.table.delete_entity(partition_key=row["PartitionKey"], row_key=row["RowKey"])
            report.findings_deleted += 1
        else:
            stores.findings.table.update_entity({
                "PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"],
                "Summary": _redact(row.get("Summary", ""), needles),
                "Evidence": _redact(row.get("Evidence", ""), needles)}, mode=UpdateMode.MERGE)
            report.findings_redacted += 1
    for name, bundle in bundles:
        week, _, rest = name.partition("/")
        if (week, rest.removesuffix(".json")) in held_meetings:
            report.kept_on_hold.append(f"{week}.{rest.removesuffix('.json')}")
            continue
        stores.evidence.container.upload_blob(name, json.dumps(_redact(bundle, needles), ensure_ascii=False,
                                                               separators=(",", ":")).encode("utf-8"),
                                              overwrite=True)
        report.blobs_redacted += 1
    for row in list(stores.meetings.table.list_entities(select=["PartitionKey", "RowKey", "Note", "Hold"])):
        if not row.get("Note") or not _mentions(row.get("Note"), needles):
            continue
        if (str(row["PartitionKey"]), str(row["RowKey"])) in held_meetings:
            report.kept_on_hold.append(f"{row['PartitionKey']}.{row['RowKey']}")
            continue
        stores.meetings.table.update_entity({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"],
                                             "Note": _redact(row["Note"], needles)}, mode=UpdateMode.MERGE)
        report.notes_redacted += 1
    report.kept_on_hold = sorted(set(report.kept_on_hold))
    report.consent_rows_deleted = consent.forget_pupil(pupil_id)
    report.exemptions_deleted = exemptions.forget_pupil(pupil_id)
    audit.record("erase", report.pupil, who, now, reason=why, findings_deleted=report.findings_deleted,
                 findings_redacted=report.findings_redacted, blobs_redacted=report.blobs_redacted,
                 consent_rows_deleted=report.consent_rows_deleted, exemptions_deleted=report.exemptions_deleted,
                 kept_on_hold=report.kept_on_hold)
    return report


def week_now(now: datetime, zone: ZoneInfo) -> str:
    return week_of(now.timestamp(), zone)
