"""App settings: one home per key; typos and policy keys are refused with a one-line error."""

from __future__ import annotations

import pytest

from shared.settings import SETTINGS, Recipient, SettingsError, load_settings

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
GROUP = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def complete(**extra: str) -> dict[str, str]:
    env = {"VCAUDIT_TENANT_ID": TENANT, "VCAUDIT_STAFF_GROUP_IDS": GROUP, "VCAUDIT_PUPIL_GROUP_IDS": GROUP}
    env.update(extra)
    return env


def test_defaults() -> None:
    settings = load_settings(complete())
    settings.require_complete()
    assert settings.time_zone == "Europe/London"
    assert settings.digest_weekday == "monday"
    assert settings.digest_hour == 7
    assert settings.retention_days == 400
    assert settings.policy_file == ""
    assert settings.digest_recipients == ()


def test_values_are_parsed() -> None:
    settings = load_settings(complete(
        VCAUDIT_DIGEST_RECIPIENTS="dsl:DSL@elmgrove.sch.uk; governor:gov@elmgrove.sch.uk",
        VCAUDIT_DIGEST_HOUR="6", VCAUDIT_DIGEST_WEEKDAY="Friday", VCAUDIT_MONITOR_PUPIL_MAILBOXES="false",
        VCAUDIT_CLASS_TEAM_IDS=f"{GROUP},{GROUP.replace('0b', '1b')}"))
    assert settings.digest_recipients == (Recipient("dsl", "dsl@elmgrove.sch.uk"),
                                          Recipient("governor", "gov@elmgrove.sch.uk"))
    assert settings.digest_recipients[0].sees_names and not settings.digest_recipients[1].sees_names
    assert settings.digest_hour == 6
    assert settings.digest_weekday == "friday"
    assert settings.monitor_pupil_mailboxes is False
    assert len(settings.class_team_ids) == 2


def test_missing_required_setting_is_reported_at_start_up() -> None:
    settings = load_settings({})
    assert settings.missing == ("VCAUDIT_TENANT_ID", "VCAUDIT_STAFF_GROUP_IDS", "VCAUDIT_PUPIL_GROUP_IDS")
    with pytest.raises(SettingsError, match=r"^VCAUDIT_TENANT_ID: not set"):
        settings.require_complete()


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("VCAUDIT_TENANT_ID", "elmgrove", "VCAUDIT_TENANT_ID: 'elmgrove' is not a GUID"),
    ("VCAUDIT_STAFF_GROUP_IDS", f"{GROUP},staff", "VCAUDIT_STAFF_GROUP_IDS: 'staff' is not a GUID"),
    ("VCAUDIT_DIGEST_HOUR", "25", "VCAUDIT_DIGEST_HOUR: 25 is out of range; expected 0..23"),
    ("VCAUDIT_DIGEST_HOUR", "seven", "is not a whole number"),
    ("VCAUDIT_DIGEST_WEEKDAY", "mon", "is not a weekday"),
    ("VCAUDIT_TIME_ZONE", "GMT Standard Time", "is not an IANA time zone"),
    ("VCAUDIT_RETENTION_DAYS", "7", "out of range; expected 30..3650"),
    ("VCAUDIT_DIGEST_RECIPIENTS", "dsl@elmgrove.sch.uk", "has no role"),
    ("VCAUDIT_DIGEST_RECIPIENTS", "parent:p@x.org", "unknown role 'parent'"),
    ("VCAUDIT_DIGEST_SENDER", "not-an-address", "is not a mailbox address"),
    ("VCAUDIT_MONITOR_PUPIL_MAILBOXES", "maybe", "is not a boolean"),
    ("VCAUDIT_GRAPH_BASE_URL", "graph.microsoft.com", "is not an http(s) URL"),
    ("VCAUDIT_RETENTON_DAYS", "30", "VCAUDIT_RETENTON_DAYS: unknown app setting"),
    ("VCAUDIT_UNSUPERVISED_THRESHOLD_SECONDS", "90",
     "this is a policy key, not an app setting; set rules.pupils-unsupervised.threshold_seconds in the policy file"),
])
def test_bad_setting_one_line_error(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(complete(**{name: value}))
    assert expected in str(caught.value)
    assert str(caught.value).startswith(name)
    assert "\n" not in str(caught.value)


def test_other_variables_are_ignored() -> None:
    settings = load_settings(complete(PATH="/usr/bin", AzureWebJobsStorage="UseDevelopmentStorage=true"))
    assert settings.tenant_id == TENANT


def test_every_setting_is_documented_and_named_once() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for setting in SETTINGS:
        assert setting.name.startswith("VCAUDIT_")
        assert len(setting.description) > 20
        assert setting.required or setting.default is not None
