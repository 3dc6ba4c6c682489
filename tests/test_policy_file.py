"""The policy file: the built-in default encodes the catalogue; a school's file overrides it key by key, and
every mistake is a one-line error naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.policy.catalogue import catalogue
from shared.policy.policyfile import PolicyError, default_policy, load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_has_every_rule_at_its_catalogue_severity() -> None:
    policy = default_policy()
    assert list(policy.rules) == list(catalogue())
    for rule_id, spec in catalogue().items():
        assert policy.rules[rule_id].severity == spec.severity
        assert policy.rules[rule_id].enabled


def test_default_policy_parameters() -> None:
    rules = default_policy().rules
    assert rules["lobby-bypass-too-broad"].params["allowed_scopes"] == ["organizer"]
    assert rules["pupils-unsupervised"].params["threshold_seconds"] == 60
    assert "zoom.us" in rules["unapproved-platform"].params["unapproved_hosts"]
    assert rules["unapproved-platform"].params["approved_hosts"] == ["teams.microsoft.com"]


def test_school_file_overrides_key_by_key(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, """
[rules.pupils-unsupervised]
threshold_seconds = 120

[rules.attendee-mic-allowed]
severity = "medium"
"""))
    assert policy.rules["pupils-unsupervised"].params["threshold_seconds"] == 120
    assert policy.rules["pupils-unsupervised"].severity == "high"  # untouched key keeps the default
    assert policy.rules["attendee-mic-allowed"].severity == "medium"
    assert policy.rules["lobby-bypass-too-broad"].params["allowed_scopes"] == ["organizer"]


def test_rule_switched_off_with_reason(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, """
[rules.meeting-chat-enabled]
enabled = false
reason = "Chat is disabled for all pupils by the tenant's Teams meeting policy"
"""))
    off = policy.switched_off
    assert [r.id for r in off] == ["meeting-chat-enabled"]
    assert "tenant's Teams meeting policy" in off[0].reason


@pytest.mark.parametrize(("text", "expected"), [
    ("[rules.meeting-chat-enabled]\nenabled = false\n", "rules.meeting-chat-enabled: switched off without a reason"),
    ("[rules.meeting-chat-enabled]\nenabled = false\nreason = '  '\n", "switched off without a reason"),
    ("[rules.no-such-rule]\nseverity = 'high'\n", "rules.no-such-rule: unknown rule id"),
    ("[rules.pupils-unsupervised]\nthreshold_seconds = '60'\n",
     "rules.pupils-unsupervised.threshold_seconds: expected a whole number, got a string"),
    ("[rules.pupils-unsupervised]\nthreshold_seconds = -5\n", "expected zero or more"),
    ("[rules.pupils-unsupervised]\nthreshold_seconds = true\n", "expected a whole number, got a boolean"),
    ("[rules.lobby-bypass-too-broad]\nallowed_scopes = 'organizer'\n", "expected a list of strings"),
    ("[rules.lobby-bypass-too-broad]\nallowed_scopes = [1]\n", "expected a list of strings"),
    ("[rules.attendee-mic-allowed]\nseverity = 'critical'\n",
     "severity: expected one of high, medium, low, advisory"),
    ("[rules.attendee-mic-allowed]\nenabled = 'no'\n", "enabled: expected true or false"),
    ("[rules.attendee-mic-allowed]\nthreshold_seconds = 5\n", "unknown key 'threshold_seconds'"),
    ("[rules]\nattendee-mic-allowed = 3\n", "rules.attendee-mic-allowed: expected a table"),
    ("rules = 3\n", "rules: expected a table of rules"),
    ("colour = 'blue'\n", "unknown key 'colour'"),
    ("retention_days = 30\n", "'retention_days' is a deployment setting, not policy; set the app setting "
                              "VCAUDIT_RETENTION_DAYS"),
    ("tenant_id = 'x'\n", "VCAUDIT_TENANT_ID"),
    ("[digest]\nhour = 7\n", "VCAUDIT_DIGEST_*"),
    ("[rules.pupils-unsupervised]\ntime_zone = 'Europe/London'\n", "set the app setting VCAUDIT_TIME_ZONE"),
    ("[rules.x\n", "not valid TOML"),
])
def test_bad_policy_gives_one_line_error_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        load_policy(tmp_path / "absent.toml")
    with pytest.raises(PolicyError, match="is a directory"):
        load_policy(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"name = '\xff\xfe'\n")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(path)


def test_enabling_again_clears_reason(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "[rules.meeting-chat-enabled]\nenabled = true\nreason = 'x'\n"))
    assert policy.rules["meeting-chat-enabled"].enabled
    assert policy.switched_off == []


def test_repository_policy_file_loads() -> None:
    path = Path(__file__).resolve().parent.parent / "policy.toml"
    policy = load_policy(path)
    assert policy.source == str(path)
    assert set(policy.rules) == set(catalogue())


def test_every_rule_documents_the_clause_it_enforces() -> None:
    for spec in catalogue().values():
        assert spec.policy_text, spec.id
        assert spec.title
        for clause in spec.clauses:
            assert clause == "guidance" or clause in spec.policy_text or spec.id == "evidence-unavailable", \
                (spec.id, clause)


def test_the_deployed_policy_path_is_relative_to_the_app_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.policy.deployed import APP_ROOT, policy_path

    monkeypatch.chdir(tmp_path)  # the worker's directory is not the app root
    assert policy_path("policy.toml") == APP_ROOT / "policy.toml"
    assert load_policy(policy_path("policy.toml")).source == str(APP_ROOT / "policy.toml")
    assert policy_path("") is None
    assert policy_path(str(tmp_path / "x.toml")) == tmp_path / "x.toml"
