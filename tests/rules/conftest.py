"""Fixtures for the rule tests: a loader for school policy files written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import PolicyFile


@pytest.fixture
def policy_file(tmp_path: Path) -> PolicyFile:
    """``policy_file('[rules.x]\\nseverity = "low"')`` returns the loaded policy."""
    return PolicyFile(tmp_path)
