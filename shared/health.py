"""Monitoring health: is vcaudit still looking? Subscriptions and their expiry, the last notification, queue
and poison depths, the last reconcile and digest. Silence must never read as compliance: anything that means
"this week's picture may be incomplete" makes the report unhealthy (HTTP 503 for a monitor to alert on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.store.queues import QUEUES, poison

RECONCILE_LATE = timedelta(hours=26)  # reconcile runs daily; a day and a bit without one is a gap
RENEW_MARGIN = timedelta(hours=6)
OVERDUE_GRACE = timedelta(hours=1)  # past its due time by this much, a pending evaluation is stuck


@dataclass(slots=True)
class HealthReport:
    healthy: bool
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status_code(self) -> int:
        return 200 if self.healthy else 503

    def to_json(self) -> dict[str, Any]:
        return {"status": "healthy" if self.healthy else "unhealthy", "problems": self.problems, **self.details}


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None


def assess(*, subscriptions: list[Any], state: dict[str, dict[str, Any] | None], depths: dict[str, int],
           now: datetime, graph_roles: frozenset[str] | None = None, wanted_roles: tuple[str, ...] = ()
           ) -> HealthReport:
    """``graph_roles``: the Graph app roles the identity's token carries (None: unknown, e.g. off Azure);
    each of ``wanted_roles`` it lacks is a problem named by permission (shared/graph/permissions.py)."""
    problems: list[str] = []
    missing_roles = [role for role in wanted_roles if graph_roles is not None and role not in graph_roles]
    for role in missing_roles:
        problems.append(f"Microsoft Graph permission {role} is not granted to vcaudit's identity: run "
                        "`azd hooks run postprovision` (a grant can take hours to reach the app's token)")
    subs = []
    for record in subscriptions:
        expiry = record.expiration
        status = getattr(record, "status", "pending")
        label = getattr(record, "label", "") or record.resource
        entry = {"resource": record.resource, "id": record.subscription_id, "expires": _iso(expiry),
                 "status": status, "watches": label}
        if status == "not-attempted":
            entry["reason"] = getattr(record, "reason", "")
            subs.append(entry)  # not wanted (a permission the school declined): coverage, not a gap
            continue
        if status == "failing":
            entry.update(error={"status": record.error_status, "code": record.error_code,
                                "message": record.error_message}, since=_iso(record.failing_since))
            problems.append(f"{label} is not watched (since {_iso(record.failing_since)}): Graph answered "
                            f"{record.error_status} {record.error_code} {record.error_message}".rstrip())
        elif record.subscription_id is None:
            problems.append(f"subscription for {record.resource} was never confirmed by Graph")
        elif expiry is None or expiry <= now:
            problems.append(f"subscription for {record.resource} has lapsed: notifications are not arriving")
        elif expiry - now < RENEW_MARGIN:
            entry["renewSoon"] = True
        subs.append(entry)
    if not subscriptions:
        problems.append("no Graph subscriptions: vcaudit is not being told about meetings")
    poisoned = {name: depths.get(poison(name), 0) for name in QUEUES}
    for name, count in poisoned.items():
        if count:
            problems.append(f"{count} message(s) in {poison(name)}: some meetings may not have been evaluated")
    refused = sorted(k for k, v in (state.get("no-access-policy") or {}).items()
                     if k not in ("PartitionKey", "RowKey", "Timestamp", "etag") and v)
    if refused:
        problems.append("no Teams application access policy for " + ", ".join(refused) + ": their meetings, "
                        "reports, recordings and transcripts cannot be read; add them to the policy")
    reconcile = (state.get("reconcile") or {}).get("At")
    if isinstance(reconcile, datetime) and now - reconcile > RECONCILE_LATE:
        problems.append("reconcile has not run for over a day: missed notifications are not being recovered")
    unread = int((state.get("reconcile") or {}).get("Failed") or 0)
    if unread:
        problems.append(f"the last reconcile could not read {unread} source(s) (a calendar or the call-record "
                        "listing): what they would recover waits for the next reconcile")
    ambiguous = state.get("digest-ambiguous")
    if ambiguous and ambiguous.get("Open"):
        problems.append(f"the digest for {ambiguous.get('Week', 'a week')} may not have been delivered "
                        "(Graph accepted it without confirmation); check the DSL's inbox before resending")
    details = {
        "checkedAt": now.astimezone(UTC).isoformat(),
        "subscriptions": subs,
        "lastNotification": _iso((state.get("last-notification") or {}).get("At")),
        "queues": {name: depths.get(name, 0) for name in QUEUES},
        "poison": poisoned,
        "lastReconcile": _iso(reconcile),
        "lastReconcileUnread": unread,
        "lastDigest": _iso((state.get("digest") or {}).get("At")),
        "webhookDropped": (state.get("webhook-dropped-counts") or {}),
        "noAccessPolicy": refused,
    }
    if graph_roles is not None:
        details["graphPermissions"] = {"missing": missing_roles, "granted": sorted(graph_roles)}
    return HealthReport(not problems, problems, details)


def checked(app: Any, now: datetime | None = None) -> HealthReport:
    """:func:`snapshot`, or an unhealthy report naming the reason when storage cannot be reached."""
    from azure.core.exceptions import AzureError

    now = now or datetime.now(tz=UTC)
    try:
        return snapshot(app, now)
    except (AzureError, OSError) as exc:
        reason = f"storage unreachable ({type(exc).__name__}): findings, queues and subscriptions cannot be read"
        return HealthReport(False, [reason], {"checkedAt": now.astimezone(UTC).isoformat()})


def snapshot(app: Any, now: datetime | None = None) -> HealthReport:
    """Read everything health needs from the running app's stores and queues."""
    now = now or datetime.now(tz=UTC)
    stores = app.stores
    state = {name: stores.state.get(name) for name in ("last-notification", "reconcile", "digest",
                                                        "digest-ambiguous")}
    state["webhook-dropped-counts"] = dict(stores.state.counts("webhook-dropped"))
    state["no-access-policy"] = dict(stores.state.counts("no-access-policy"))
    depths = {}
    for name in QUEUES:
        depths[name] = app.queues.depth(name)
        depths[poison(name)] = app.queues.depth(poison(name))
    settings = getattr(app, "settings", None)
    roles = wanted = None
    if settings is not None:
        from shared.graph.permissions import granted_app_roles, wanted_app_roles

        roles, wanted = granted_app_roles(settings), wanted_app_roles(settings)
    overdue = len(stores.pending.overdue(now - OVERDUE_GRACE))
    report = assess(subscriptions=app.subscriptions.records(fresh=True), state=state, depths=depths, now=now,
                    graph_roles=roles, wanted_roles=wanted or ())
    report.details["overdueEvaluations"] = overdue
    if overdue:
        report.healthy = False
        report.problems.append(f"{overdue} evaluation(s) overdue for over an hour: the sweep re-drives them, but "
                               "they keep failing")
    return report
