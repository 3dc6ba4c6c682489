"""Every test that starts Azurite or the Graph simulator is marked `integration`, so that `make test-fast`
(`-m "not integration"`) runs only tests that need no local service."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import SERVICE_FIXTURES, refuse_unmarked, uses_a_service

HERE = Path(__file__).resolve().parent


def test_every_collected_test_that_uses_a_service_is_marked(request: pytest.FixtureRequest) -> None:
    """Over whatever this run collected: under `make test-fast` no test left uses a service fixture; under
    `make test` every test that does carries the marker."""
    items = request.session.items
    assert request.node in items
    unmarked = [i.nodeid for i in items if uses_a_service(i) and i.get_closest_marker("integration") is None]
    assert unmarked == []
    if request.config.getoption("markexpr") == "not integration":
        assert [i.nodeid for i in items if uses_a_service(i)] == []


class FakeItem:
    def __init__(self, fixturenames: tuple[str, ...], marked: bool, path: Path = HERE / "test_x.py") -> None:
        self.fixturenames = fixturenames
        self.nodeid = "tests/test_x.py::test_y"
        self.marked = marked
        self.path = path

    def get_closest_marker(self, name: str) -> Any:
        return SimpleNamespace(name=name) if self.marked and name == "integration" else None


def test_a_fixture_that_starts_a_service_counts_through_its_closure() -> None:
    assert {"azurite", "sim"} <= SERVICE_FIXTURES
    assert uses_a_service(FakeItem(("tmp_path", "stores", "azurite"), marked=False))  # type: ignore[arg-type]
    assert not uses_a_service(FakeItem(("tmp_path", "policy_file"), marked=False))  # type: ignore[arg-type]
    simulator_test = FakeItem(("school",), marked=False, path=HERE / "graphsim" / "test_generate.py")
    assert uses_a_service(simulator_test)  # type: ignore[arg-type]


def test_starting_a_service_without_the_marker_fails_the_test() -> None:
    with pytest.raises(pytest.fail.Exception, match="test_y starts Azurite but is not marked integration"):
        refuse_unmarked(FakeItem((), marked=False), "Azurite")  # type: ignore[arg-type]
    refuse_unmarked(FakeItem((), marked=True), "Azurite")  # type: ignore[arg-type]
    refuse_unmarked(None, "GraphSimulator")  # outside a test (a script, a session fixture's teardown)


def test_the_services_start_through_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts Azurite or the simulator itself, unmarked, fails before anything starts."""
    from devtools.azurite import Azurite
    from devtools.graphsim.server import GraphSimulator
    from tests import conftest

    conftest._guard_services()
    monkeypatch.setitem(conftest._running, "item", FakeItem((), marked=False))
    for cls in (Azurite, GraphSimulator):
        assert hasattr(cls.start, "__wrapped__"), f"{cls.__name__}.start is not guarded"
        with pytest.raises(pytest.fail.Exception, match=f"starts {cls.__name__} but is not marked"):
            cls.start(object.__new__(cls))
