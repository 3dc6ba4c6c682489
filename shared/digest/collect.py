"""Reading what the digest needs from the stores (the I/O side of ``model``).

The findings and meeting log of the week and the seven before it, monitoring-health facts (subscriptions,
notifications, webhook refusals, Graph's "missed" events, poison queues, earlier sends that failed or are
unconfirmed), the policy's switched-off rules, the latest directory (for consent gaps) and the concerns the
daily alert cap held back.

State rows read (``StateStore``): ``last-notification`` (``At``; the webhook), ``webhook-dropped`` (``Counts``
by reason; the webhook), ``missed-notifications`` (``Counts`` with ``missed`` and ``recovered``; the lifecycle
worker), ``reconcile`` (``At``; the reconcile timer), ``digest-ambiguous``, ``digest`` and ``alert-unconfirmed``
(written here). Counters are cumulative: each sent
digest stores the values it saw, and the next one reports the difference.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.digest.mail import MailSender
from shared.digest.model import TREND_WEEKS, Digest, DigestInputs, HealthFacts, build_digest
from shared.digest.prevention import PreventionCounts, prevention_counts
from shared.digest.store import FAILED, SENDING, UNCONFIRMED, AlertStore, DigestStore, open_mail_stores
from shared.policy.deployed import deployed_policy
from shared.policy.policyfile import Policy
from shared.settings import Settings
from shared.store.keys import previous_weeks
from shared.store.queues import QUEUES, Queues, poison
from shared.store.tables import Stores

log = logging.getLogger("vcaudit.digest")

DROPPED = "webhook-dropped"
MISSED = "missed-notifications"
LAST_NOTIFICATION = "last-notification"
DIGEST_UNCONFIRMED = "digest-ambiguous"  # read by shared/health.py too (Week, Open)
ALERT_UNCONFIRMED = "alert-unconfirmed"


@dataclass
class MailContext:
    """Everything the digest and the alerts read and write."""

    settings: Settings
    stores: Stores
    digests: DigestStore
    alerts: AlertStore
    policy: Policy
    mailer: MailSender | None = None
    queues: Queues | None = None
    expect_subscriptions: bool = True  # False: a preview of recorded weeks, with nothing watching Graph
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, stores: Stores, settings: Settings, *, mailer: MailSender | None = None,
             queues: Queues | None = None, policy: Policy | None = None,
             expect_subscriptions: bool = True) -> MailContext:
        digests, alerts = open_mail_stores(stores.table_service, stores.prefix)
        if policy is None:
            policy = deployed_policy(settings.policy_file)
        return cls(settings, stores, digests, alerts, policy, mailer, queues, expect_subscriptions)


def school_name(policy: Policy) -> str:
    """The school's name, from the policy's ("Elmgrove Primary School video-conferencing policy (…)")."""
    parts = re.split(r"\s+video[- ]conferencing policy", policy.name, maxsplit=1, flags=re.IGNORECASE)
    return parts[0].strip() if len(parts) == 2 else policy.name


def _delta(now: dict[str, int], before: dict[str, int] | None) -> dict[str, int]:
    before = before or {}
    return {k: v - int(before.get(k, 0)) for k, v in now.items() if v - int(before.get(k, 0)) > 0}


def counters(ctx: MailContext) -> dict[str, dict[str, int]]:
    return {"dropped": ctx.stores.state.counts(DROPPED), "missed": ctx.stores.state.counts(MISSED)}


def _describe(resource: str) -> str:
    r = resource.strip("/").lower()
    if r.endswith("/events"):
        return f"calendar of user {resource.strip('/').split('/')[1][:8]}…"
    if "callrecords" in r:
        return "call records (every call in the tenant)"
    if "getallrecordings" in r:
        return "recordings"
    if "getalltranscripts" in r:
        return "transcripts"
    return resource


def health_facts(ctx: MailContext, week: str, now: datetime) -> HealthFacts:
    records = ctx.stores.subscriptions().records(fresh=True)
    lapsed = tuple(_describe(r.resource) for r in records if r.status not in ("failing", "not-attempted")
                   and (not r.subscription_id or (r.expiration is not None and r.expiration < now)))
    zone = ZoneInfo(ctx.settings.time_zone)
    not_watched = tuple(not_watched_sentence(r, now, zone) for r in records if r.status == "failing")
    not_covered = tuple(f"{(r.label or _describe(r.resource)).capitalize()} are not watched: {r.reason}"
                        for r in records if r.status == "not-attempted")
    refused = tuple(sorted(ctx.stores.state.counts("no-access-policy")))
    last = ctx.stores.state.get(LAST_NOTIFICATION)
    last_at = last.get("At") if last else None
    earlier = previous_weeks(week, 2)[0]
    before = ctx.digests.week_counters(earlier) or {}
    current = counters(ctx)
    dropped = _delta(current["dropped"], before.get("dropped"))
    missed = _delta(current["missed"], before.get("missed"))
    poisoned = {}
    if ctx.queues is not None:
        for name in QUEUES:
            depth = ctx.queues.depth(poison(name))
            if depth:
                poisoned[poison(name)] = depth
    problems: list[str] = []
    for record in ctx.digests.problems(previous_weeks(week, 5)[:-1]):
        what = {FAILED: "could not be sent", UNCONFIRMED: "was not confirmed by Graph",
                SENDING: "was interrupted while sending"}[record.status]
        problems.append(f"The digest for {record.week} to {record.role} {what} ({record.detail or 'no detail'})")
    for row in ctx.alerts.with_status(UNCONFIRMED):
        if row.week == week:
            problems.append(f"A same-day alert for finding {row.finding_id} was not confirmed by Graph")
    return HealthFacts(
        subscriptions_total=len(records), subscriptions_lapsed=lapsed,
        last_notification=last_at if isinstance(last_at, datetime) else None, dropped=dropped,
        missed=int(missed.get("missed", 0)),
        missed_unrecovered=max(0, int(missed.get("missed", 0)) - int(missed.get("recovered", 0))),
        poison=poisoned, send_problems=tuple(dict.fromkeys(problems)),
        expect_subscriptions=ctx.expect_subscriptions, not_watched=not_watched, not_covered=not_covered,
        no_access_policy=refused)


def not_watched_sentence(record: Any, now: datetime, zone: ZoneInfo) -> str:
    """"Mrs Khan's calendar has not been watched since Tuesday: the mailbox is outside the scope the school
    granted" — from a failing subscription row."""
    what = record.label or _describe(record.resource)
    since = record.failing_since
    when = ""
    if isinstance(since, datetime):
        local, today = since.astimezone(zone), now.astimezone(zone)
        days = (today.date() - local.date()).days
        when = (" since today" if days == 0 else f" since {local:%A}" if days < 7
                else f" since {local:%A} {local.day} {local:%B}")
    message = f"{record.error_code} {record.error_message}".lower()
    if record.error_status == 403 and "/events" in record.resource.lower():
        why = "the mailbox is outside the scope the school granted"
    elif record.error_status == 403:
        why = "the school has not granted the permission Graph needs for it"
    elif record.error_status == 400 and "expiration" in message:
        why = "Graph refused the subscription's lifetime"
    elif record.error_status == 404:
        why = "Graph cannot find it (the account may have no mailbox)"
    else:
        why = f"Graph refused it ({record.error_status or 'no answer'})"
    return f"{what[:1].upper()}{what[1:]} has not been watched{when}: {why}"


def latest_directory(ctx: MailContext, meetings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The directory facts of the week's in-scope evidence bundles, merged (consent gaps are read from it).

    Each stored bundle keeps only its own meeting's people (data minimisation), so the week's view is their
    union: every class team and invited group that met, with its members' pupil and consent status; for a
    person, the latest bundle's entry wins."""
    epoch = datetime.min.replace(tzinfo=UTC)
    merged: dict[str, Any] | None = None
    consent: dict[str, bool] = {}
    for row in sorted(meetings, key=lambda r: r.get("Start") or epoch):
        blob = row.get("EvidenceBlob")
        if not (row.get("InScope") and blob):
            continue
        bundle = ctx.stores.evidence.load(str(blob))
        directory = bundle.get("directory") if bundle else None
        if not isinstance(directory, dict):
            continue
        if merged is None:
            merged = {"staff": [], "pupils": [], "consent": [], "users": {}, "groups": {}, "classTeams": []}
        for name in ("staff", "pupils"):
            ids = directory.get(name)
            if isinstance(ids, list):
                merged[name] = list(dict.fromkeys([*merged[name], *ids]))
        consented = {str(p) for p in directory.get("consent") or []}
        for pupil in directory.get("pupils") or []:  # the latest bundle naming a pupil says their consent
            consent[str(pupil)] = str(pupil) in consented
        for name in ("users", "groups"):
            entries = directory.get(name)
            if isinstance(entries, dict):
                merged[name].update(entries)
        teams = {str(t.get("id")): t for t in merged["classTeams"]}
        for team in directory.get("classTeams") or []:
            if isinstance(team, dict):
                teams[str(team.get("id"))] = team
        merged["classTeams"] = list(teams.values())
    if merged is not None:
        merged["consent"] = [p for p, yes in consent.items() if yes]
    return merged


def gather(ctx: MailContext, week: str, now: datetime) -> DigestInputs:
    weeks = previous_weeks(week, TREND_WEEKS)
    findings = {w: list(ctx.stores.findings.week(w)) for w in weeks}
    meetings = {w: ctx.stores.meetings.week(w) for w in weeks}
    return DigestInputs(
        week=week, zone=ctx.settings.zone, now=now, findings=findings, meetings=meetings,
        health=health_facts(ctx, week, now), school=school_name(ctx.policy),
        rules_off=[(r.id, r.reason) for r in ctx.policy.switched_off],
        directory=latest_directory(ctx, meetings[week]), alerts_held=ctx.alerts.held(week),
        alert_cap=ctx.settings.alert_daily_cap, links=ctx.settings.desk_url, prevention=_prevention(ctx, week, now))


def _prevention(ctx: MailContext, week: str, now: datetime) -> PreventionCounts:
    """Before the lesson (nudges, enforce): counted apart; a failure to read them never stops the digest."""
    try:
        return prevention_counts(ctx.stores, week, now=now.timestamp())
    except Exception:
        log.exception("prevention counts could not be read")
        return PreventionCounts()


def collect(ctx: MailContext, week: str, now: datetime) -> Digest:
    return build_digest(gather(ctx, week, now))
