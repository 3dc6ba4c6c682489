"""The fault sweep (``devtools/faultsweep.py``): a lesson through the pipeline once cleanly, then once per call
of its evaluation path (tables, queues, blobs and Graph alike), failing that call once, and once more killing
the worker there. After the host's redelivery and the pending sweep every run ends exactly as the clean run:
the same findings, meeting log, evidence and alerts, no pending row, no message left, no phantom."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.faultsweep import Sweep
from devtools.graphsim import Tenant

pytestmark = pytest.mark.integration


def lessons(tenant: Tenant) -> list[dict[str, Any]]:
    """A channel lesson where a pupil shared their screen (a high finding, so a same-day alert as well), notified
    through its call record: about fifty calls, a hundred fault points, a few minutes."""
    lesson = next(o for o in tenant.occurrences if "pupil-screen-shared" in o["planted"])
    return [dict(lesson, eventId=None)]


def test_every_fault_point_ends_as_the_clean_run(azurite: Azurite, app_functions: dict[str, Any],
                                                school: Tenant) -> None:
    with Sweep(azurite.connection_string, app_functions.values(), school, lessons(school)) as sweep:
        clean, report = sweep.sweep()
    print(f"fault sweep: {report.points} fault points tried ({dict(report.by_kind)}), {report.equal} runs equal "
          f"to the clean run, {report.lost} findings lost")
    assert any(rule == "pupil-screen-shared" and state == "open" for _, rule, _, _, state in clean.findings)
    assert clean.alerts and clean.meetings and clean.evidence
    assert (clean.pending, clean.messages) == (0, 0)
    assert report.by_kind["crash storage"] and report.by_kind["crash graph"]
    assert report.by_kind["fail storage"] and report.by_kind["fail graph"]
    assert report.differing == []
    assert report.lost == 0
    assert report.equal == report.points
