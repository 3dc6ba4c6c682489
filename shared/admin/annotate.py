"""People's word on findings and meetings: annotations (status with who, when, why; the history kept),
a teacher's note on a meeting-log entry (policy S12), holds. Never a machine field; never a deletion."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin import validate
from shared.admin.query import PEOPLE_STATUSES, annotation_history
from shared.admin.validate import InvalidInput
from shared.records.audit import AuditLog
from shared.store.keys import finding_id as make_finding_id

FIELD_LIMIT = 30_000  # a table string property holds 32K UTF-16 code units
ATTEMPTS = 5


class NotFound(LookupError):
    """No such finding or meeting. The message is one line."""


def _bounded(history: list[dict[str, Any]]) -> str:
    """The history as JSON within a table property; the oldest entries give way (the audit keeps them all)."""
    while True:
        text = json.dumps(history, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= FIELD_LIMIT or len(history) <= 1:
            return text[:FIELD_LIMIT]
        history = history[1:]


def _get(table: Any, week: str, row: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return table.get_entity(partition_key=week, row_key=row)
    except ResourceNotFoundError:
        return None


def _merge_if_unchanged(table: Any, entity: dict[str, Any], etag: str | None) -> bool:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
    from azure.data.tables import UpdateMode

    try:
        table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)
    except ResourceModifiedError:
        return False
    except ResourceNotFoundError:
        raise NotFound(f"{entity['PartitionKey']}.{entity['RowKey']}: deleted meanwhile") from None
    return True


def annotate(findings_table: Any, audit: AuditLog, finding: str, *, status: str, comment: str, by: str,
             now: datetime, zone: ZoneInfo, until: date | None = None) -> dict[str, Any]:
    """Set a finding's status with a comment; the annotation joins its history. Returns the stored entity.

    ``accepted-risk`` needs ``until`` (a date, inclusive): the risk lapses at midnight after it, in the
    school's time zone, and the finding reads as open again."""
    week, row = validate.finding_id(finding)
    chosen = validate.choice("status", status, PEOPLE_STATUSES)
    if chosen is None:
        raise InvalidInput(f"status: required; one of {', '.join(PEOPLE_STATUSES)}")
    text = validate.comment("comment", comment)
    who = validate.text("by", by, limit=200, required=True) or ""
    lapses: datetime | None = None
    if chosen == "accepted-risk":
        if until is None:
            raise InvalidInput("until: an accepted risk needs a date it lapses on (YYYY-MM-DD)")
        if until < now.astimezone(zone).date():
            raise InvalidInput(f"until: {until} is in the past")
        lapses = validate.end_of_day(until, zone)
    elif until is not None:
        raise InvalidInput("until: only an accepted risk lapses; leave it out for this status")
    for _ in range(ATTEMPTS):
        current = _get(findings_table, week, row)
        if current is None:
            raise NotFound(f"{make_finding_id(week, row)}: no such finding")
        item: dict[str, Any] = {"status": chosen, "comment": text, "by": who, "at": now.isoformat()}
        if until is not None and lapses is not None:
            item["until"] = until.isoformat()
            item["lapses"] = lapses.isoformat()
        history = [*annotation_history(current), item]
        update = {"PartitionKey": week, "RowKey": row, "Status": chosen, "Annotations": _bounded(history)}
        if _merge_if_unchanged(findings_table, update, current.metadata.get("etag")):
            audit.record("annotate", make_finding_id(week, row), who, now, status=chosen, comment=text,
                         until=item.get("until"))
            return {**dict(current), **update}
    raise RuntimeError(f"{make_finding_id(week, row)}: changed {ATTEMPTS} times while annotating; try again")


def find_meeting(meetings_table: Any, meeting: str) -> Any:
    """A meeting-log entry by ``WEEK.OCCURRENCE`` or bare occurrence id."""
    week, occurrence = validate.meeting_id(meeting)
    if week is not None:
        found = _get(meetings_table, week, occurrence)
    else:
        rows = list(meetings_table.query_entities(query_filter="RowKey eq @occurrence",
                                                  parameters={"occurrence": occurrence}))
        found = rows[0] if rows else None
    if found is None:
        raise NotFound(f"{meeting.strip()[:60]}: no such meeting in the log")
    return found


def add_note(meetings_table: Any, audit: AuditLog, meeting: str, *, text: str, by: str,
             now: datetime) -> dict[str, Any]:
    """A teacher's account of what went wrong (policy S12), kept with the meeting-log entry; earlier notes
    stay."""
    body = validate.comment("note", text, limit=4000)
    who = validate.text("by", by, limit=200, required=True) or ""
    for _ in range(ATTEMPTS):
        current = find_meeting(meetings_table, meeting)
        raw = current.get("Note")
        try:
            notes = json.loads(raw) if isinstance(raw, str) and raw else []
        except ValueError:
            notes = []
        notes = [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []
        notes.append({"text": body, "by": who, "at": now.isoformat()})
        update = {"PartitionKey": current["PartitionKey"], "RowKey": current["RowKey"], "Note": _bounded(notes)}
        if _merge_if_unchanged(meetings_table, update, current.metadata.get("etag")):
            audit.record("note", f"{current['PartitionKey']}.{current['RowKey']}", who, now, text=body)
            return {**dict(current), **update}
    raise RuntimeError(f"{meeting}: changed {ATTEMPTS} times while adding the note; try again")
