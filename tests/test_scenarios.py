"""Example bundles with their expected findings: the team's shared scenarios (when that folder is beside the
checkout) and the project's own demo week (always)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from shared.engine import evaluate_raw
from shared.evidence.reader import BundleError
from shared.policy.catalogue import catalogue

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "scenarios"
PENDING = SHARED / "pending"  # scenarios of rules being built: checked once their rules exist
SAMPLES = ROOT / "samples" / "elmgrove-week"


def cases(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".expected.json")
                  and p.with_name(p.stem + ".expected.json").exists())


def check(bundle_path: Path) -> None:
    expected = json.loads(bundle_path.with_name(bundle_path.stem + ".expected.json").read_text(encoding="utf-8"))
    raw = json.loads(bundle_path.read_text(encoding="utf-8"))
    if isinstance(expected, dict) and expected.get("invalid"):
        with pytest.raises(BundleError):
            evaluate_raw(raw)
        return
    found = Counter((f.rule, f.subject) for f in evaluate_raw(raw).findings)
    wanted = Counter((rule, subject) for rule, subject in expected if subject != "*")
    wildcards = [rule for rule, subject in expected if subject == "*"]
    for rule in wildcards:
        match = next((k for k in found if k[0] == rule and k[1] is not None and found[k] > wanted[k]), None)
        assert match is not None, f"no {rule} finding with a subject"
        wanted[match] += 1
    assert found == wanted


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared scenarios folder is not beside this checkout")
@pytest.mark.parametrize("bundle", cases(SHARED), ids=lambda p: p.stem)
def test_shared_scenario(bundle: Path) -> None:
    check(bundle)


def expected_rules(bundle_path: Path) -> set[str]:
    expected = json.loads(bundle_path.with_name(bundle_path.stem + ".expected.json").read_text(encoding="utf-8"))
    return {rule for rule, _subject in expected} if isinstance(expected, list) else set()


@pytest.mark.skipif(not PENDING.is_dir(), reason="no pending shared scenarios beside this checkout")
@pytest.mark.parametrize("bundle", cases(PENDING), ids=lambda p: p.stem)
def test_pending_shared_scenario(bundle: Path) -> None:
    missing = expected_rules(bundle) - set(catalogue())
    if missing:
        pytest.skip(f"rules not built yet: {', '.join(sorted(missing))}")
    check(bundle)


@pytest.mark.parametrize("bundle", cases(SAMPLES), ids=lambda p: p.stem)
def test_demo_week_bundle(bundle: Path) -> None:
    check(bundle)


def test_demo_week_is_present() -> None:
    assert len(cases(SAMPLES)) >= 12
