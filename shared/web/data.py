"""What the desk reads and writes, in one place: every call into the stores and the admin tools goes through
here, so the pages never depend on where a table lives."""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin.annotate import NotFound, annotate
from shared.admin.context import Admin, open_admin
from shared.admin.directory import Pupil
from shared.admin.query import annotation_history, effective_status, on_hold
from shared.admin.validate import InvalidInput
from shared.digest.collect import MailContext, collect
from shared.digest.model import Digest
from shared.occurrence_life import called_off
from shared.records import retention as records
from shared.records.audit import AuditEntry
from shared.records.consent import Columns, ImportRefused, ImportResult, plan_import
from shared.settings import Settings
from shared.store.keys import previous_weeks, week_bounds, week_of
from shared.store.tables import Stores

__all__ = ["Columns", "Desk", "ImportRefused", "ImportResult", "InvalidInput", "NotFound"]

CSRF_ROW = "desk-csrf-key"
SEARCH_WEEKS = 8


@dataclass(frozen=True, slots=True)
class Decision:
    """One person's word on a finding, from its history."""

    status: str
    by: str
    at: datetime | None
    note: str
    until: str = ""


def _moment(value: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(zone)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone)
        except ValueError:
            return None
    return None


class Desk:
    """The stores, the admin tables and the settings, as the desk uses them."""

    def __init__(self, stores: Stores, settings: Settings, *, expect_subscriptions: bool = True,
                 queues: Any = None, pupils: Any = None) -> None:
        self.stores = stores
        self.settings = settings
        self.zone = settings.zone
        self.expect_subscriptions = expect_subscriptions
        self.queues = queues
        self._pupils = pupils  # () -> list[Pupil]: the directory's pupils (consent import)
        self._admin: Admin | None = None
        self._key: bytes | None = None

    @property
    def admin(self) -> Admin:
        if self._admin is None:
            self._admin = open_admin(self.stores, self.zone)
        return self._admin

    # -- the deployment's CSRF key, kept in its storage (never in the repository) --
    def csrf_key(self) -> bytes:
        if self._key is None:
            from azure.core.exceptions import ResourceExistsError

            row = self.stores.state.get(CSRF_ROW)
            if row is None or not row.get("Key"):
                with contextlib.suppress(ResourceExistsError):
                    self.stores.state.table.create_entity({"PartitionKey": "state", "RowKey": CSRF_ROW,
                                                           "Key": secrets.token_hex(32)})
                row = self.stores.state.get(CSRF_ROW) or {}
            self._key = bytes.fromhex(str(row["Key"]))
        return self._key

    # -- weeks --
    def this_week(self, now: datetime) -> str:
        return week_of(now.timestamp(), self.zone)

    def latest_week(self, now: datetime) -> str:
        """The current week, or the most recent of the last eight with a meeting in the log (a quiet week, a
        local copy of an old week)."""
        weeks = previous_weeks(self.this_week(now), SEARCH_WEEKS)
        for week in reversed(weeks):
            if self.stores.meetings.week(week):
                return week
        return weeks[-1]

    def digest(self, week: str, now: datetime) -> Digest:
        ctx = MailContext.open(self.stores, self.settings, queues=self.queues,
                               expect_subscriptions=self.expect_subscriptions)
        return collect(ctx, week, now)

    # -- findings --
    def finding(self, finding_id: str) -> dict[str, Any]:
        week, _, row = finding_id.partition(".")
        found = self.stores.findings.get(week, row) if week and row else None
        if found is None:
            raise NotFound(f"{finding_id[:80]}: no such concern")
        return dict(found)

    def meeting_findings(self, week: str, occurrence: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.stores.findings.week(week) if r.get("OccurrenceId") == occurrence]

    def decisions(self, row: dict[str, Any]) -> list[Decision]:
        out = []
        for item in annotation_history(row):
            out.append(Decision(str(item.get("status") or ""), str(item.get("by") or ""),
                                _moment(item.get("at"), self.zone),
                                str(item.get("comment") or item.get("note") or ""), str(item.get("until") or "")))
        return out

    def audit(self, target: str) -> list[AuditEntry]:
        """Every audited action on a finding: decisions (by its id) and holds (``finding:`` and its id)."""
        entries = [*self.admin.audit.entries(target=target), *self.admin.audit.entries(target=f"finding:{target}")]
        return sorted(entries, key=lambda e: e.at)

    def status(self, row: dict[str, Any], now: datetime) -> str:
        return effective_status(row, now)

    def held(self, row: dict[str, Any]) -> bool:
        return on_hold(row)

    def decide(self, finding_id: str, *, status: str, note: str, by: str, now: datetime,
               until: date | None = None) -> None:
        annotate(self.stores.findings.table, self.admin.audit, finding_id, status=status, comment=note, by=by,
                 now=now, zone=self.zone, until=until)

    def hold(self, finding_id: str, *, reason: str, by: str, now: datetime) -> None:
        records.hold(self.stores, self.admin.audit, "finding", finding_id, reason=reason, by=by, now=now)

    # -- meetings --
    def meeting(self, meeting_id: str) -> dict[str, Any]:
        week, _, occurrence = meeting_id.partition(".")
        entry = self.stores.meetings.get(week, occurrence) if week and occurrence else None
        if entry is None:
            raise NotFound(f"{meeting_id[:80]}: no such meeting in the log")
        return entry.entity

    def evidence(self, meeting: dict[str, Any]) -> dict[str, Any] | None:
        blob = meeting.get("EvidenceBlob")
        return self.stores.evidence.load(str(blob)) if blob else None

    def search(self, *, day: date | None, teacher: str, team: str, pupil: str, now: datetime,
               limit: int = 200) -> list[dict[str, Any]]:
        """The meeting log of the last eight weeks (or the day asked for), newest first, filtered by
        organiser, class team and pupil (named in a finding, or present in the stored evidence)."""
        weeks = [week_of(datetime(day.year, day.month, day.day, 12, tzinfo=self.zone).timestamp(), self.zone)] \
            if day else previous_weeks(self.latest_week(now), SEARCH_WEEKS)
        rows: list[dict[str, Any]] = []
        for week in weeks:
            rows.extend(r for r in self.stores.meetings.week(week) if not called_off(r))
        if day is not None:
            rows = [r for r in rows if _moment(r.get("Start"), self.zone) is not None
                    and _moment(r.get("Start"), self.zone).date() == day]  # type: ignore[union-attr]
        if teacher:
            rows = [r for r in rows if teacher.casefold() in str(r.get("OrganiserName") or "").casefold()]
        if team:
            rows = [r for r in rows if team.casefold() in str(r.get("Team") or "").casefold()]
        if pupil:
            rows = [r for r in rows if self._names_pupil(r, pupil.casefold())]
        rows.sort(key=lambda r: str(r.get("Start") or ""), reverse=True)
        return rows[:limit]

    def _names_pupil(self, row: dict[str, Any], needle: str) -> bool:
        week, occurrence = str(row["PartitionKey"]), str(row["RowKey"])
        if any(needle in str(f.get("SubjectName") or "").casefold() for f in self.meeting_findings(week, occurrence)):
            return True
        bundle = self.evidence(row)
        if not bundle:
            return False
        directory = bundle.get("directory") or {}
        users = directory.get("users") or {}
        pupils = set(directory.get("pupils") or [])
        text = json.dumps({k: v for k, v in bundle.items() if k != "directory"})
        return any(needle in str((users.get(p) or {}).get("displayName") or "").casefold() and p in text
                   for p in pupils)

    # -- consent --
    def consent_gaps(self, digest: Digest) -> list[tuple[str, tuple[str, ...]]]:
        return [(g.group, g.pupils) for g in digest.consent_gaps]

    def import_consent(self, text: str, *, by: str, now: datetime, columns: Columns,
                       date_order: str) -> tuple[ImportResult, list[str]]:
        """All or nothing: any problem refuses the whole file (``ImportRefused`` lists each)."""
        if self._pupils is None:
            raise InvalidInput("the pupils' directory is not reachable from here, so consent rows cannot be "
                               "matched to pupils")
        pupils: list[Pupil] = self._pupils()
        plan = plan_import(text, pupils, self.zone, columns=columns, date_order=date_order)
        result = self.admin.consent.import_plan(plan, source="the desk", by=by, now=now, skip_unmatched=False)
        return result, [f"line {p.line}: {p.message}" for p in plan.problems]

    # -- monitoring --
    def week_range(self, week: str) -> tuple[datetime, datetime]:
        return week_bounds(week, self.zone)

    def subscriptions(self) -> list[Any]:
        return list(self.stores.subscriptions().records(fresh=True))

    def first_seen(self, now: datetime) -> datetime | None:
        """The earliest meeting in the log of the last eight weeks."""
        for week in previous_weeks(self.latest_week(now), SEARCH_WEEKS):
            starts = [_moment(r.get("Start"), self.zone) for r in self.stores.meetings.week(week)]
            found = [s for s in starts if s is not None]
            if found:
                return min(found)
        return None

    def state(self, name: str) -> dict[str, Any] | None:
        return self.stores.state.get(name)


def directory_pupils(app: Any) -> list[Pupil]:
    """The pupils from Graph (the pupil groups' transitive members), for matching consent rows."""
    import asyncio

    from shared.admin.directory import graph_pupils

    groups = app.settings.pupil_group_ids
    if not groups:
        raise InvalidInput("VCAUDIT_PUPIL_GROUP_IDS is not set: no pupils to match consent rows to")
    if app.graph_transport is not None:
        return asyncio.run(graph_pupils(app.graph_transport, groups))

    async def read() -> list[Pupil]:
        from shared.graph.client import GraphTransport, connect

        connection = connect(app.settings.graph_base_url)
        try:
            return await graph_pupils(GraphTransport(connection.sender(), app.settings.graph_base_url), groups)
        finally:
            await connection.aclose()

    return asyncio.run(read())
