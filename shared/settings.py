"""Deployment settings: every app setting vcaudit reads, named once, documented once.

The policy file (``shared/policy``) holds the *rules*; app settings (environment variables) hold the
*deployment*: tenant, groups, mailboxes, recipients, time zone, schedules, retention. Each key has exactly
one home. A policy key given as an app setting, or an app setting spelt wrong, is refused with a one-line
error naming the variable, so a typo never silently falls back to a default.

This module is pure: it imports nothing from ``azure.*`` and reads only the mapping it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "VCAUDIT_"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RECIPIENT_ROLES = ("dsl", "governor", "head", "admin")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")


class SettingsError(ValueError):
    """A deployment setting is missing, malformed or in the wrong home. The message is one line."""


@dataclass(frozen=True)
class Recipient:
    role: str
    address: str

    @property
    def sees_names(self) -> bool:
        """Only the DSL's copy names pupils and carries the findings CSV (data minimisation)."""
        return self.role == "dsl"


def _guid_list(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in raw.split(",") if x.strip())
    for item in items:
        if not _GUID.match(item):
            raise SettingsError(f"{name}: '{item}' is not a GUID; expected a comma-separated list of object ids")
    return items


def _guid(name: str, raw: str) -> str:
    raw = raw.strip()
    if not _GUID.match(raw):
        raise SettingsError(f"{name}: '{raw}' is not a GUID; expected the directory (tenant) id")
    return raw.lower()


def _int_in(lo: int, hi: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}: '{raw}' is not a whole number; expected {lo}..{hi}") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{name}: {value} is out of range; expected {lo}..{hi}")
        return value

    return parse


def _weekday(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in WEEKDAYS:
        raise SettingsError(f"{name}: '{raw}' is not a weekday; expected one of {', '.join(WEEKDAYS)}")
    return value


def _time_zone(name: str, raw: str) -> str:
    value = raw.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name}: '{raw}' is not an IANA time zone; expected for example Europe/London") from None
    return value


def _email(name: str, raw: str) -> str:
    value = raw.strip()
    if not _EMAIL.match(value):
        raise SettingsError(f"{name}: '{raw}' is not a mailbox address")
    return value.lower()


def _recipients(name: str, raw: str) -> tuple[Recipient, ...]:
    out: list[Recipient] = []
    for item in (x.strip() for x in raw.split(";")):
        if not item:
            continue
        role, sep, address = item.partition(":")
        if not sep:
            raise SettingsError(f"{name}: '{item}' has no role; expected ROLE:ADDRESS pairs separated by ';' "
                                f"(roles: {', '.join(RECIPIENT_ROLES)})")
        role = role.strip().lower()
        if role not in RECIPIENT_ROLES:
            raise SettingsError(f"{name}: unknown role '{role}'; expected one of {', '.join(RECIPIENT_ROLES)}")
        out.append(Recipient(role, _email(name, address)))
    return tuple(out)


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: '{raw}' is not a boolean; expected true or false")


def _schedule(name: str, raw: str) -> str:
    value = raw.strip()
    fields = value.split()
    if len(fields) != 6 or not all(re.fullmatch(r"[0-9*/,\-A-Za-z]+", f) for f in fields):
        raise SettingsError(f"{name}: '{raw}' is not an NCRONTAB schedule; expected six fields, for example "
                            "'0 */15 * * * *'")
    return value


def _secret(name: str, raw: str) -> str:
    value = raw.strip()
    if len(value) < 16:
        raise SettingsError(f"{name}: too short to be a function key (at least 16 characters expected)")
    return value


def _url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", value):
        raise SettingsError(f"{name}: '{raw}' is not an http(s) URL")
    return value


@dataclass(frozen=True)
class Setting:
    """One app setting: its variable name, what it means, its default (None = required in Azure)."""

    name: str
    attribute: str
    description: str
    parse: Callable[[str, str], Any]
    default: str | None = None
    required: bool = False


# The one list of app settings vcaudit reads. README's settings table and the infrastructure test are
# generated from / checked against it.
SETTINGS: tuple[Setting, ...] = (
    Setting("VCAUDIT_TENANT_ID", "tenant_id", "The school's Entra ID (directory) tenant id. Notifications from "
            "any other tenant are refused.", _guid, required=True),
    Setting("VCAUDIT_STAFF_GROUP_IDS", "staff_group_ids", "Comma-separated object ids of the groups whose members "
            "are staff (transitive membership).", _guid_list, required=True),
    Setting("VCAUDIT_PUPIL_GROUP_IDS", "pupil_group_ids", "Comma-separated object ids of the groups whose members "
            "are pupils (transitive membership). The education API's primaryRole is a fallback.", _guid_list,
            required=True),
    Setting("VCAUDIT_CLASS_TEAM_IDS", "class_team_ids", "Comma-separated ids of the class and year-group teams "
            "whose General channel is where lesson links belong.", _guid_list, default=""),
    Setting("VCAUDIT_MONITOR_PUPIL_MAILBOXES", "monitor_pupil_mailboxes", "Also watch pupils' calendars, to "
            "catch pupil-organised meetings (pupils need mailboxes).", _bool, default="true"),
    Setting("VCAUDIT_DIGEST_RECIPIENTS", "digest_recipients", "Who gets the weekly digest: ROLE:ADDRESS pairs "
            "separated by ';'. Roles: dsl (everything, with names and the CSV), governor, head, admin (counts "
            "and trends only).", _recipients, default=""),
    Setting("VCAUDIT_DIGEST_SENDER", "digest_sender", "The school mailbox the digest and alerts are sent from "
            "(the only mailbox Mail.Send is scoped to).", _email, default=""),
    Setting("VCAUDIT_DIGEST_WEEKDAY", "digest_weekday", "Weekday the digest is sent, in the school's time zone.",
            _weekday, default="monday"),
    Setting("VCAUDIT_DIGEST_HOUR", "digest_hour", "Local hour (0-23) after which the digest is sent.",
            _int_in(0, 23), default="7"),
    Setting("VCAUDIT_TIME_ZONE", "time_zone", "The school's IANA time zone: weeks, digest times and dates in "
            "mail are in it.", _time_zone, default="Europe/London"),
    Setting("VCAUDIT_RETENTION_DAYS", "retention_days", "Findings and meeting-log entries older than this are "
            "deleted, except those on hold.", _int_in(30, 3650), default="400"),
    Setting("VCAUDIT_ALERT_DAILY_CAP", "alert_daily_cap", "Most same-day safeguarding alert emails per day; the "
            "digest notes any held back.", _int_in(0, 500), default="20"),
    Setting("VCAUDIT_POLICY_FILE", "policy_file", "Path of the school's policy file (TOML), relative to the app "
            "root. Empty: the built-in default policy.", _text, default=""),
    Setting("VCAUDIT_GRAPH_BASE_URL", "graph_base_url", "Microsoft Graph endpoint. Change only for a national "
            "cloud or the local Graph simulator.", _url, default="https://graph.microsoft.com/v1.0"),
    Setting("VCAUDIT_WEBHOOK_BASE_URL", "webhook_base_url", "Public base URL of the app's HTTP functions "
            "(https://<app>.azurewebsites.net/api); Graph subscriptions point at its graph/notifications and "
            "graph/lifecycle routes. Empty: subscriptions are not managed.", _url, default=""),
    Setting("VCAUDIT_WEBHOOK_KEY", "webhook_key", "The function key Graph sends with every delivery (?code=), "
            "also the app's host key graph-webhook; generated once and kept in the azd environment. Empty: no key in "
            "the subscription URLs.", _secret, default=""),
    Setting("VCAUDIT_WATCH_ADHOC_CALLS", "watch_adhoc_calls", "True when the school granted CallRecordings.Read.All "
            "and CallTranscripts.Read.All (azd parameter watchAdhocCalls): ad hoc calls' recordings and transcripts "
            "are watched. False: they are not, and coverage says so.", _bool, default="false"),
    Setting("VCAUDIT_ENFORCE_ALLOWED", "enforce_allowed", "True when the school granted OnlineMeetings.ReadWrite.All "
            "(azd parameter enforceMeetingOptions), so the policy's enforce mode may correct meeting options. False: "
            "enforce cannot be switched on.", _bool, default="false"),
    Setting("VCAUDIT_SCHEDULE_SUBSCRIPTIONS", "schedule_subscriptions", "When subscriptions are ensured and "
            "renewed (NCRONTAB, UTC).", _schedule, default="0 7 */4 * * *"),
    Setting("VCAUDIT_SCHEDULE_PREFLIGHT", "schedule_preflight", "When the options of meetings starting within "
            "the hour are re-checked (NCRONTAB, UTC).", _schedule, default="0 */15 6-18 * * 1-5"),
    Setting("VCAUDIT_SCHEDULE_RECONCILE", "schedule_reconcile", "When missed notifications are recovered from "
            "calendars and call records (NCRONTAB, UTC).", _schedule, default="0 20 */6 * * *"),
    Setting("VCAUDIT_SCHEDULE_RETENTION", "schedule_retention", "When findings and logs past the retention "
            "period are deleted (NCRONTAB, UTC).", _schedule, default="0 40 2 * * *"),
    Setting("VCAUDIT_SCHEDULE_DIGEST", "schedule_digest", "When the digest timer checks whether the week's "
            "digest is due (NCRONTAB, UTC; hourly, it sends once).", _schedule, default="0 5 * * * *"),
)

_BY_NAME = {s.name: s for s in SETTINGS}

# Policy keys that people try to set as app settings: each is refused with a pointer to its real home.
POLICY_KEYS_AS_SETTINGS = {
    "VCAUDIT_LOBBY_ALLOWED_SCOPES": "rules.lobby-bypass-too-broad.allowed_scopes",
    "VCAUDIT_ALLOWED_LOBBY_SCOPES": "rules.lobby-bypass-too-broad.allowed_scopes",
    "VCAUDIT_UNSUPERVISED_THRESHOLD_SECONDS": "rules.pupils-unsupervised.threshold_seconds",
    "VCAUDIT_THRESHOLD_SECONDS": "rules.pupils-unsupervised.threshold_seconds",
    "VCAUDIT_APPROVED_HOSTS": "rules.unapproved-platform.approved_hosts",
    "VCAUDIT_UNAPPROVED_HOSTS": "rules.unapproved-platform.unapproved_hosts",
    "VCAUDIT_RULES": "rules",
}


@dataclass(frozen=True)
class Settings:
    tenant_id: str = ""
    staff_group_ids: tuple[str, ...] = ()
    pupil_group_ids: tuple[str, ...] = ()
    class_team_ids: tuple[str, ...] = ()
    monitor_pupil_mailboxes: bool = True
    digest_recipients: tuple[Recipient, ...] = ()
    digest_sender: str = ""
    digest_weekday: str = "monday"
    digest_hour: int = 7
    time_zone: str = "Europe/London"
    retention_days: int = 400
    alert_daily_cap: int = 20
    policy_file: str = ""
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    webhook_base_url: str = ""
    webhook_key: str = ""
    watch_adhoc_calls: bool = False
    enforce_allowed: bool = False
    schedule_subscriptions: str = "0 7 */4 * * *"
    schedule_preflight: str = "0 */15 6-18 * * 1-5"
    schedule_reconcile: str = "0 20 */6 * * *"
    schedule_retention: str = "0 40 2 * * *"
    schedule_digest: str = "0 5 * * * *"
    missing: tuple[str, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def require_complete(self) -> None:
        """Raise when a setting the deployed app cannot run without is absent (checked at start-up)."""
        if self.missing:
            first = _BY_NAME[self.missing[0]]
            raise SettingsError(f"{first.name}: not set; expected {first.description[0].lower()}"
                                f"{first.description[1:].split('.')[0]}")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read every ``VCAUDIT_*`` variable of ``env``; unknown ones and policy keys are errors."""
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in _BY_NAME:
            continue
        if name in POLICY_KEYS_AS_SETTINGS:
            raise SettingsError(f"{name}: this is a policy key, not an app setting; set "
                                f"{POLICY_KEYS_AS_SETTINGS[name]} in the policy file instead")
        raise SettingsError(f"{name}: unknown app setting; expected one of {', '.join(sorted(_BY_NAME))}")
    values: dict[str, Any] = {}
    missing: list[str] = []
    for setting in SETTINGS:
        raw = env.get(setting.name)
        if raw is None or raw.strip() == "":
            if setting.required:
                missing.append(setting.name)
                continue
            raw = setting.default or ""
            if raw == "":
                continue  # optional and unset: the dataclass default (empty) stands
        values[setting.attribute] = setting.parse(setting.name, raw)
    return Settings(**values, missing=tuple(missing))


def setting_names() -> tuple[str, ...]:
    return tuple(s.name for s in SETTINGS)


def is_setting(name: str) -> bool:
    return name in _BY_NAME


# Deployment keys people put in the policy file: each is refused with the app setting that holds it.
SETTINGS_KEYS_IN_POLICY = {
    "tenant": "VCAUDIT_TENANT_ID", "tenant_id": "VCAUDIT_TENANT_ID", "tenantId": "VCAUDIT_TENANT_ID",
    "staff_group_ids": "VCAUDIT_STAFF_GROUP_IDS", "staff_groups": "VCAUDIT_STAFF_GROUP_IDS",
    "pupil_group_ids": "VCAUDIT_PUPIL_GROUP_IDS", "pupil_groups": "VCAUDIT_PUPIL_GROUP_IDS",
    "class_team_ids": "VCAUDIT_CLASS_TEAM_IDS", "class_teams": "VCAUDIT_CLASS_TEAM_IDS",
    "monitored_mailboxes": "VCAUDIT_MONITOR_PUPIL_MAILBOXES",
    "monitor_pupil_mailboxes": "VCAUDIT_MONITOR_PUPIL_MAILBOXES",
    "digest": "VCAUDIT_DIGEST_*", "digest_recipients": "VCAUDIT_DIGEST_RECIPIENTS",
    "recipients": "VCAUDIT_DIGEST_RECIPIENTS", "digest_sender": "VCAUDIT_DIGEST_SENDER",
    "sender": "VCAUDIT_DIGEST_SENDER", "digest_weekday": "VCAUDIT_DIGEST_WEEKDAY",
    "digest_hour": "VCAUDIT_DIGEST_HOUR", "time_zone": "VCAUDIT_TIME_ZONE", "timezone": "VCAUDIT_TIME_ZONE",
    "retention_days": "VCAUDIT_RETENTION_DAYS", "retention": "VCAUDIT_RETENTION_DAYS",
    "alert_daily_cap": "VCAUDIT_ALERT_DAILY_CAP",
}
