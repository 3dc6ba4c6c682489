"""msgraph-sdk against the simulator, and the conformance check: the simulator invents no property names and no
enum values beyond msgraph-sdk's v1.0 models, except a short allow-list of what Graph really sends
(docs/graph-facts.md §12)."""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendance_record import AttendanceRecord
from msgraph.generated.models.call_recording import CallRecording
from msgraph.generated.models.call_records.call_record import CallRecord
from msgraph.generated.models.call_transcript import CallTranscript
from msgraph.generated.models.channel import Channel
from msgraph.generated.models.education_user import EducationUser
from msgraph.generated.models.event import Event
from msgraph.generated.models.group import Group
from msgraph.generated.models.lobby_bypass_scope import LobbyBypassScope
from msgraph.generated.models.meeting_attendance_report import MeetingAttendanceReport
from msgraph.generated.models.online_meeting import OnlineMeeting
from msgraph.generated.models.online_meeting_role import OnlineMeetingRole
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.models.user import User
from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import OnlineMeetingsRequestBuilder

from devtools.graphsim import GraphSimulator, Tenant
from devtools.graphsim.views import HIDDEN_LOBBY_SCOPES, HIDDEN_ROLES

from .conftest import Webhook

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# What Graph sends beyond msgraph-sdk's v1.0 models (docs/graph-facts.md §12), as (where, JSON property); "where" is the
# attribute holding the object (its last path segment) or the model class name.
ALLOWED_EXTRA = {
    # identity.user: meeting participants, organizer_v2 / participants_v2, a recording's meetingOrganizer
    ("user", "tenantId"),
    ("user", "identityProvider"),
    # a call-record endpoint's associatedIdentity
    ("associated_identity", "tenantId"),
    ("associated_identity", "userPrincipalName"),
    # events
    ("Event", "occurrenceId"),
    ("Event", "uid"),
}


def client_for(base_url: str) -> GraphServiceClient:
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)


def parse(raw: dict[str, Any], model: type[Parsable]) -> Any:
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(raw).encode())
    return node.get_object_value(model)  # type: ignore[arg-type]


def undeclared(obj: Any, path: str = "$") -> list[str]:
    """Properties that landed in ``additional_data`` anywhere in a parsed model, minus annotations and allow-list."""
    found: list[str] = []
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            found += undeclared(item, f"{path}[{i}]")
        return found
    if not isinstance(obj, Parsable):
        return found
    for key in getattr(obj, "additional_data", {}) or {}:
        where = path.rsplit(".", 1)[-1].split("[")[0]
        if "@odata." in key or (type(obj).__name__, key) in ALLOWED_EXTRA or (where, key) in ALLOWED_EXTRA:
            continue
        found.append(f"{path}.{key} on {type(obj).__name__}")
    for name, value in vars(obj).items():
        if name not in ("additional_data", "backing_store") and isinstance(value, (Parsable, list)):
            found += undeclared(value, f"{path}.{name}")
    return found


def lost_enums(raw: Any, parsed: Any, path: str = "$") -> list[str]:
    """String values the SDK could not parse into its enum (turned into None): invented enum members."""
    found: list[str] = []
    if isinstance(raw, list) and isinstance(parsed, list):
        for i, (r, p) in enumerate(zip(raw, parsed, strict=False)):
            if isinstance(r, str) and p is None:
                found.append(f"{path}[{i}]={r}")
            found += lost_enums(r, p, f"{path}[{i}]")
    elif isinstance(raw, dict) and isinstance(parsed, Parsable):
        fields = {k.lower().replace("_", ""): v for k, v in vars(parsed).items()}
        for key, value in raw.items():
            attr = fields.get(key.lower().replace("_", ""), "missing")
            if attr == "missing":
                continue
            if isinstance(value, str) and attr is None:
                found.append(f"{path}.{key}={value}")
            found += lost_enums(value, attr, f"{path}.{key}")
    return found


def check(raw: dict[str, Any], model: type[Parsable]) -> None:
    parsed = parse(raw, model)
    assert sorted(set(undeclared(parsed))) == []
    assert lost_enums(raw, parsed) == []


def test_hidden_enum_members_are_those_after_the_sentinel() -> None:
    def after_sentinel(cls: type[enum.Enum]) -> set[str]:
        values = [m.value for m in cls]
        return set(values[values.index("unknownFutureValue") + 1 :])

    assert after_sentinel(LobbyBypassScope) == HIDDEN_LOBBY_SCOPES
    assert after_sentinel(OnlineMeetingRole) == HIDDEN_ROLES


def test_conformance_detector_catches_an_invented_property_and_enum() -> None:
    with pytest.raises(AssertionError):
        check({"id": "x", "lobbyBypassSettings": {"scope": "organizer", "madeUp": True}}, OnlineMeeting)
    with pytest.raises(AssertionError):
        check({"id": "x", "allowMeetingChat": "sometimes"}, OnlineMeeting)


def test_served_payloads_conform(sim: GraphSimulator, webhook: Webhook, school: Tenant) -> None:
    http = httpx.Client(base_url=sim.base_url, headers={"Prefer": "include-unknown-enum-members"})
    checked, seen = 0, set()
    for occ in school.occurrences:
        shape = (occ["kind"], tuple(occ["planted"]), len(occ["callRecordIds"]))
        lobby = any(rid in school.lobby_sessions for rid in occ["callRecordIds"])
        if shape in seen and not lobby:
            continue  # one occurrence of each kind and planted violation (parsing with the SDK is slow)
        seen.add(shape)
        checked += 1
        if occ["eventId"]:
            check(http.get(f"/users/{occ['mailbox']}/events/{occ['eventId']}").json(), Event)
        if occ["meetingId"] and occ["organizerId"] not in school.no_access_policy:
            base = f"/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}"
            check(http.get(base).json(), OnlineMeeting)
            for report in school.attendance_reports.get(occ["meetingId"], []):
                got = http.get(f"{base}/attendanceReports/{report['id']}", params={"$expand": "attendanceRecords"})
                if got.status_code == 200:
                    check(got.json(), MeetingAttendanceReport)
                    for record in got.json()["attendanceRecords"]:
                        check(record, AttendanceRecord)
            if not occ["channelMeeting"]:
                for item in http.get(f"{base}/recordings").json()["value"]:
                    check(item, CallRecording)
                for item in http.get(f"{base}/transcripts").json()["value"]:
                    check(item, CallTranscript)
        for rid in occ["callRecordIds"]:
            got = http.get(
                f"/communications/callRecords/{rid}", params={"$expand": "sessions($expand=segments),participants_v2"}
            )
            check(got.json(), CallRecord)  # sessions, segments, media and streams inside
    masters = [e for events in school.events.values() for e in events if e["type"] == "seriesMaster"]
    check(masters[0], Event)
    check(http.get(f"/users/{school.directory['staff'][0]}").json(), User)
    check(http.get(f"/education/users/{school.directory['pupils'][0]}").json(), EducationUser)
    team = school.directory["classTeams"][0]
    check(http.get(f"/teams/{team['id']}/primaryChannel").json(), Channel)
    check(http.get(f"/groups/{team['id']}").json(), Group)
    sub = http.post(
        "/subscriptions",
        json={
            "changeType": "created",
            "notificationUrl": f"{webhook.url}/n",
            "lifecycleNotificationUrl": f"{webhook.url}/l",
            "resource": "communications/onlineMeetings/getAllTranscripts",
            "expirationDateTime": "2099-01-01T00:00:00Z",
        },
    )
    assert sub.status_code == 400  # far beyond the limit
    assert checked > 10


def test_sdk_reads_meeting_with_prefer_and_pages_sessions(fresh_sim: GraphSimulator) -> None:
    sim = fresh_sim
    occ = next(o for o in sim.tenant.occurrences if "lobby-bypass-too-broad" in o["planted"] and o["channelMeeting"])
    found = sim.tenant.meeting(occ["meetingId"])
    assert found is not None
    join_url = found[1]["joinWebUrl"]
    record = sim.tenant.call_records[occ["callRecordIds"][0]]
    record["sessions"] = [dict(record["sessions"][1], id=f"00000000-0000-4000-8000-{i:012d}") for i in range(130)]

    async def run() -> tuple[Any, Any, int]:
        client = client_for(sim.base_url)
        query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
            filter=f"JoinWebUrl eq '{join_url}'"
        )
        headers = HeadersCollection()
        headers.add("Prefer", "include-unknown-enum-members")
        config = RequestConfiguration(query_parameters=query, headers=headers)
        told = await client.users.by_user_id(occ["organizerId"]).online_meetings.get(request_configuration=config)
        plain_config = RequestConfiguration(query_parameters=query, headers=HeadersCollection())
        plain = await client.users.by_user_id(occ["organizerId"]).online_meetings.get(
            request_configuration=plain_config
        )
        sessions = client.communications.call_records.by_call_record_id(record["id"]).sessions
        page = await sessions.get()
        count = len(page.value)
        while page.odata_next_link:
            page = await sessions.with_url(page.odata_next_link).get()
            count += len(page.value)
        return told, plain, count

    told, plain, count = asyncio.run(run())
    assert told.value[0].lobby_bypass_settings.scope == LobbyBypassScope.OrganizationExcludingGuests
    assert plain.value[0].lobby_bypass_settings.scope == LobbyBypassScope.UnknownFutureValue
    assert told.value[0].join_web_url == join_url
    assert count == 130
    filters = [r.query.get("$filter") for r in sim.requests if r.path.endswith("/onlineMeetings")]
    assert filters[0] == f"JoinWebUrl eq '{join_url}'"


def test_sdk_retries_429_with_retry_after(sim: GraphSimulator) -> None:
    uid = sim.tenant.directory["staff"][0]
    sim.faults.add("GET", rf"^/users/{uid}$", 429, retry_after=1, count=1)

    async def run() -> Any:
        return await client_for(sim.base_url).users.by_user_id(uid).get()

    user = asyncio.run(run())
    assert user.id == uid
    attempts = [r for r in sim.requests if r.path == f"/users/{uid}"]
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[-1].headers.get("retry-attempt") == "1"


def test_sdk_reads_a_403_as_odata_error(sim: GraphSimulator) -> None:
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    occ = next(o for o in sim.tenant.occurrences if o["kind"] == "no-access-policy")

    async def run() -> None:
        await (
            client_for(sim.base_url)
            .users.by_user_id(occ["organizerId"])
            .online_meetings.by_online_meeting_id(occ["meetingId"])
            .get()
        )

    with pytest.raises(ODataError) as caught:
        asyncio.run(run())
    assert caught.value.response_status_code == 403
    assert caught.value.error.message == "No Application Access Policy found for this app."


def test_sdk_subscription_round_trip(sim: GraphSimulator, webhook: Webhook) -> None:
    from datetime import UTC, datetime, timedelta

    async def run() -> Any:
        client = client_for(sim.base_url)
        body = Subscription(
            change_type="created,updated",
            notification_url=f"{webhook.url}/n",
            lifecycle_notification_url=f"{webhook.url}/l",
            resource="/communications/callRecords",
            expiration_date_time=datetime.now(UTC) + timedelta(minutes=4230),
            client_state="c" * 40,
        )
        created = await client.subscriptions.post(body)
        listed = await client.subscriptions.get()
        return created, listed

    created, listed = asyncio.run(run())
    assert created.client_state == "c" * 40
    assert [s.id for s in listed.value] == [created.id]
    check(httpx.get(f"{sim.base_url}/subscriptions/{created.id}").json(), Subscription)
