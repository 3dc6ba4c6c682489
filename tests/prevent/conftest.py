"""The school and the local stack the before-the-lesson tests share: the demo school, copied per test, with a
school account to send nudges from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.graphsim import Tenant, generate
from tests.e2e.conftest import Stack, make_stack


@pytest.fixture(scope="module")
def school() -> Tenant:
    return generate.primary_school(seed=1)


@pytest.fixture
def tenant(school: Tenant) -> Tenant:
    return school.copy()


@pytest.fixture
def stack(azurite: Azurite, app_functions: dict[str, Any], tenant: Tenant, storage_prefix: str) -> Iterator[Stack]:
    for built in make_stack(azurite, app_functions, tenant, storage_prefix):
        office = next(u for u in tenant.users.values() if u.get("userType") != "Guest")  # the school's sender
        built.runtime.settings = replace(built.runtime.settings, digest_sender=office["userPrincipalName"])
        yield built
