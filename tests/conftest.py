"""Shared test configuration and the local services tests talk to (started here, stopped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from devtools.azurite import Azurite

# In CI the property-based tests replay a fixed sequence of examples, so a run is repeatable; locally they
# explore new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The pinned Azurite (``make azurite``), once per test session, on free loopback ports."""
    with Azurite() as running:
        yield running


@pytest.fixture
def storage_prefix() -> str:
    """A fresh set of table names per test, so tests never see each other's rows."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def app_functions() -> dict[str, Any]:
    """The Functions app's functions by name. ``get_functions()`` may be called once per process."""
    import function_app

    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}
