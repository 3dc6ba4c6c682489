"""Subscriptions, the validation handshake, change notifications and lifecycle events, over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from devtools.graphsim import ChangeItem, GraphSimulator
from devtools.graphsim.server import max_expiry_minutes

from .conftest import Webhook

pytestmark = pytest.mark.integration

CALL_RECORDS = "/communications/callRecords"
RECORDINGS = "communications/onlineMeetings/getAllRecordings"


def expiry(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def create(
    http: httpx.Client, webhook: Webhook, resource: str = CALL_RECORDS, minutes: float = 4000, **extra: object
) -> httpx.Response:
    body = {
        "changeType": "created,updated" if "callRecords" in resource else "created",
        "notificationUrl": f"{webhook.url}/api/notify?code=fn-key",
        "lifecycleNotificationUrl": f"{webhook.url}/api/lifecycle",
        "resource": resource,
        "expirationDateTime": expiry(minutes),
        "clientState": "s" * 64,
        **extra,
    }
    return http.post("/subscriptions", json=body)


def test_handshake_accepted_for_both_urls(http: httpx.Client, webhook: Webhook, sim: GraphSimulator) -> None:
    reply = create(http, webhook)
    assert reply.status_code == 201, reply.text
    sub = reply.json()
    assert sub["clientState"] == "s" * 64 and sub["resource"] == CALL_RECORDS
    validations = webhook.validations()
    assert [v.path for v in validations] == ["/api/notify", "/api/lifecycle"]
    first = validations[0]
    assert first.query["code"] == ["fn-key"]  # the notification URL's own query string is kept
    assert first.headers["content-type"].startswith("text/plain") and first.body == b""
    assert " " in first.query["validationToken"][0]  # needs URL-decoding before the echo
    assert [s["id"] for s in http.get("/subscriptions").json()["value"]] == [sub["id"]]
    assert all(h["ok"] for h in sim.handshakes)


def test_handshake_refused_when_echo_is_still_encoded(http: httpx.Client, webhook: Webhook) -> None:
    webhook.echo = lambda token: quote(token)
    reply = create(http, webhook)
    assert reply.status_code == 400
    assert "must respond with 200 OK" in reply.json()["error"]["message"]
    assert http.get("/subscriptions").json()["value"] == []


def test_handshake_refused_when_not_text_plain(http: httpx.Client, webhook: Webhook) -> None:
    webhook.echo_content_type = "application/json"
    assert create(http, webhook).status_code == 400


def test_handshake_refused_when_lifecycle_url_fails(http: httpx.Client, webhook: Webhook) -> None:
    webhook.echo = lambda token: token if len(webhook.validations()) == 1 else "wrong"
    assert create(http, webhook).status_code == 400


def test_handshake_refused_when_too_slow(school: object, webhook: Webhook) -> None:
    webhook.echo_delay = 0.6
    with GraphSimulator(school, validation_timeout=0.3) as sim:  # type: ignore[arg-type]
        reply = create(httpx.Client(base_url=sim.base_url), webhook)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "Subscription validation request timed out."


@pytest.mark.parametrize(
    ("resource", "limit"),
    [
        (CALL_RECORDS, 4230),
        (RECORDINGS, 4320),
        ("communications/onlineMeetings/getAllTranscripts", 4320),
        ("/users/4e5f0000-0000-4000-8000-000000000001/events", 10080),
    ],
)
def test_expiry_limits(http: httpx.Client, webhook: Webhook, resource: str, limit: int) -> None:
    assert max_expiry_minutes(resource) == limit
    extra = {"changeType": "created,updated,deleted"} if resource.endswith("/events") else {}
    over = create(http, webhook, resource, minutes=limit + 2, **extra)
    assert over.status_code == 400
    assert over.json()["error"] == {
        **over.json()["error"],
        "code": "ExtensionError",
        "message": f"Subscription expiration can only be {limit} minutes in the future.",
    }
    ok = create(http, webhook, resource, minutes=limit - 1, **extra)
    assert ok.status_code == 201, ok.text


def test_short_expiry_is_raised_to_45_minutes(http: httpx.Client, webhook: Webhook) -> None:
    sub = create(http, webhook, minutes=10).json()
    lifetime = datetime.fromisoformat(sub["expirationDateTime"][:19] + "+00:00") - datetime.now(UTC)
    assert timedelta(minutes=44) < lifetime <= timedelta(minutes=45)


def test_teams_resources_need_a_lifecycle_url_beyond_an_hour(http: httpx.Client, webhook: Webhook) -> None:
    body = {
        "changeType": "created",
        "notificationUrl": f"{webhook.url}/n",
        "resource": RECORDINGS,
        "expirationDateTime": expiry(120),
        "clientState": "x",
    }
    reply = http.post("/subscriptions", json=body)
    assert reply.status_code == 400 and "lifecycleNotificationUrl is required" in reply.json()["error"]["message"]
    body["expirationDateTime"] = expiry(50)
    assert http.post("/subscriptions", json=body).status_code == 201


def test_body_checks(http: httpx.Client, webhook: Webhook) -> None:
    assert create(http, webhook, clientState="x" * 129).status_code == 400
    assert create(http, webhook, changeType="deleted").status_code == 400
    assert create(http, webhook, resource="/me/unknownThings").status_code == 400
    assert create(http, webhook, includeResourceData=True).status_code == 400
    assert webhook.validations() == []  # refused before any handshake


def test_renew_delete_and_list(http: httpx.Client, webhook: Webhook) -> None:
    sub = create(http, webhook, minutes=100).json()
    renewed = http.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": expiry(4200)})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    assert http.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": expiry(5000)}).status_code == 400
    assert http.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert http.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert http.get("/subscriptions").json()["value"] == []
    assert http.delete(f"/subscriptions/{sub['id']}").status_code == 404


def test_expired_subscriptions_disappear(school: object, webhook: Webhook) -> None:
    now = [datetime.now(UTC)]
    with GraphSimulator(school, clock=lambda: now[0]) as sim:  # type: ignore[arg-type]
        http = httpx.Client(base_url=sim.base_url)
        create(http, webhook, minutes=60)
        assert len(http.get("/subscriptions").json()["value"]) == 1
        now[0] += timedelta(minutes=61)
        assert http.get("/subscriptions").json()["value"] == []


def test_notifications_from_several_subscriptions_in_one_post(
    http: httpx.Client, webhook: Webhook, sim: GraphSimulator
) -> None:
    occ = next(o for o in sim.tenant.occurrences if o["kind"] == "private-meeting" and o["recordingIds"])
    calls = create(http, webhook).json()
    recordings = create(http, webhook, RECORDINGS, minutes=4000).json()
    events = create(
        http, webhook, f"/users/{occ['organizerId']}/events", minutes=5000, changeType="created,updated,deleted"
    ).json()
    deliveries = sim.notify_changes(
        [
            ChangeItem(
                calls["id"],
                "created",
                f"communications/callRecords/{occ['callRecordIds'][0]}",
                {"@odata.type": "#microsoft.graph.callrecord", "@odata.id": "x", "id": occ["callRecordIds"][0]},
            ),
            ChangeItem(
                recordings["id"],
                "created",
                "r",
                {"@odata.type": "#Microsoft.Graph.callRecording", "@odata.id": "r", "id": "r"},
            ),
        ]
    )
    assert len(deliveries) == 1 and deliveries[0].delivered and deliveries[0].attempts == 1
    posts = webhook.notifications()
    assert len(posts) == 1 and posts[0].path == "/api/notify" and posts[0].query["code"] == ["fn-key"]
    items = json.loads(posts[0].body)["value"]
    assert [i["subscriptionId"] for i in items] == [calls["id"], recordings["id"]]
    assert set(items[0]) == {
        "subscriptionId",
        "subscriptionExpirationDateTime",
        "changeType",
        "resource",
        "resourceData",
        "clientState",
        "tenantId",
    }
    assert items[0]["tenantId"] == sim.tenant.tenant_id and items[0]["clientState"] == "s" * 64
    # Helpers find the subscriptions covering a change.
    sim.notify_event(occ["organizerId"], occ["eventId"], "updated")
    sim.notify_call_record(occ["callRecordIds"][0])
    sim.notify_recording(occ["meetingId"], occ["recordingIds"][0])
    later = [json.loads(p.body)["value"][0] for p in webhook.notifications()[1:]]
    assert [i["subscriptionId"] for i in later] == [events["id"], calls["id"], recordings["id"]]
    assert later[0]["resource"] == f"Users/{occ['organizerId']}/Events/{occ['eventId']}"
    assert later[0]["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert (
        later[2]["resource"]
        == f"communications/onlineMeetings('{occ['meetingId']}')/recordings('{occ['recordingIds'][0]}')"
    )


def test_channel_meeting_recordings_not_notified_unless_switched_on(
    http: httpx.Client, webhook: Webhook, sim: GraphSimulator
) -> None:
    occ = next(o for o in sim.tenant.occurrences if o["channelMeeting"] and o["recordingIds"])
    create(http, webhook, RECORDINGS)
    assert sim.notify_recording(occ["meetingId"], occ["recordingIds"][0]) == []
    sim.channel_recordings = True
    assert len(sim.notify_recording(occ["meetingId"], occ["recordingIds"][0])) == 1


def test_redelivery_until_2xx(http: httpx.Client, webhook: Webhook, sim: GraphSimulator) -> None:
    create(http, webhook)
    rid = next(iter(sim.tenant.call_records))
    webhook.statuses = [500, 503]
    (delivery,) = sim.notify_call_record(rid)
    assert delivery.delivered and delivery.statuses == [500, 503, 202]
    assert len(webhook.notifications()) == 3
    webhook.statuses = [500] * 10
    (failed,) = sim.notify_call_record(rid)
    assert not failed.delivered and failed.attempts == sim.redelivery_attempts


def test_lifecycle_events(http: httpx.Client, webhook: Webhook, sim: GraphSimulator) -> None:
    a = create(http, webhook).json()
    b = create(http, webhook, RECORDINGS).json()
    (delivery,) = sim.send_lifecycle_many([(a["id"], "reauthorizationRequired"), (b["id"], "missed")])
    post = webhook.notifications()[-1]
    assert post.path == "/api/lifecycle" and delivery.delivered
    items = json.loads(post.body)["value"]
    assert [(i["subscriptionId"], i["lifecycleEvent"]) for i in items] == [
        (a["id"], "reauthorizationRequired"),
        (b["id"], "missed"),
    ]
    assert set(items[0]) == {
        "subscriptionId",
        "subscriptionExpirationDateTime",
        "tenantId",
        "clientState",
        "lifecycleEvent",
    }
    sim.send_lifecycle(a["id"], "subscriptionRemoved")
    assert [s["id"] for s in http.get("/subscriptions").json()["value"]] == [b["id"]]
