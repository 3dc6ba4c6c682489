"""Shared test configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI the property-based tests replay a fixed sequence of examples, so a run is repeatable; locally they
# explore new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
