"""A Microsoft Graph v1.0 simulator on loopback, and a generator of school tenants and weeks.

See ``devtools/graphsim/README.md`` for the routes, switches, fault injection and the tenant file format.
"""

from __future__ import annotations

from devtools.graphsim import generate
from devtools.graphsim.server import (
    LEGACY_GATEWAY_SWITCHES,
    ChangeItem,
    Delivery,
    FaultRule,
    Faults,
    GraphSimulator,
    RequestRecord,
)
from devtools.graphsim.tenant import Tenant
from devtools.graphsim.timeline import SimClock

__all__ = [
    "LEGACY_GATEWAY_SWITCHES",
    "ChangeItem",
    "Delivery",
    "FaultRule",
    "Faults",
    "GraphSimulator",
    "RequestRecord",
    "SimClock",
    "Tenant",
    "generate",
]
