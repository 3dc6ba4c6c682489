"""The simulator and time: recurrence expanded as Graph does, time zones across the change to British Summer
Time, ``Prefer: outlook.timezone``, and a tenant timeline played on an injectable clock."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from devtools.graphsim import GraphSimulator, SimClock, Tenant
from devtools.graphsim import calendar as cal
from devtools.graphsim.tenant import parse_time
from tests.graphsim.conftest import Webhook

pytestmark = pytest.mark.integration

TEACHER, PUPIL, PUPIL2 = "t-0001", "p-0001", "p-0002"
MASTER, PUPIL_MASTER = "AAMkMASTER-teacher", "AAMkMASTER-pupil"
ICAL = "040000008200E00074C5B7101A82E00800000000" + "AB" * 28
MEETING = "MSo1-series-meeting"
# The last Sunday of March 2026 is the 29th: Monday 23rd is GMT (09:00 = 09:00Z), Monday 30th BST (= 08:00Z).
WINDOW = ("2026-03-16T00:00:00Z", "2026-04-12T00:00:00Z")


def series(event_id: str, mailbox: str, organizer: bool, zone: str = "GMT Standard Time") -> dict:
    return {
        "id": event_id,
        "iCalUId": ICAL,
        "subject": "Year 9 Spanish",
        "type": "seriesMaster",
        "isOrganizer": organizer,
        "isCancelled": False,
        "seriesMasterId": None,
        "start": {"dateTime": "2026-03-16T09:00:00.0000000", "timeZone": zone},
        "end": {"dateTime": "2026-03-16T09:50:00.0000000", "timeZone": zone},
        "organizer": {"emailAddress": {"address": "k.okafor@harbour.sch.uk"}},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
            "range": {
                "type": "endDate",
                "startDate": "2026-03-16",
                "endDate": "2026-04-06",
                "recurrenceTimeZone": "GMT Standard Time",
            },
        },
        "onlineMeeting": {"joinUrl": "https://teams.microsoft.com/l/meetup-join/series"},
    }


def harbour() -> Tenant:
    """A small secondary school: one teacher, two pupils, a weekly series, a channel with many lessons."""
    users = {
        uid: {
            "id": uid,
            "displayName": name,
            "userPrincipalName": upn,
            "mail": upn,
            "proxyAddresses": [f"SMTP:{upn}", *[f"smtp:{a}" for a in aliases]],
            "userType": "Member",
            "accountEnabled": True,
        }
        for uid, name, upn, aliases in (
            (TEACHER, "Kemi Okafor", "k.okafor@harbour.sch.uk", ["kemi.okafor@harbour.sch.uk"]),
            (PUPIL, "Sam Pupil", "s.pupil@harbour.sch.uk", []),
            (PUPIL2, "Ali Pupil", "a.pupil@harbour.sch.uk", []),
        )
    }
    tenant = Tenant(tenant_id="tenant-harbour", domain="harbour.sch.uk", users=users)
    tenant.events = {TEACHER: [series(MASTER, TEACHER, True)], PUPIL: [series(PUPIL_MASTER, PUPIL, False)]}
    tenant.online_meetings = {
        TEACHER: [
            {
                "id": MEETING,
                "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/series",
                "chatInfo": {"threadId": "19:meeting_series@thread.v2"},
                "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
            }
        ]
    }
    return tenant


@pytest.fixture
def clock() -> SimClock:
    return SimClock(datetime(2026, 3, 16, 7, 0, tzinfo=UTC))


@pytest.fixture
def tsim(clock: SimClock) -> Iterator[GraphSimulator]:
    with GraphSimulator(harbour(), clock=clock, redelivery_backoff=0.01) as simulator:
        yield simulator


@pytest.fixture
def client(tsim: GraphSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tsim.base_url, timeout=10) as c:
        yield c


def view(client: httpx.Client, mailbox: str, prefer: str | None = None) -> list[dict]:
    headers = {"Prefer": prefer} if prefer else {}
    reply = client.get(
        f"/users/{mailbox}/calendarView",
        params={"startDateTime": WINDOW[0], "endDateTime": WINDOW[1], "$top": "100"},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json()["value"])


def starts(events: list[dict]) -> list[str]:
    return [e["start"]["dateTime"][:16] for e in events]


# ---------------------------------------------------------------- recurrence and time zones


def test_a_weekly_series_is_expanded_at_local_time_across_the_clock_change(client: httpx.Client) -> None:
    events = view(client, TEACHER)
    # 09:00 London every Monday: 09:00Z in March's GMT weeks, 08:00Z once British Summer Time has begun.
    assert starts(events) == ["2026-03-16T09:00", "2026-03-23T09:00", "2026-03-30T08:00", "2026-04-06T08:00"]
    assert all(e["start"]["timeZone"] == "UTC" for e in events)
    assert {e["type"] for e in events} == {"occurrence"} and {e["seriesMasterId"] for e in events} == {MASTER}
    assert len({e["id"] for e in events}) == 4 and all(e["recurrence"] is None for e in events)
    assert [e["originalStart"] for e in events][2] == "2026-03-30T08:00:00Z"
    assert len({e["iCalUId"] for e in events}) == 4  # event resource: different for each occurrence
    single = client.get(f"/users/{TEACHER}/events/{events[2]['id']}")
    assert single.status_code == 200 and single.json()["start"]["dateTime"].startswith("2026-03-30T08:00")
    instances = client.get(
        f"/users/{TEACHER}/events/{MASTER}/instances", params={"startDateTime": WINDOW[0], "endDateTime": WINDOW[1]}
    ).json()["value"]
    assert [e["id"] for e in instances] == [e["id"] for e in events]
    listed = client.get(f"/users/{TEACHER}/events").json()["value"]
    assert [e["type"] for e in listed] == ["seriesMaster"]


def test_prefer_outlook_timezone_is_honoured_in_windows_and_iana_names(client: httpx.Client) -> None:
    for zone in ("GMT Standard Time", "Europe/London"):
        reply = client.get(
            f"/users/{TEACHER}/calendarView",
            params={"startDateTime": WINDOW[0], "endDateTime": WINDOW[1]},
            headers={"Prefer": f'outlook.timezone="{zone}"'},
        )
        events = reply.json()["value"]
        assert starts(events) == ["2026-03-16T09:00", "2026-03-23T09:00", "2026-03-30T09:00", "2026-04-06T09:00"]
        assert {e["start"]["timeZone"] for e in events} == {zone}
        assert reply.headers["Preference-Applied"] == f'outlook.timezone="{zone}"'


def test_an_event_stored_in_an_iana_zone_is_read_in_utc() -> None:
    tenant = harbour()
    tenant.events[TEACHER] = [
        {
            "id": "single",
            "type": "singleInstance",
            "subject": "Parents' evening",
            "start": {"dateTime": "2026-04-01T18:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-04-01T19:00:00", "timeZone": "Europe/London"},
        }
    ]
    with GraphSimulator(tenant) as sim, httpx.Client(base_url=sim.base_url) as c:
        got = c.get(f"/users/{TEACHER}/events/single").json()
    assert got["start"] == {"dateTime": "2026-04-01T17:00:00.0000000", "timeZone": "UTC"}


@pytest.mark.parametrize(
    ("recurrence", "expected"),
    [
        (
            {
                "pattern": {"type": "daily", "interval": 2},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 3},
            },
            ["2026-03-02", "2026-03-04", "2026-03-06"],
        ),
        (
            {
                "pattern": {
                    "type": "weekly",
                    "interval": 2,
                    "daysOfWeek": ["tuesday", "thursday"],
                    "firstDayOfWeek": "monday",
                },
                "range": {"type": "endDate", "startDate": "2026-03-05", "endDate": "2026-03-31"},
            },
            ["2026-03-05", "2026-03-17", "2026-03-19", "2026-03-31"],
        ),
        (
            {
                "pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
                "range": {"type": "endDate", "startDate": "2026-01-01", "endDate": "2026-05-31"},
            },
            ["2026-01-31", "2026-03-31", "2026-05-31"],
        ),
        (
            {
                "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
                "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 3},
            },
            ["2026-01-30", "2026-02-27", "2026-03-27"],
        ),
        (
            {
                "pattern": {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["monday"], "index": "second"},
                "range": {"type": "noEnd", "startDate": "2026-01-01"},
            },
            ["2026-01-12", "2026-03-09", "2026-05-11"],
        ),
    ],
)
def test_recurrence_patterns_and_ranges(recurrence: dict, expected: list[str]) -> None:
    assert [d.isoformat() for d in cal.pattern_dates(recurrence, date(2026, 6, 1))] == expected


def test_a_numbered_range_counts_from_the_series_start_not_the_window() -> None:
    master = series(MASTER, TEACHER, True)
    master["recurrence"]["range"] = {
        "type": "numbered",
        "startDate": "2026-03-16",
        "numberOfOccurrences": 2,
        "recurrenceTimeZone": "GMT Standard Time",
    }
    tenant = harbour()
    tenant.events[TEACHER] = [master]
    got = tenant.instances(TEACHER, parse_time("2026-03-20T00:00:00Z"), parse_time("2026-05-01T00:00:00Z"))
    assert [e["originalStart"] for e in got] == ["2026-03-23T09:00:00Z"]


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(cal.CalendarError):
        cal.zone("Narnia Standard Time")


# ---------------------------------------------------------------- timeline


def subscribe(client: httpx.Client, webhook: Webhook, resource: str, minutes: int = 4200) -> dict:
    body = {
        "changeType": "created,updated,deleted" if "events" in resource else "created,updated",
        "notificationUrl": webhook.url + "/notify",
        "lifecycleNotificationUrl": webhook.url + "/lifecycle",
        "resource": resource,
        "expirationDateTime": (datetime(2026, 3, 16, 7, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat(),
        "clientState": "cs",
    }
    reply = client.post("/subscriptions", json=body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def notified(webhook: Webhook) -> list[tuple[str, str]]:
    out = []
    for r in webhook.notifications():
        for item in json.loads(r.body)["value"]:
            out.append((item["changeType"], item["resource"]))
    return out


def delta(client: httpx.Client, mailbox: str, link: str | None = None) -> tuple[list[dict], str]:
    if link is None:
        reply = client.get(
            f"/users/{mailbox}/calendarView/delta", params={"startDateTime": WINDOW[0], "endDateTime": WINDOW[1]}
        )
    else:
        reply = client.get(link)
    items: list[dict] = []
    body = reply.json()
    while True:
        items += body["value"]
        if "@odata.nextLink" not in body:
            return items, body["@odata.deltaLink"]
        body = client.get(body["@odata.nextLink"]).json()


def test_a_moved_occurrence_is_an_exception_and_notifies_the_series_master(
    tsim: GraphSimulator, client: httpx.Client, webhook: Webhook
) -> None:
    tsim.tenant.timeline = [
        {
            "at": "2026-03-20T12:00:00Z",
            "action": "moveOccurrence",
            "mailbox": TEACHER,
            "seriesMasterId": MASTER,
            "originalStart": "2026-03-23T09:00:00Z",
            "start": {"dateTime": "2026-03-24T10:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2026-03-24T10:50:00", "timeZone": "GMT Standard Time"},
        }
    ]
    subscribe(client, webhook, f"users/{TEACHER}/events", minutes=10000)
    _, link = delta(client, TEACHER)
    assert tsim.advance(days=3) == []  # nothing due yet (19 March)
    assert starts(view(client, TEACHER))[1] == "2026-03-23T09:00"
    tsim.set_now(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    events = view(client, TEACHER)
    assert starts(events) == ["2026-03-16T09:00", "2026-03-24T10:00", "2026-03-30T08:00", "2026-04-06T08:00"]
    moved = events[1]
    assert moved["type"] == "exception" and moved["originalStart"] == "2026-03-23T09:00:00Z"
    assert moved["id"] == cal.occurrence_id(MASTER, parse_time("2026-03-23T09:00:00Z"))  # same id as before
    changes, _ = delta(client, TEACHER, link)
    assert [c["id"] for c in changes] == [moved["id"]] and "@removed" not in changes[0]
    assert notified(webhook) == [("updated", f"Users/{TEACHER}/Events/{MASTER}")]
    # The pupil's copy of the series moved too.
    assert starts(view(client, PUPIL))[1] == "2026-03-24T10:00"


def test_a_cancelled_occurrence_vanishes_for_the_organiser_and_is_cancelled_for_attendees(
    tsim: GraphSimulator, client: httpx.Client
) -> None:
    tsim.tenant.timeline = [
        {
            "at": "2026-03-25T08:00:00Z",
            "action": "cancelOccurrence",
            "mailbox": TEACHER,
            "seriesMasterId": MASTER,
            "originalStart": "2026-03-30T08:00:00Z",
        }
    ]
    _, teacher_link = delta(client, TEACHER)
    _, pupil_link = delta(client, PUPIL)
    tsim.set_now(datetime(2026, 3, 25, 8, 0, tzinfo=UTC))
    gone = cal.occurrence_id(MASTER, parse_time("2026-03-30T08:00:00Z"))
    assert gone not in {e["id"] for e in view(client, TEACHER)}
    changes, _ = delta(client, TEACHER, teacher_link)
    assert changes == [{"@odata.type": "#microsoft.graph.event", "id": gone, "@removed": {"reason": "deleted"}}]
    assert client.get(f"/users/{TEACHER}/events/{gone}").status_code == 404
    pupil_changes, _ = delta(client, PUPIL, pupil_link)
    assert len(pupil_changes) == 1 and pupil_changes[0]["isCancelled"] is True
    assert pupil_changes[0]["subject"].startswith("Canceled: ")


def test_a_pattern_change_moves_the_remaining_occurrences(tsim: GraphSimulator, client: httpx.Client) -> None:
    recurrence = copy.deepcopy(series(MASTER, TEACHER, True)["recurrence"])
    recurrence["pattern"]["daysOfWeek"] = ["wednesday"]
    tsim.tenant.timeline = [
        {
            "at": "2026-03-17T08:00:00Z",
            "action": "changePattern",
            "mailbox": TEACHER,
            "seriesMasterId": MASTER,
            "recurrence": recurrence,
            "start": {"dateTime": "2026-03-18T09:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2026-03-18T09:50:00", "timeZone": "GMT Standard Time"},
        }
    ]
    before, link = delta(client, TEACHER)
    tsim.set_now(datetime(2026, 3, 17, 8, 0, tzinfo=UTC))
    assert starts(view(client, TEACHER)) == ["2026-03-18T09:00", "2026-03-25T09:00", "2026-04-01T08:00"]
    changes, _ = delta(client, TEACHER, link)
    assert sorted(c["id"] for c in changes if "@removed" in c) == sorted(e["id"] for e in before)
    assert len([c for c in changes if "@removed" not in c]) == 3


def test_artefacts_appear_at_their_delay_and_call_records_grow_on_update(
    tsim: GraphSimulator, client: httpx.Client, webhook: Webhook
) -> None:
    end = "2026-03-16T09:50:00Z"
    record = {
        "id": "cr-1",
        "version": 1,
        "type": "groupCall",
        "startDateTime": "2026-03-16T09:00:00Z",
        "endDateTime": end,
        "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/series",
        "sessions": [{"id": "s-1"}],
        "participants_v2": [],
    }
    tsim.tenant.timeline = [
        {"at": end, "delayMinutes": 35, "action": "addCallRecord", "callRecord": record},
        {
            "at": end,
            "delayMinutes": 95,
            "action": "updateCallRecord",
            "callRecordId": "cr-1",
            "addSessions": [{"id": "s-2"}],
        },
        {
            "at": end,
            "delayMinutes": 10,
            "action": "addAttendanceReport",
            "meetingId": MEETING,
            "report": {
                "id": "rep-1",
                "meetingStartDateTime": "2026-03-16T09:00:00Z",
                "meetingEndDateTime": end,
                "totalParticipantCount": 2,
                "attendanceRecords": [],
            },
        },
        {
            "at": "2026-03-16T09:30:00Z",
            "action": "patchMeeting",
            "meetingId": MEETING,
            "patch": {"lobbyBypassSettings": {"scope": "organizer"}},
        },
    ]
    subscribe(client, webhook, "communications/callRecords")
    tsim.set_now(datetime(2026, 3, 16, 9, 40, tzinfo=UTC))
    meeting = client.get(f"/users/{TEACHER}/onlineMeetings/{MEETING}").json()
    assert meeting["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": False}
    assert client.get(f"/users/{TEACHER}/onlineMeetings/{MEETING}/attendanceReports").json()["value"] == []
    tsim.set_now(datetime(2026, 3, 16, 10, 0, tzinfo=UTC))
    assert len(client.get(f"/users/{TEACHER}/onlineMeetings/{MEETING}/attendanceReports").json()["value"]) == 1
    assert client.get("/communications/callRecords/cr-1").status_code == 404
    tsim.set_now(datetime(2026, 3, 16, 10, 25, tzinfo=UTC))
    got = client.get("/communications/callRecords/cr-1", params={"$expand": "sessions"}).json()
    assert [s["id"] for s in got["sessions"]] == ["s-1"] and got["version"] == 1
    tsim.set_now(datetime(2026, 3, 16, 11, 25, tzinfo=UTC))
    got = client.get("/communications/callRecords/cr-1", params={"$expand": "sessions"}).json()
    assert [s["id"] for s in got["sessions"]] == ["s-1", "s-2"] and got["version"] == 2
    assert notified(webhook) == [
        ("created", "communications/callRecords/cr-1"),
        ("updated", "communications/callRecords/cr-1"),
    ]


def test_a_deleted_event_is_removed_for_the_organiser_and_cancelled_for_attendees(
    tsim: GraphSimulator, client: httpx.Client
) -> None:
    single = {
        "id": "one",
        "iCalUId": "ICAL-ONE",
        "type": "singleInstance",
        "subject": "Catch-up",
        "isOrganizer": True,
        "isCancelled": False,
        "start": {"dateTime": "2026-03-18T14:00:00", "timeZone": "GMT Standard Time"},
        "end": {"dateTime": "2026-03-18T14:30:00", "timeZone": "GMT Standard Time"},
    }
    tsim.tenant.events[TEACHER].append(single)
    tsim.tenant.events[PUPIL].append({**single, "id": "one-pupil", "isOrganizer": False})
    tsim.tenant.timeline = [
        {"at": "2026-03-18T14:40:00Z", "action": "deleteEvent", "mailbox": TEACHER, "eventId": "one"}
    ]
    tsim.set_now(datetime(2026, 3, 18, 15, 0, tzinfo=UTC))
    assert client.get(f"/users/{TEACHER}/events/one").status_code == 404
    assert client.get(f"/users/{PUPIL}/events/one-pupil").json()["isCancelled"] is True


def test_the_clock_is_also_moved_by_a_test_hook_and_never_backwards(tsim: GraphSimulator) -> None:
    root = tsim.base_url.removesuffix("/v1.0")
    reply = httpx.post(root + "/_graphsim/now", json={"now": "2026-03-17T00:00:00Z"})
    assert reply.status_code == 200 and tsim.clock() == datetime(2026, 3, 17, tzinfo=UTC)
    assert httpx.post(root + "/_graphsim/now", json={"now": "2026-03-16T00:00:00Z"}).status_code == 400


def test_a_malformed_timeline_is_refused_naming_the_step() -> None:
    tenant = harbour()
    tenant.timeline = [
        {"at": "2026-03-16T10:00:00Z", "action": "addCallRecord", "callRecord": {"id": "x"}},
        {"at": "2026-03-16T10:00:00Z", "action": "moveOccurrence", "mailbox": TEACHER},
    ]
    with pytest.raises(ValueError, match=r"timeline step 1 \(moveOccurrence\): missing seriesMasterId"):
        GraphSimulator(tenant)
    tenant.timeline = [{"at": "yesterday", "action": "addCallRecord", "callRecord": {}}]
    with pytest.raises(ValueError, match="timeline step 0"):
        GraphSimulator(tenant)
