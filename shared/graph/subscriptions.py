"""The subscription manager: the change-notification subscriptions the policy calls for, made to match in Graph.

Desired set (``desired_subscriptions``):
- ``/users/{id}/events`` (created, updated, deleted) for every monitored mailbox: staff (transitive members of
  the staff groups), and pupils when ``monitor_pupil_mailboxes`` — users without a ``mail`` have no mailbox;
- ``/communications/callRecords`` (created, updated);
- ``communications/onlineMeetings/getAllRecordings`` and ``getAllTranscripts`` (created);
- ``communications/adhocCalls/getAllRecordings`` and ``getAllTranscripts`` (created) — Graph v1.0 documents these
  tenant-wide resources for ad hoc calls (Learn: "Change notifications for Teams recordings and transcripts",
  resource type ``adhocCall`` in v1.0; msgraph-sdk 1.65's v1.0 tree has ``communications/adhoc_calls``). Off
  with ``include_adhoc_calls=False``.

``reconcile()`` makes Graph match: each subscription is created with a fresh random ``clientState``
(``secrets.token_urlsafe``, 48 bytes) that is **stored before** the subscription is requested — the validation
handshake and the first notifications may arrive before the POST returns, and the webhook must find the value —
with a ``lifecycleNotificationUrl``, at the resource's longest allowed expiry (less ``expiry_margin``);
renewed (PATCH) when less than ``renew_before`` is left; recreated when Graph lost it (missing from
``GET /subscriptions``, 404 on renewal) or when we hold no clientState for it; deleted when no longer desired
(a mailbox that left the staff group). Failures of one resource are reported and do not stop the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.graph.client import GraphTransport, Request
from shared.graph.directory import DirectoryFacts
from shared.graph.secrets import new_client_state, verify_client_state

JSON = dict[str, Any]

EVENTS_MAX_MINUTES = 10080
CALL_RECORDS_MAX_MINUTES = 4230
ARTEFACTS_MAX_MINUTES = 4320
# The older documented maximum (under three days, 4230 minutes, for Outlook resources before the seven-day limit;
# https://learn.microsoft.com/en-us/graph/api/resources/subscription#subscription-lifetime): retried when Graph
# refuses a lifetime with 400, and remembered for that resource.
OLDER_MAX_MINUTES = 4230
ADHOC_PERMISSIONS = "CallRecordings.Read.All and CallTranscripts.Read.All"


@dataclass(frozen=True, slots=True)
class DesiredSubscription:
    resource: str
    change_type: str
    max_minutes: int


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """What the store keeps per resource — one row for every subscription vcaudit wants, whatever happened to it.

    ``subscription_id`` is None while the creation is in flight, or when it failed or was not attempted.
    ``status``: ``pending`` (creation in flight), ``created``, ``renewed``, ``failing`` (Graph refused: its HTTP
    status, error code and message, and since when) or ``not-attempted`` (``reason`` says why; not wanted, so not
    a gap). ``label``: what it watches, in words a DSL understands ("Mrs Khan's calendar"). ``lifetime_minutes``:
    a lifetime Graph refused is retried at the older documented maximum, and that is remembered here."""

    resource: str
    client_state: str
    subscription_id: str | None = None
    expiration: datetime | None = None
    status: str = "pending"
    error_status: int | None = None
    error_code: str = ""
    error_message: str = ""
    failing_since: datetime | None = None
    reason: str = ""
    label: str = ""
    lifetime_minutes: int | None = None

    @property
    def watched(self) -> bool:
        return self.subscription_id is not None and self.status not in ("failing", "not-attempted")


class SubscriptionStore(Protocol):
    """Where clientState values live (a Table Storage table in Azure; ``MemorySubscriptionStore`` in tests)."""

    async def put(self, record: StoredSubscription) -> None: ...

    async def remove(self, resource: str) -> None: ...

    async def all(self) -> list[StoredSubscription]: ...


@dataclass
class MemorySubscriptionStore:
    records: dict[str, StoredSubscription] = field(default_factory=dict)
    writes: list[StoredSubscription] = field(default_factory=list)

    async def put(self, record: StoredSubscription) -> None:
        self.records[norm_resource(record.resource)] = record
        self.writes.append(record)

    async def remove(self, resource: str) -> None:
        self.records.pop(norm_resource(resource), None)

    async def all(self) -> list[StoredSubscription]:
        return list(self.records.values())


async def client_state_matches(store: SubscriptionStore, subscription_id: str, received: str | None) -> bool:
    """For the webhook: does ``received`` match the clientState stored for ``subscription_id``? A creation still
    in flight (no id stored yet) is matched against every pending value, each compared in constant time."""
    records = await store.all()
    for record in records:
        if record.subscription_id == subscription_id:
            return verify_client_state(record.client_state, received)
    pending = [r for r in records if r.subscription_id is None]
    return any([verify_client_state(r.client_state, received) for r in pending])


def norm_resource(resource: str) -> str:
    return resource.strip().lstrip("/").lower()


def desired_subscriptions(
    facts: DirectoryFacts, *, monitor_pupil_mailboxes: bool, include_adhoc_calls: bool = True
) -> dict[str, DesiredSubscription]:
    """Resource (normalised) → what to subscribe to. Pure."""
    mailboxes = list(facts.staff) + (list(facts.pupils) if monitor_pupil_mailboxes else [])
    out: dict[str, DesiredSubscription] = {}
    for uid in mailboxes:
        user = facts.users.get(uid) or {}
        if not user.get("mail"):
            continue  # no mailbox, no calendar to watch
        sub = DesiredSubscription(f"/users/{uid}/events", "created,updated,deleted", EVENTS_MAX_MINUTES)
        out[norm_resource(sub.resource)] = sub
    fixed = [
        DesiredSubscription("/communications/callRecords", "created,updated", CALL_RECORDS_MAX_MINUTES),
        DesiredSubscription("communications/onlineMeetings/getAllRecordings", "created", ARTEFACTS_MAX_MINUTES),
        DesiredSubscription("communications/onlineMeetings/getAllTranscripts", "created", ARTEFACTS_MAX_MINUTES),
    ]
    if include_adhoc_calls:
        fixed += [
            DesiredSubscription("communications/adhocCalls/getAllRecordings", "created", ARTEFACTS_MAX_MINUTES),
            DesiredSubscription("communications/adhocCalls/getAllTranscripts", "created", ARTEFACTS_MAX_MINUTES),
        ]
    for sub in fixed:
        out[norm_resource(sub.resource)] = sub
    return out


def label_of(resource: str, facts: DirectoryFacts | None) -> str:
    """What a subscription watches, in the DSL's words."""
    key = norm_resource(resource)
    if key.startswith("users/") and key.endswith("/events"):
        uid = resource.strip().lstrip("/").split("/")[1]
        name = str(((facts.users.get(uid) if facts else None) or {}).get("displayName") or uid)
        return f"{name}'s calendar"
    return {
        "communications/callrecords": "Teams call records (who joined every meeting and call)",
        "communications/onlinemeetings/getallrecordings": "recordings of Teams meetings",
        "communications/onlinemeetings/getalltranscripts": "transcripts of Teams meetings",
        "communications/adhoccalls/getallrecordings": "recordings of ad hoc calls",
        "communications/adhoccalls/getalltranscripts": "transcripts of ad hoc calls",
    }.get(key, resource)


def _error_parts(reply: Any) -> tuple[int, str, str]:
    error = reply.json.get("error") if isinstance(reply.json, dict) else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    return int(reply.status), code, message


def _lifetime_refused(status: int, code: str, message: str) -> bool:
    text = f"{code} {message}".lower()
    return status == 400 and ("expiration" in text or "lifetime" in text)


@dataclass
class ReconcileReport:
    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (resource, "400 reason")


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    from shared.graph.gateway import parse_time

    return parse_time(value)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


class SubscriptionManager:
    def __init__(
        self,
        transport: GraphTransport,
        store: SubscriptionStore,
        *,
        notification_url: str,
        lifecycle_url: str,
        monitor_pupil_mailboxes: bool = True,
        include_adhoc_calls: bool = True,
        adhoc_calls_granted: bool | None = None,
        renew_before: timedelta = timedelta(hours=24),
        expiry_margin: timedelta = timedelta(minutes=2),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.transport = transport
        self.store = store
        self.notification_url = notification_url
        self.lifecycle_url = lifecycle_url
        self.monitor_pupil_mailboxes = monitor_pupil_mailboxes
        # ``adhoc_calls_granted`` (the app setting VCAUDIT_WATCH_ADHOC_CALLS): False — the school declined the
        # permissions, so ad hoc calls are not subscribed to and a ``not-attempted`` row says so.
        self.include_adhoc_calls = include_adhoc_calls if adhoc_calls_granted is None else adhoc_calls_granted
        self.adhoc_declined = adhoc_calls_granted is False
        self._facts: DirectoryFacts | None = None
        self._lifetimes: dict[str, int] = {}
        self.renew_before = renew_before
        self.expiry_margin = expiry_margin
        self.now = now

    def desired(self, facts: DirectoryFacts) -> dict[str, DesiredSubscription]:
        return desired_subscriptions(
            facts, monitor_pupil_mailboxes=self.monitor_pupil_mailboxes, include_adhoc_calls=self.include_adhoc_calls
        )

    def _minutes(self, want: DesiredSubscription) -> int:
        return min(want.max_minutes, self._lifetimes.get(norm_resource(want.resource), want.max_minutes))

    def _expiry(self, want: DesiredSubscription) -> datetime:
        return self.now() + timedelta(minutes=self._minutes(want)) - self.expiry_margin

    async def live(self) -> list[JSON]:
        """Our subscriptions in Graph (those pointing at our notification URL)."""
        items, last = await self.transport.get_all("/subscriptions")
        if not last.ok:
            from shared.graph.errors import GraphError

            raise GraphError(last.status, last.error_text(), "/subscriptions")
        return [s for s in items if s.get("notificationUrl") == self.notification_url]

    async def reconcile(self, facts: DirectoryFacts) -> ReconcileReport:
        report = ReconcileReport()
        self._facts = facts
        desired = self.desired(facts)
        live = await self.live()
        stored = {norm_resource(r.resource): r for r in await self.store.all()}
        for key, row in stored.items():
            if row.lifetime_minutes:
                self._lifetimes[key] = row.lifetime_minutes
        live_by_resource: dict[str, list[JSON]] = {}
        for sub in live:
            live_by_resource.setdefault(norm_resource(str(sub.get("resource", ""))), []).append(sub)
        tasks: list[Any] = []
        for key, want in desired.items():
            record = stored.get(key)
            subs = live_by_resource.pop(key, [])
            ours = [s for s in subs if record is not None and s.get("id") == record.subscription_id]
            strays = [s for s in subs if s not in ours]
            for stray in strays:  # a subscription whose clientState we do not hold: its notifications can't be checked
                tasks.append(self._delete(stray, report, note=False))
            if ours:
                expiry = _parse(ours[0].get("expirationDateTime"))
                if expiry is not None and expiry - self.now() > self.renew_before and record and record.watched:
                    report.kept.append(want.resource)
                else:
                    tasks.append(self._renew(want, ours[0], record, report))
            else:
                tasks.append(
                    self._create(want, report, recreate=record is not None and record.subscription_id is not None)
                )
        for subs in live_by_resource.values():
            for sub in subs:
                tasks.append(self._delete(sub, report))
        await _bounded(tasks, 4)
        declined = (
            [f"communications/adhocCalls/{kind}" for kind in ("getAllRecordings", "getAllTranscripts")]
            if self.adhoc_declined
            else []
        )
        for key, record in stored.items():
            if key not in desired and key not in {norm_resource(d) for d in declined}:
                await self.store.remove(record.resource)
        for resource in declined:
            await self.store.put(
                StoredSubscription(
                    resource,
                    "",
                    status="not-attempted",
                    reason=f"the school has not granted {ADHOC_PERMISSIONS}",
                    label=label_of(resource, facts),
                )
            )
        return report

    async def _create(self, want: DesiredSubscription, report: ReconcileReport, *, recreate: bool = False) -> None:
        state = new_client_state()
        before = next(
            (r for r in await self.store.all() if norm_resource(r.resource) == norm_resource(want.resource)), None
        )
        label = label_of(want.resource, self._facts)
        lifetime = self._lifetimes.get(norm_resource(want.resource))
        # before the request: see module docstring
        await self.store.put(StoredSubscription(want.resource, state, label=label, lifetime_minutes=lifetime))
        reply = await self._post(want, state)
        status, code, message = _error_parts(reply) if not reply.ok else (0, "", "")
        if not reply.ok and _lifetime_refused(status, code, message) and self._minutes(want) > OLDER_MAX_MINUTES:
            self._lifetimes[norm_resource(want.resource)] = lifetime = OLDER_MAX_MINUTES
            reply = await self._post(want, state)
            status, code, message = _error_parts(reply) if not reply.ok else (0, "", "")
        if not reply.ok:
            since = before.failing_since if before is not None and before.status == "failing" else None
            await self.store.put(
                StoredSubscription(
                    want.resource,
                    "",  # no clientState: nothing may be accepted for a subscription Graph refused
                    status="failing",
                    error_status=status,
                    error_code=code,
                    error_message=message,
                    failing_since=since or self.now(),
                    label=label,
                    lifetime_minutes=lifetime,
                )
            )
            report.failed.append((want.resource, reply.error_text()))
            return
        await self.store.put(
            StoredSubscription(
                want.resource,
                state,
                str(reply.json.get("id")),
                _parse(reply.json.get("expirationDateTime")),
                status="created",
                label=label,
                lifetime_minutes=lifetime,
            )
        )
        (report.recreated if recreate else report.created).append(want.resource)

    async def _post(self, want: DesiredSubscription, state: str) -> Any:
        body = {
            "changeType": want.change_type,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "resource": want.resource,
            "expirationDateTime": _iso(self._expiry(want)),
            "clientState": state,
            "latestSupportedTlsVersion": "v1_2",
        }
        return await self.transport.send(Request("POST", "/subscriptions", {"Content-Type": "application/json"}, body))

    async def _renew(
        self, want: DesiredSubscription, sub: JSON, record: StoredSubscription | None, report: ReconcileReport
    ) -> None:
        body = {"expirationDateTime": _iso(self._expiry(want))}
        reply = await self.transport.send(
            Request("PATCH", f"/subscriptions/{sub['id']}", {"Content-Type": "application/json"}, body)
        )
        if reply.status == 404:
            await self._create(want, report, recreate=True)
            return
        if not reply.ok:
            if record is not None:
                status, code, message = _error_parts(reply)
                await self.store.put(
                    replace(
                        record,
                        status="failing",
                        error_status=status,
                        error_code=code,
                        error_message=message,
                        failing_since=record.failing_since if record.status == "failing" else self.now(),
                    )
                )
            report.failed.append((want.resource, reply.error_text()))
            return
        if record is not None:
            await self.store.put(
                replace(
                    record,
                    expiration=_parse(reply.json.get("expirationDateTime")),
                    status="renewed",
                    error_status=None,
                    error_code="",
                    error_message="",
                    failing_since=None,
                    label=record.label or label_of(want.resource, self._facts),
                )
            )
        report.renewed.append(want.resource)

    async def _delete(self, sub: JSON, report: ReconcileReport, note: bool = True) -> None:
        reply = await self.transport.send(Request("DELETE", f"/subscriptions/{sub['id']}"))
        if reply.ok or reply.status == 404:
            if note:
                report.deleted.append(str(sub.get("resource")))
        else:
            report.failed.append((str(sub.get("resource")), reply.error_text()))

    # ------------------------------------------------------------------ lifecycle notifications
    async def on_lifecycle(self, subscription_id: str, lifecycle_event: str, facts: DirectoryFacts) -> str:
        """Act on one lifecycle notification (already checked by the webhook). Returns what was done:
        ``renewed``, ``recreated``, ``resync`` (``missed``: the caller runs a calendarView delta / call-record
        catch-up) or ``ignored``."""
        records = await self.store.all()
        record = next((r for r in records if r.subscription_id == subscription_id), None)
        if record is None:
            return "ignored"
        want = self.desired(facts).get(norm_resource(record.resource))
        if want is None:
            return "ignored"
        report = ReconcileReport()
        if lifecycle_event == "reauthorizationRequired":
            await self._renew(want, {"id": subscription_id}, record, report)
        elif lifecycle_event == "subscriptionRemoved":
            await self._create(want, report, recreate=True)
        elif lifecycle_event == "missed":
            return "resync"
        else:
            return "ignored"
        if report.failed:
            return "failed"
        return "recreated" if report.recreated else "renewed"


async def _bounded(tasks: Iterable[Any], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def run(task: Any) -> None:
        async with gate:
            await task

    await asyncio.gather(*(run(t) for t in tasks))
