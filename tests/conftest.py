"""Shared test configuration and the local services tests talk to (started here, stopped after)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from devtools.azurite import Azurite

# In CI the property-based tests replay a fixed sequence of examples, so a run is repeatable; locally they
# explore new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# -------------------------------------------------------------------------------------------- integration
# A test that starts Azurite or the Graph simulator is an integration test: `make test-fast` leaves it out
# (`-m "not integration"`). Tests that use a fixture starting either are marked here, at collection; any other
# test that starts one without the marker fails at once, naming itself, so the marker cannot be forgotten.

# Fixtures that start Azurite or the Graph simulator (fixtures built on them are found through pytest's closure).
SERVICE_FIXTURES = frozenset({"azurite", "sim", "fresh_sim", "rig_factory"})
# The local services, by module and class, and the method that starts each.
SERVICES = (("devtools.azurite", "Azurite"), ("devtools.graphsim.server", "GraphSimulator"))
_running: dict[str, pytest.Item | None] = {"item": None}


# The simulator's own tests (its routes, its handshakes, the school weeks it generates) test the local service.
SERVICE_TESTS = Path(__file__).resolve().parent / "graphsim"


def uses_a_service(item: pytest.Item) -> bool:
    return bool(SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))) or (
        SERVICE_TESTS in Path(str(getattr(item, "path", ""))).parents)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if uses_a_service(item) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)


def refuse_unmarked(item: pytest.Item | None, service: str) -> None:
    """Fail ``item`` if it starts ``service`` without the integration marker."""
    if item is not None and item.get_closest_marker("integration") is None:
        pytest.fail(f"{item.nodeid} starts {service} but is not marked integration: add "
                    "`@pytest.mark.integration` (or `pytestmark`), or use a fixture that starts it", pytrace=False)


def _guarded(start: Callable[..., Any], service: str) -> Callable[..., Any]:
    def guarded_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        refuse_unmarked(_running["item"], service)
        return start(self, *args, **kwargs)

    guarded_start.__wrapped__ = start  # type: ignore[attr-defined]
    return guarded_start


def _guard_services() -> None:
    for module_name, class_name in SERVICES:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None)
        if cls is not None and not hasattr(cls.start, "__wrapped__"):
            cls.start = _guarded(cls.start, class_name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _guard_services()  # the test modules, collected by now, have imported whichever services they use
    _running["item"] = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _running["item"] = None


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
