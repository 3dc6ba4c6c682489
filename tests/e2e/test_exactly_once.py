"""Nothing lost, nothing judged twice: each way an evaluation used to be lost, driven through the workers on
Azurite and the Graph simulator, ends with exactly the findings, meeting log, evidence and alerts of a clean run.
Faults are injected below our code (``devtools/faultsweep.py``: the storage SDK's transport, Graph's HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.faultsweep import Fault, Picture, Sweep
from devtools.graphsim import Tenant

pytestmark = pytest.mark.integration


def screen_share(tenant: Tenant) -> dict[str, Any]:
    return next(o for o in tenant.occurrences if "pupil-screen-shared" in o["planted"])


@pytest.fixture(scope="module")
def sweep(azurite: Azurite, app_functions: dict[str, Any], school: Tenant) -> Iterator[Sweep]:
    with Sweep(azurite.connection_string, app_functions.values(), school, [screen_share(school)]) as running:
        yield running


@pytest.fixture(scope="module")
def clean(sweep: Sweep) -> Picture:
    picture = sweep.run(Fault())
    assert any(f[1] == "pupil-screen-shared" for f in picture.findings) and picture.alerts
    return picture


def test_a_failed_findings_write_is_retried_not_taken_as_done(sweep: Sweep, clean: Picture) -> None:
    """The claim used to be released before gathering: the retry found no pending row and did nothing."""
    fault = Fault(match=r"^storage POST \S+/\$batch")  # the findings' transaction (Table Storage's batch)
    picture = sweep.run(fault)
    assert fault.fired == "storage"
    assert picture == clean


def test_a_failed_enqueue_does_not_leave_a_pending_row_that_blocks_the_meeting(sweep: Sweep, clean: Picture) -> None:
    """The pending row used to be written, the enqueue fail, and every later notification be absorbed by it."""
    fault = Fault(match=r"^storage POST \S+occurrence-evaluations/messages")
    picture = sweep.run(fault)
    assert fault.fired == "storage"
    assert picture == clean


def test_a_transient_call_record_error_is_retried_and_leaves_no_phantom(sweep: Sweep, clean: Picture) -> None:
    """One 500 on the call record's read used to record `evidence-unavailable` under a key of its own."""
    for status in (500, 502, 400):
        # past the gateway's own retries, so the queue's retry is what recovers it
        sweep.sim.faults.add("GET", r"^/communications/callRecords/[^/]+$", status, count=3)
        assert sweep.run(Fault()) == clean, status


def test_a_transient_event_read_error_is_retried_not_dropped(azurite: Azurite, app_functions: dict[str, Any],
                                                             school: Tenant) -> None:
    """One 500 on the event read used to record nothing, raise nothing, and never be retried."""
    lesson = dict(screen_share(school), callRecordIds=[])  # notified through the organiser's event only
    with Sweep(azurite.connection_string, app_functions.values(), school, [lesson]) as only_event:
        expected = only_event.run(Fault())
        # the lesson is in the meeting log; its call joins it when the call record's own notification (or the
        # nightly reconcile) puts the record in the call-record index, never by listing a day of call records
        assert expected.meetings and "scheduled" in expected.meetings[0][1]
        only_event.sim.faults.add("GET", r"^/users/[^/]+/events/[^/]+$", 500, count=3)
        assert only_event.run(Fault()) == expected
