"""Fixtures for the Graph simulator's own tests: a generated school, a running simulator, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtools.graphsim import GraphSimulator, Tenant, generate
from tests.webhook import Webhook, serve_webhook

__all__ = ["Webhook"]


@pytest.fixture(scope="session")
def school() -> Tenant:
    """One generated primary school week; tests that mutate take ``school.copy()``."""
    return generate.primary_school(seed=1)


@pytest.fixture
def sim(school: Tenant) -> Iterator[GraphSimulator]:
    """A simulator over the shared school: tests must not mutate its tenant (use ``fresh_sim``)."""
    with GraphSimulator(school, redelivery_backoff=0.01) as simulator:
        yield simulator


@pytest.fixture
def fresh_sim(school: Tenant) -> Iterator[GraphSimulator]:
    """A simulator over a private copy of the school, for tests that change the tenant."""
    with GraphSimulator(school.copy(), redelivery_backoff=0.01) as simulator:
        yield simulator


@pytest.fixture
def http(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook
