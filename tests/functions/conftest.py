"""A runtime on Azurite with its own tables and queues per test, installed for the function handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite
from shared import runtime as runtime_module
from shared.graph.subscriptions import StoredSubscription
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.store.connection import StorageConfig

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
GROUP = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CLIENT_STATE = "s3cr3t-" + "k" * 57
SUBSCRIPTION = "8c3e1b2a-0000-4000-8000-000000000001"


@pytest.fixture
def app_runtime(azurite: Azurite, storage_prefix: str) -> Iterator[Runtime]:
    settings = load_settings({"VCAUDIT_TENANT_ID": TENANT, "VCAUDIT_STAFF_GROUP_IDS": GROUP,
                              "VCAUDIT_PUPIL_GROUP_IDS": GROUP})
    value = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix)
    asyncio.run(value.subscriptions.put(StoredSubscription("/users/x/events", CLIENT_STATE, SUBSCRIPTION)))
    runtime_module.use(value)
    yield value
    runtime_module.use(None)
