"""What a real school tenant does that a naive simulator would hide: channel attendance lists, the Exchange
RBAC scope, subscription lifetimes, ad hoc call permissions, group access policies, aliases, participants_v2
paging. Each switch is tested both ways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devtools.graphsim import GraphSimulator, Tenant
from devtools.graphsim.views import NO_ACCESS_POLICY_MESSAGE
from tests.graphsim.conftest import Webhook

pytestmark = pytest.mark.integration

CHANNEL = "19:0123456789abcdef0123456789abcdef@thread.tacv2"


def _user(uid: str, upn: str, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": uid,
        "displayName": uid,
        "userPrincipalName": upn,
        "mail": upn,
        "userType": "Member",
        "accountEnabled": True,
        "proxyAddresses": [f"SMTP:{upn}", *(f"smtp:{a}" for a in aliases)],
    }


def tenant() -> Tenant:
    t = Tenant(tenant_id="tenant-x", domain="harbour.sch.uk")
    t.users = {
        "t-1": _user("t-1", "b.dunn@harbour.sch.uk", ("beverley.dunn@harbour.sch.uk",)),
        "t-2": _user("t-2", "c.ray@harbour.sch.uk"),
        "p-1": _user("p-1", "p.one@harbour.sch.uk"),
    }
    t.groups = {g: {"id": g, "displayName": g} for g in ("g-staff", "g-pupils", "g-year7")}
    t.group_members = {"g-staff": ["t-1", "t-2"], "g-pupils": ["g-year7"], "g-year7": ["p-1"]}
    base = datetime(2026, 3, 2, 9, tzinfo=UTC)
    meetings, reports = [], {}
    for i in range(55):  # 55 channel lessons in one General channel, one report each
        mid = f"ch-meeting-{i:02d}"
        meetings.append(
            {
                "id": mid,
                "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/{mid}",
                "chatInfo": {"threadId": CHANNEL, "messageId": str(1000 + i)},
            }
        )
        start = base + timedelta(hours=i)
        reports[mid] = [
            {
                "id": f"rep-{i:02d}",
                "meetingStartDateTime": start.isoformat().replace("+00:00", "Z"),
                "meetingEndDateTime": (start + timedelta(minutes=50)).isoformat().replace("+00:00", "Z"),
                "totalParticipantCount": 3,
                "attendanceRecords": [],
            }
        ]
    meetings.append(
        {
            "id": "private-1",
            "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/private-1",
            "chatInfo": {"threadId": "19:meeting_abc@thread.v2"},
        }
    )
    reports["private-1"] = [
        {
            "id": "rep-private",
            "meetingStartDateTime": "2026-03-02T09:00:00Z",
            "meetingEndDateTime": "2026-03-02T09:50:00Z",
            "totalParticipantCount": 2,
            "attendanceRecords": [],
        }
    ]
    t.online_meetings = {
        "t-1": meetings,
        "p-1": [
            {"id": "pupil-meeting", "joinWebUrl": "https://x/pupil", "chatInfo": {"threadId": "19:meeting_p@thread.v2"}}
        ],
    }
    t.attendance_reports = reports
    t.events = {"t-1": [], "t-2": []}
    t.call_records = {
        "cr-1": {
            "id": "cr-1",
            "version": 1,
            "startDateTime": "2026-03-02T09:00:00Z",
            "endDateTime": "2026-03-02T09:50:00Z",
            "sessions": [],
            "participants_v2": [{"id": f"u-{i}", "identity": {"user": {"id": f"u-{i}"}}} for i in range(200)],
        }
    }
    return t


@pytest.fixture
def start() -> Iterator[Any]:
    sims: list[GraphSimulator] = []

    def make(t: Tenant | None = None, **switches: Any) -> httpx.Client:
        sim = GraphSimulator(t or tenant(), redelivery_backoff=0.01, **switches)
        sims.append(sim)
        return httpx.Client(base_url=sim.start(), timeout=10)

    yield make
    for sim in sims:
        sim.stop()


# ---------------------------------------------------------------- channel attendance


def test_a_channel_meetings_report_list_holds_the_channels_50_most_recent_reports(start: Any) -> None:
    client = start()
    listed = client.get("/users/t-1/onlineMeetings/ch-meeting-00/attendanceReports").json()["value"]
    assert len(listed) == 50
    assert [r["id"] for r in listed][:2] == ["rep-54", "rep-53"] and "rep-00" not in {r["id"] for r in listed}
    assert "attendanceRecords" not in listed[0]
    single = client.get("/users/t-1/onlineMeetings/ch-meeting-54/attendanceReports/rep-54")
    assert single.status_code == 400 and "channel meetings" in single.json()["error"]["message"]
    private = client.get("/users/t-1/onlineMeetings/private-1/attendanceReports").json()["value"]
    assert [r["id"] for r in private] == ["rep-private"]
    assert client.get("/users/t-1/onlineMeetings/private-1/attendanceReports/rep-private").status_code == 200


@pytest.mark.parametrize(("mode", "expected"), [("meeting", ["rep-07"]), ("none", []), (True, ["rep-07"])])
def test_channel_attendance_switch(start: Any, mode: Any, expected: list[str]) -> None:
    client = start(channel_attendance=mode)
    listed = client.get("/users/t-1/onlineMeetings/ch-meeting-07/attendanceReports").json()["value"]
    assert [r["id"] for r in listed] == expected


# ---------------------------------------------------------------- Exchange RBAC for Applications


def test_a_mailbox_outside_the_rbac_scope_answers_403_to_reads_and_subscriptions(start: Any, webhook: Webhook) -> None:
    t = tenant()
    t.mailbox_scope = ["t-1"]
    client = start(t)
    window = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-03-08T00:00:00Z"}
    assert client.get("/users/t-1/calendarView", params=window).status_code == 200
    for path in ("/users/t-2/calendarView", "/users/t-2/events", "/users/t-2/calendarView/delta"):
        reply = client.get(path, params=window)
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "ErrorAccessDenied", path
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": webhook.url + "/n",
        "resource": "users/t-2/events",
        "clientState": "c",
        "expirationDateTime": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    refused = client.post("/subscriptions", json=body)
    assert refused.status_code == 403 and "Access is denied" in refused.json()["error"]["message"]
    assert client.post("/subscriptions", json={**body, "resource": "users/t-1/events"}).status_code == 201
    off = start(t.copy(), enforce_mailbox_scope=False)
    assert off.get("/users/t-2/calendarView", params=window).status_code == 200


# ---------------------------------------------------------------- subscriptions: lifetimes and permissions


def _sub(webhook: Webhook, resource: str, minutes: int) -> dict[str, Any]:
    return {
        "changeType": "created",
        "notificationUrl": webhook.url + "/n",
        "lifecycleNotificationUrl": webhook.url + "/l",
        "resource": resource,
        "clientState": "c",
        "expirationDateTime": (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(),
    }


def test_lifetime_limits_are_configurable_and_refused_above_them(start: Any, webhook: Webhook) -> None:
    default = start()
    assert default.post("/subscriptions", json=_sub(webhook, "communications/callRecords", 4200)).status_code == 201
    tight = start(lifetime_limits={"callRecords": 60})
    refused = tight.post("/subscriptions", json=_sub(webhook, "communications/callRecords", 4200))
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Subscription expiration can only be 60 minutes in the future."
    assert tight.post("/subscriptions", json=_sub(webhook, "communications/callRecords", 55)).status_code == 201
    with pytest.raises(ValueError):
        GraphSimulator(tenant(), lifetime_limits={"nonsense": 1})


@pytest.mark.parametrize(
    ("resource", "permission"),
    [
        ("communications/adhocCalls/getAllRecordings", "CallRecordings.Read.All"),
        ("communications/adhocCalls/getAllTranscripts", "CallTranscripts.Read.All"),
    ],
)
def test_adhoc_call_subscriptions_need_their_permission(
    start: Any, webhook: Webhook, resource: str, permission: str
) -> None:
    without = start(granted_permissions=["CallRecords.Read.All"] if "Transcripts" in resource else [])
    refused = without.post("/subscriptions", json=_sub(webhook, resource, 120))
    assert refused.status_code == 403 and permission in refused.json()["error"]["message"]
    granted = start(granted_permissions=[permission])
    assert granted.post("/subscriptions", json=_sub(webhook, resource, 120)).status_code == 201
    t = tenant()
    t.granted_permissions = [permission]  # the tenant file can say it too
    assert start(t).post("/subscriptions", json=_sub(webhook, resource, 120)).status_code == 201


# ---------------------------------------------------------------- application access policy by group


def test_a_group_access_policy_reaches_direct_members_only(start: Any) -> None:
    t = tenant()
    t.access_policy = {"groups": ["g-staff", "g-pupils"]}
    client = start(t)
    url = "/users/{u}/onlineMeetings?$filter=JoinWebUrl eq '{j}'"
    teacher = client.get(url.format(u="t-1", j="https://teams.microsoft.com/l/meetup-join/private-1"))
    assert teacher.status_code == 200 and len(teacher.json()["value"]) == 1
    pupil = client.get(url.format(u="p-1", j="https://x/pupil"))  # a member of g-pupils only through g-year7
    assert pupil.status_code == 403 and pupil.json()["error"]["message"] == NO_ACCESS_POLICY_MESSAGE
    assert client.get("/users/p-1/onlineMeetings/pupil-meeting").status_code == 403
    transitive = start(t.copy(), access_policy_direct_members_only=False)
    assert transitive.get(url.format(u="p-1", j="https://x/pupil")).status_code == 200
    t2 = t.copy()
    t2.access_policy = {"global": True}
    assert start(t2).get(url.format(u="p-1", j="https://x/pupil")).status_code == 200


# ---------------------------------------------------------------- addresses


def test_users_by_id_or_upn_only_and_aliases_by_filter(start: Any) -> None:
    client = start()
    assert client.get("/users/b.dunn@harbour.sch.uk").json()["id"] == "t-1"
    assert client.get("/users/beverley.dunn@harbour.sch.uk").status_code == 404
    alias = "proxyAddresses/any(x:x eq 'smtp:beverley.dunn@harbour.sch.uk')"
    by_proxy = client.get("/users", params={"$filter": alias})
    assert [u["id"] for u in by_proxy.json()["value"]] == ["t-1"]
    by_mail = client.get("/users", params={"$filter": "mail eq 'B.Dunn@harbour.sch.uk'"})
    assert [u["id"] for u in by_mail.json()["value"]] == ["t-1"]


# ---------------------------------------------------------------- participants_v2 paging


def test_participants_v2_pages_without_top(start: Any) -> None:
    client = start()
    first = client.get("/communications/callRecords/cr-1/participants_v2").json()
    people = list(first["value"])
    link = first.get("@odata.nextLink")
    while link:
        page = client.get(link).json()
        people += page["value"]
        link = page.get("@odata.nextLink")
    assert len(people) == 200 and len({p["id"] for p in people}) == 200
    small = client.get("/communications/callRecords/cr-1/participants_v2", headers={"Prefer": "odata.maxpagesize=50"})
    assert len(small.json()["value"]) == 50
    refused = client.get("/communications/callRecords/cr-1/participants_v2", params={"$top": "130"})
    assert refused.status_code == 400
    ignored = start(participants_top="ignore").get("/communications/callRecords/cr-1/participants_v2?$top=10")
    assert ignored.status_code == 200 and len(ignored.json()["value"]) == 130
    honoured = start(participants_top="honour").get("/communications/callRecords/cr-1/participants_v2?$top=10")
    assert len(honoured.json()["value"]) == 10
