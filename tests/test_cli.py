"""`vcaudit evaluate` as `docs/evidence-bundle.md` specifies it, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "lesson-with-uninvited-parent.json"


def vcaudit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)


def test_json_output_attributes_findings_to_bundles() -> None:
    run = vcaudit("evaluate", str(SAMPLE), "--format", "json")
    assert run.returncode == 0, run.stderr
    findings = json.loads(run.stdout)
    assert {(f["rule"], f["subject"]) for f in findings} == {
        ("uninvited-attendee", "c1a56a26-e361-457a-b070-5b96c04eba0f")}
    for finding in findings:
        assert finding["bundle"] == str(SAMPLE)
        assert set(finding) >= {"bundle", "rule", "severity", "subject", "clauses", "summary", "evidence"}
        assert finding["severity"] == "high"
        assert finding["clauses"] == ["G1", "S6", "P3", "S5"]


def test_table_output_names_people() -> None:
    run = vcaudit("evaluate", str(SAMPLE))
    assert run.returncode == 0
    assert "uninvited-attendee" in run.stdout
    assert "Tom Clarke" in run.stdout
    assert "1 bundle(s) evaluated, 1 finding(s)" in run.stdout


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "not valid JSON"),
    ("[]", "the bundle must be a JSON object, got a list"),
    ('{"event": {}}', "'directory' is missing"),
    ('{"directory": []}', "directory: expected an object, got a list"),
    ('{"directory": {}, "onlineMeeting": []}', "onlineMeeting: expected an object, got a list"),
    ('{"directory": {"staff": "x"}}', "directory.staff: expected a list of strings, got a string"),
    ('{"directory": {}, "callRecord": {"sessions": [{"startDateTime": "yesterday", "endDateTime": "today", '
     '"caller": {}}]}}', "callRecord.sessions[0]: 'yesterday' is not an ISO 8601 time"),
    ('{"directory": {}, "unavailable": [{"reason": "403"}]}', "unavailable[0].kind: missing"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_bad_bundle_exits_2_with_one_line_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    run = vcaudit("evaluate", str(bad), "--format", "json")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"vcaudit: {bad}: ")
    assert problem in lines[0]
    assert "Traceback" not in run.stderr
    assert json.loads(run.stdout) == []


def test_bad_bundle_never_stops_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    missing = tmp_path / "absent.json"
    run = vcaudit("evaluate", str(bad), str(SAMPLE), str(missing), "--format", "json")
    assert run.returncode == 2
    assert [f["bundle"] for f in json.loads(run.stdout)] == [str(SAMPLE)]
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 2
    assert f"{missing}: no such file" in errors[1]


def test_policy_option_changes_findings(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[rules.uninvited-attendee]\nenabled = false\nreason = 'trial'\n", encoding="utf-8")
    run = vcaudit("evaluate", str(SAMPLE), "--policy", str(policy), "--format", "json")
    assert run.returncode == 0
    assert json.loads(run.stdout) == []
    policy.write_text("[rules.uninvited-attendee]\nseverity = 'medium'\n", encoding="utf-8")
    run = vcaudit("evaluate", str(SAMPLE), "--policy", str(policy), "--format", "json")
    assert [f["severity"] for f in json.loads(run.stdout)] == ["medium"]


def test_bad_policy_is_one_line_and_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[rules.uninvited-attendee]\nenabled = false\n", encoding="utf-8")
    run = vcaudit("evaluate", str(SAMPLE), "--policy", str(policy))
    assert run.returncode == 2
    assert run.stderr.strip() == (f"vcaudit: {policy}: rules.uninvited-attendee: switched off without a reason; "
                                  "add reason = \"…\" (the digest shows it)")


def test_usage_errors_exit_2() -> None:
    run = vcaudit("evaluate")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    run = vcaudit("evaluate", str(SAMPLE), "--format", "xml")
    assert run.returncode == 2


def test_special_files_are_refused_in_one_line_and_the_bundles_after_them_evaluated(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # nobody writes to it: reading it would wait for ever
    folder = tmp_path / "folder.json"
    folder.mkdir()
    run = vcaudit("evaluate", str(fifo), "/dev/zero", str(folder), str(SAMPLE), "--format", "json")
    assert run.returncode == 2
    assert [f["bundle"] for f in json.loads(run.stdout)] == [str(SAMPLE)]
    assert run.stderr.splitlines() == [
        f"vcaudit: {fifo}: is a pipe (FIFO), not a regular file",
        "vcaudit: /dev/zero: is a device, not a regular file",
        f"vcaudit: {folder}: is a directory, not a bundle",
    ]


def test_a_bundle_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    from shared.commands.evaluate import MAX_BUNDLE_BYTES

    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: costs no disk
    run = vcaudit("evaluate", str(huge), str(SAMPLE), "--format", "json")
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"vcaudit: {huge}: larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB; "
                                       "not read"]
    assert [f["bundle"] for f in json.loads(run.stdout)] == [str(SAMPLE)]


def test_a_number_too_long_to_read_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "digits.json"
    bad.write_text('{"directory": {}, "n": ' + "9" * 5000 + "}", encoding="utf-8")
    run = vcaudit("evaluate", str(bad), "--format", "json")
    assert run.returncode == 2
    line, = run.stderr.splitlines()
    assert line.startswith(f"vcaudit: {bad}: not valid JSON: Exceeds the limit (4300 digits)")
