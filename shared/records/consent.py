"""The consent register: which pupils' parents have consented to video lessons.

``import_csv`` reads the school's consent-form export (a Google Forms CSV: timestamp, pupil name or email,
parent name, a yes/no answer), matches each pupil to exactly one directory pupil by UPN or mail, or by display
name; an unmatched or ambiguous name is reported, never guessed. An import is all or nothing: every row is
checked first, then a new register *version* is written (batches of at most 100 rows, one partition) and only
then does the active-version pointer switch, guarded by its ETag. A revocation is a new version too, and a
later import does not bring back a "yes" answered before the revocation.

``TableConsentSource`` is what the Graph gateway reads consent through (``shared.graph.directory.ConsentSource``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from shared.admin import validate
from shared.admin.directory import Pupil
from shared.admin.validate import InvalidInput
from shared.records.audit import AuditLog, pupil_ref

POINTER_PARTITION = "active"
POINTER_ROW = "pointer"
IMPORTS = "import"
REVOCATIONS = "revocation"
BATCH = 100  # a table transaction holds at most 100 operations, all in one partition
MAX_ROWS = 20_000
MAX_BYTES = 5_000_000
MAX_REMOVAL_SHARE = 0.10  # an import taking away more than this share of current consents must be confirmed
ORPHAN_AGE = timedelta(hours=1)  # a version neither active nor recorded, this old, is a killed import's leftover


@dataclass(frozen=True, slots=True)
class Columns:
    """The CSV's column headers (matched case-insensitively; a unique header containing the name serves too)."""

    timestamp: str = "Timestamp"
    pupil: str = "Pupil"
    parent: str = "Parent"
    answer: str = "Consent"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    kind: str  # malformed | unmatched | ambiguous
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Answer:
    line: int
    pupil: Pupil
    parent: str
    consent: bool
    answered_at: datetime


@dataclass(slots=True)
class Plan:
    """What an import would write: one answer per pupil (the latest), and everything worth reporting."""

    answers: list[Answer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # duplicates, revocations standing
    rows: int = 0
    duplicates: int = 0

    @property
    def blocking(self) -> list[Problem]:
        return self.problems


class ImportRefused(InvalidInput):
    """Nothing was written: ``problems`` says which lines (one line each)."""

    def __init__(self, problems: Sequence[Problem], source: str) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"{source}: nothing imported: {len(self.problems)} problem row(s)")


class RemovalsRefused(InvalidInput):
    """Nothing was written: the import would take away too many of the current consents unconfirmed."""

    def __init__(self, source: str, removed: int, current: int, option: str) -> None:
        self.removed = removed
        self.current = current
        share = "all" if removed == current else f"{removed * 100 // current}%"
        super().__init__(f"{source}: nothing imported: it would remove {removed} of the {current} current "
                         f"consent(s) ({share}; more than {MAX_REMOVAL_SHARE:.0%} needs confirming); check the "
                         f"file, or confirm with {option}")


# ---------------------------------------------------------------------------------------------- parsing
_OFFSET = re.compile(r"\s*(?:GMT|UTC)\s*([+-]\d{1,2})?(?::?(\d{2}))?\s*$", re.IGNORECASE)
_FORMATS_DMY = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y")
_FORMATS_MDY = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y")
_FORMATS_YMD = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %I:%M:%S %p", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


def parse_timestamp(value: str, zone: ZoneInfo, date_order: str = "dmy") -> datetime:
    """A Google Forms timestamp (``03/09/2026 08:41:12``, ``2026/09/03 8:41:12 am GMT+1``, ISO 8601), in
    the school's time zone unless it names an offset."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return _in_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone), value)
    tz: Any = zone
    m = _OFFSET.search(text)
    if m:
        hours = int(m.group(1) or 0)
        minutes = int(m.group(2) or 0) * (-1 if hours < 0 else 1)
        tz = timezone(timedelta(hours=hours, minutes=minutes))
        text = text[: m.start()]
    text = re.sub(r"\b(am|pm)\b", lambda x: x.group(1).upper(), text, flags=re.IGNORECASE)
    formats = _FORMATS_YMD + (_FORMATS_DMY if date_order == "dmy" else _FORMATS_MDY)
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
        return _in_range(parsed, value)
    raise ValueError(f"'{value.strip()[:40]}' is not a timestamp")


def _in_range(moment: datetime, value: str) -> datetime:
    """A form's answer from ``validate.EARLIEST`` to ``validate.LATEST`` (in UTC too), else a one-line error."""
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not validate.EARLIEST <= utc.date() <= validate.LATEST \
            or not validate.EARLIEST <= moment.date() <= validate.LATEST:
        raise ValueError(f"'{value.strip()[:40]}' is out of range; expected a time from {validate.EARLIEST} to "
                         f"{validate.LATEST}")
    return moment


def parse_answer(value: str) -> bool:
    words = re.findall(r"[a-z]+", value.lower())
    first = words[0] if words else ""
    if first in ("yes", "y"):
        return True
    if first in ("no", "n"):
        return False
    raise ValueError(f"answer '{value.strip()[:40]}' is neither yes nor no")


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


class Matcher:
    """Matches what a parent typed to exactly one pupil: by UPN or mail when it holds an '@', else by display
    name (case and spacing aside). Nothing fuzzy."""

    def __init__(self, pupils: Iterable[Pupil]) -> None:
        self.by_address: dict[str, list[Pupil]] = {}
        self.by_name: dict[str, list[Pupil]] = {}
        for pupil in pupils:
            for address in {pupil.upn.lower(), pupil.mail.lower()} - {""}:
                self.by_address.setdefault(address, []).append(pupil)
            if pupil.display_name:
                self.by_name.setdefault(_normal(pupil.display_name), []).append(pupil)

    def match(self, typed: str) -> list[Pupil]:
        key = typed.strip()
        found = self.by_address.get(key.lower(), []) if "@" in key else self.by_name.get(_normal(key), [])
        unique: dict[str, Pupil] = {p.id: p for p in found}
        return list(unique.values())


def _column(headers: list[str], wanted: str, option: str) -> int:
    lowered = [h.strip().casefold() for h in headers]
    target = wanted.strip().casefold()
    exact = [i for i, h in enumerate(lowered) if h == target]
    if len(exact) == 1:
        return exact[0]
    containing = [i for i, h in enumerate(lowered) if target and target in h]
    if len(exact) > 1 or len(containing) > 1:
        raise InvalidInput(f"line 1: more than one column matches '{wanted}' ({option}); name the column exactly")
    if len(containing) == 1:
        return containing[0]
    shown = ", ".join(f"'{h.strip()[:40]}'" for h in headers)
    raise InvalidInput(f"line 1: no column '{wanted}' ({option}); the columns are {shown}")


def plan_import(text: str, pupils: Iterable[Pupil], zone: ZoneInfo, *, columns: Columns = Columns(),
                date_order: str = "dmy") -> Plan:
    """Check every row (nothing is written here). Line numbers are the file's, counting the header as 1."""
    if len(text) > MAX_BYTES:
        raise InvalidInput(f"larger than {MAX_BYTES // 1_000_000} MB")
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise InvalidInput("empty file; expected a header row") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: not CSV ({exc})") from None
    index = {
        "timestamp": _column(headers, columns.timestamp, "--timestamp-column"),
        "pupil": _column(headers, columns.pupil, "--pupil-column"),
        "parent": _column(headers, columns.parent, "--parent-column"),
        "answer": _column(headers, columns.answer, "--answer-column"),
    }
    if len(set(index.values())) < 4:
        raise InvalidInput("line 1: two of the columns name the same header; name them exactly")
    matcher = Matcher(pupils)
    plan = Plan()
    latest: dict[str, Answer] = {}
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            plan.problems.append(Problem(line, "malformed", f"not CSV ({exc})"))
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        plan.rows += 1
        if plan.rows > MAX_ROWS:
            raise InvalidInput(f"more than {MAX_ROWS} rows")
        if len(record) != len(headers):
            plan.problems.append(Problem(start, "malformed", f"{len(record)} fields, the header has {len(headers)}"))
            continue
        typed = record[index["pupil"]].strip()
        parent = record[index["parent"]].strip()
        try:
            answered = parse_timestamp(record[index["timestamp"]], zone, date_order)
            consent = parse_answer(record[index["answer"]])
            if not typed:
                raise ValueError("no pupil")
            if not parent:
                raise ValueError("no parent or carer name")
            if len(typed) > 256 or len(parent) > 256:
                raise ValueError("a field is longer than 256 characters")
        except ValueError as exc:
            plan.problems.append(Problem(start, "malformed", str(exc)))
            continue
        found = matcher.match(typed)
        if not found:
            plan.problems.append(Problem(start, "unmatched", f"'{typed[:80]}' matches no pupil in the directory"))
            continue
        if len(found) > 1:
            who = ", ".join(sorted(p.upn or p.id for p in found))
            plan.problems.append(Problem(start, "ambiguous", f"'{typed[:80]}' matches {len(found)} pupils ({who}); "
                                                             "give the pupil's school email instead"))
            continue
        answer = Answer(start, found[0], parent, consent, answered.astimezone(UTC))
        before = latest.get(answer.pupil.id)
        if before is not None:
            plan.duplicates += 1
            winner = answer if (answer.answered_at, answer.line) >= (before.answered_at, before.line) else before
            name = answer.pupil.display_name or answer.pupil.upn
            plan.notes.append(f"line {start}: duplicate of line {before.line} for {name}; "
                              f"the later answer (line {winner.line}, {'yes' if winner.consent else 'no'}) stands")
            latest[answer.pupil.id] = winner
        else:
            latest[answer.pupil.id] = answer
    plan.answers = sorted(latest.values(), key=lambda a: a.line)
    return plan


# ---------------------------------------------------------------------------------------------- storage
@dataclass(frozen=True, slots=True)
class ImportResult:
    version: str
    rows: int
    consented: int
    refused: int
    duplicates: int
    skipped: int
    notes: list[str]


def _version_id(now: datetime) -> str:
    return f"v{now.astimezone(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"


class ConsentRegister:
    def __init__(self, register: Any, log: Any, audit: AuditLog) -> None:
        self.register = register
        self.log = log
        self.audit = audit

    # -------------------------------------------------------------- reading
    def _pointer(self) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.register.get_entity(partition_key=POINTER_PARTITION, row_key=POINTER_ROW)
        except ResourceNotFoundError:
            return None

    def active_version(self) -> str | None:
        pointer = self._pointer()
        return str(pointer["Version"]) if pointer is not None else None

    def entries(self, version: str | None = None) -> list[dict[str, Any]]:
        version = version or self.active_version()
        if version is None:
            return []
        rows = self.register.query_entities(query_filter="PartitionKey eq @version", parameters={"version": version})
        return sorted((dict(r) for r in rows), key=lambda r: (str(r.get("PupilName", "")), str(r["RowKey"])))

    def consented(self) -> frozenset[str]:
        version = self.active_version()
        if version is None:
            return frozenset()
        rows = self.register.query_entities(query_filter="PartitionKey eq @version and Consent eq @yes",
                                            parameters={"version": version, "yes": True}, select=["RowKey"])
        return frozenset(str(r["RowKey"]) for r in rows)

    def revocations(self) -> dict[str, datetime]:
        """Latest revocation per pupil."""
        out: dict[str, datetime] = {}
        rows = self.log.query_entities(query_filter="PartitionKey eq @p", parameters={"p": REVOCATIONS})
        for row in rows:
            at = row.get("At")
            pupil = str(row.get("Pupil", ""))
            if isinstance(at, datetime) and (pupil not in out or at > out[pupil]):
                out[pupil] = at
        return out

    def imports(self) -> list[dict[str, Any]]:
        rows = self.log.query_entities(query_filter="PartitionKey eq @p", parameters={"p": IMPORTS})
        return sorted((dict(r) for r in rows), key=lambda r: str(r["RowKey"]))

    def completed_versions(self) -> set[str]:
        """Versions written whole: every recorded import and revocation, and the active one. Anything else in
        the register is an import that failed or was killed half-way (never shown, swept by the next import)."""
        done = {str(r["RowKey"]) for r in self.log.query_entities(
            query_filter="PartitionKey eq @p", parameters={"p": IMPORTS}, select=["RowKey"])}
        done |= {str(r.get("Version")) for r in self.log.query_entities(
            query_filter="PartitionKey eq @p", parameters={"p": REVOCATIONS}, select=["Version"]) if r.get("Version")}
        active = self.active_version()
        return done | ({active} if active else set())

    def sweep_partial_versions(self, now: datetime) -> int:
        """Delete the rows of versions a failed or killed import left behind (older than ``ORPHAN_AGE``, so an
        import still writing is never touched). Returns how many versions were removed."""
        done = self.completed_versions()
        cutoff = _version_id(now - ORPHAN_AGE)
        partial = {str(r["PartitionKey"]) for r in self.register.query_entities(
            query_filter="PartitionKey ne @pointer", parameters={"pointer": POINTER_PARTITION},
            select=["PartitionKey"])} - done
        stale = sorted(v for v in partial if v < cutoff)
        for version in stale:
            self._drop_version(version)
        return len(stale)

    # -------------------------------------------------------------- writing
    def _write_version(self, version: str, rows: list[dict[str, Any]]) -> None:
        written = 0
        try:
            for start in range(0, len(rows), BATCH):
                chunk = rows[start:start + BATCH]
                self.register.submit_transaction([("create", {"PartitionKey": version, **row}) for row in chunk])
                written += len(chunk)
        except Exception:
            self._drop_version(version)
            raise

    def _drop_version(self, version: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        rows = list(self.register.query_entities(query_filter="PartitionKey eq @version",
                                                 parameters={"version": version}, select=["RowKey"]))
        for start in range(0, len(rows), BATCH):
            try:
                self.register.submit_transaction([("delete", {"PartitionKey": version, "RowKey": r["RowKey"]})
                                                  for r in rows[start:start + BATCH]])
            except ResourceNotFoundError:
                continue

    def _switch(self, version: str, expected: Any, by: str, now: datetime) -> None:
        """Point at ``version``, only if nobody switched since ``expected`` was read."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": POINTER_PARTITION, "RowKey": POINTER_ROW, "Version": version,
                  "SwitchedAt": now.astimezone(UTC), "SwitchedBy": by}
        try:
            if expected is None:
                self.register.create_entity(entity)
            else:
                self.register.update_entity(entity, mode=UpdateMode.REPLACE, etag=expected.metadata.get("etag"),
                                            match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            self._drop_version(version)
            raise InvalidInput("the register changed meanwhile (another import or revocation); run again") from None

    def import_plan(self, plan: Plan, *, source: str, by: str, now: datetime, skip_unmatched: bool = False,
                    confirm_removals: bool = False, confirm_option: str = "--confirm-removals") -> ImportResult:
        """Write a checked plan as the new register version and switch to it; all or nothing.

        Malformed rows always refuse the import; unmatched and ambiguous ones too unless ``skip_unmatched``
        (they are then reported and left out). An import that would take away more than ``MAX_REMOVAL_SHARE``
        of the current consents (an empty file, every row skipped) is refused unless ``confirm_removals``."""
        blocking = [p for p in plan.problems if p.kind == "malformed" or not skip_unmatched]
        if blocking:
            raise ImportRefused(plan.problems if not skip_unmatched else blocking, source)
        who = validate.text("by", by, limit=200, required=True) or ""
        self.sweep_partial_versions(now)
        pointer = self._pointer()
        current = self.consented()
        removed = current - {a.pupil.id for a in plan.answers if a.consent}
        if current and len(removed) > MAX_REMOVAL_SHARE * len(current) and not confirm_removals:
            raise RemovalsRefused(source, len(removed), len(current), confirm_option)
        revoked = self.revocations()
        notes = list(plan.notes)
        rows = []
        for answer in plan.answers:
            consent = answer.consent
            revoked_at = revoked.get(answer.pupil.id)
            if consent and revoked_at is not None and answer.answered_at <= revoked_at:
                consent = False
                notes.append(f"line {answer.line}: consent for {answer.pupil.display_name or answer.pupil.upn} was "
                             f"revoked on {revoked_at:%Y-%m-%d} after this answer; it stays revoked")
            rows.append({"RowKey": answer.pupil.id, "PupilName": answer.pupil.display_name, "Upn": answer.pupil.upn,
                         "Parent": answer.parent, "Consent": consent, "AnsweredAt": answer.answered_at,
                         "Line": answer.line, "Source": "import"})
        version = _version_id(now)
        self._write_version(version, rows)
        self._switch(version, pointer, who, now)
        consented = sum(1 for r in rows if r["Consent"])
        skipped = len(plan.problems)
        self.log.create_entity({"PartitionKey": IMPORTS, "RowKey": version, "By": who, "At": now.astimezone(UTC),
                                "Source": source[:200], "Rows": plan.rows, "Pupils": len(rows),
                                "Consented": consented, "Refused": len(rows) - consented,
                                "Duplicates": plan.duplicates, "Skipped": skipped})
        self.audit.record("consent-import", f"consent:{version}", who, now, source=source[:200], rows=plan.rows,
                          pupils=len(rows), consented=consented, duplicates=plan.duplicates, skipped=skipped)
        return ImportResult(version, plan.rows, consented, len(rows) - consented, plan.duplicates, skipped, notes)

    def revoke(self, pupil: str, *, reason: str, by: str, now: datetime) -> dict[str, Any]:
        """Withdraw a pupil's consent (by user id or UPN): a new version without it, and the revocation kept
        so a later import of an older "yes" does not bring it back."""
        who = validate.text("by", by, limit=200, required=True) or ""
        why = validate.comment("reason", reason, limit=1000)
        typed = validate.text("pupil", pupil, required=True) or ""
        pointer = self._pointer()
        rows = self.entries(str(pointer["Version"])) if pointer is not None else []
        target = next((r for r in rows if r["RowKey"] == typed.lower() or
                       str(r.get("Upn", "")).lower() == typed.lower()), None)
        if target is None or not target.get("Consent"):
            raise InvalidInput(f"{typed[:80]}: no consent recorded in the active register")
        version = _version_id(now)
        copied = []
        for row in rows:
            item = {k: v for k, v in row.items() if k not in ("PartitionKey", "Timestamp", "etag")}
            if row["RowKey"] == target["RowKey"]:
                item.update(Consent=False, Source="revoked", RevokedAt=now.astimezone(UTC))
            copied.append(item)
        self._write_version(version, copied)
        self._switch(version, pointer, who, now)
        self.log.create_entity({"PartitionKey": REVOCATIONS, "RowKey": f"{now.astimezone(UTC):%Y%m%dT%H%M%S%f}-"
                                                                      f"{uuid.uuid4().hex[:6]}",
                                "Pupil": target["RowKey"], "By": who, "At": now.astimezone(UTC), "Reason": why,
                                "Version": version})
        self.audit.record("consent-revoke", pupil_ref(str(target["RowKey"])), who, now, reason=why, version=version)
        return target

    # -------------------------------------------------------------- data rights
    def about_pupil(self, pupil_id: str) -> dict[str, Any]:
        rows = list(self.register.query_entities(query_filter="RowKey eq @pupil", parameters={"pupil": pupil_id}))
        revocations = self.log.query_entities(query_filter="PartitionKey eq @p and Pupil eq @pupil",
                                              parameters={"p": REVOCATIONS, "pupil": pupil_id})
        active = self.active_version()
        done = self.completed_versions()  # a half-written version is no part of the register
        return {"active": [dict(r) for r in rows if r["PartitionKey"] == active],
                "earlierVersions": [dict(r) for r in rows if r["PartitionKey"] != active and r["PartitionKey"] in done],
                "revocations": [dict(r) for r in revocations]}

    def forget_pupil(self, pupil_id: str) -> int:
        count = 0
        for row in list(self.register.query_entities(query_filter="RowKey eq @pupil", parameters={"pupil": pupil_id})):
            if row["PartitionKey"] == POINTER_PARTITION:
                continue
            self.register.delete_entity(partition_key=row["PartitionKey"], row_key=row["RowKey"])
            count += 1
        for row in list(self.log.query_entities(query_filter="PartitionKey eq @p and Pupil eq @pupil",
                                                parameters={"p": REVOCATIONS, "pupil": pupil_id})):
            self.log.delete_entity(partition_key=row["PartitionKey"], row_key=row["RowKey"])
            count += 1
        return count


class TableConsentSource:
    """``ConsentSource`` over the consent register (for ``GraphGateway``/``DirectoryCache``)."""

    def __init__(self, register: ConsentRegister) -> None:
        self.register = register

    async def consented_pupils(self) -> frozenset[str]:
        return await asyncio.to_thread(self.register.consented)
