"""The simulator's Graph routes over real HTTP (httpx): directory, calendar, meetings, call records, switches."""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from devtools.graphsim import GraphSimulator, Tenant
from devtools.graphsim.tenant import graph_time, parse_time

pytestmark = pytest.mark.integration


def occurrence(tenant: Tenant, kind: str | None = None, planted: str | None = None) -> dict:
    for occ in tenant.occurrences:
        if (kind is None or occ["kind"] == kind) and (planted is None or planted in occ["planted"]):
            return occ
    raise LookupError((kind, planted))


def join_url_of(tenant: Tenant, occ: dict) -> str:
    found = tenant.meeting(occ["meetingId"])
    assert found is not None
    return found[1]["joinWebUrl"]


def filter_query(join_url: str) -> str:
    # As msgraph-sdk sends it: the whole filter percent-encoded, so the URL's own %3a becomes %253a.
    return "$filter=" + quote(f"JoinWebUrl eq '{join_url}'", safe="")


# ---------------------------------------------------------------- directory


def test_users_are_paged_and_selectable(http: httpx.Client, sim: GraphSimulator) -> None:
    first = http.get("/users", params={"$select": "id,userType", "$top": "300"}).json()
    assert len(first["value"]) == 300
    assert set(first["value"][0]) == {"id", "userType"}
    second = httpx.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == len(sim.tenant.users) - 300
    assert "@odata.nextLink" not in second


def test_user_by_upn_and_graph_shaped_404(http: httpx.Client, school: Tenant) -> None:
    user = next(iter(school.users.values()))
    got = http.get(f"/users/{user['userPrincipalName'].upper()}").json()
    assert got["id"] == user["id"] and got["proxyAddresses"] == user["proxyAddresses"]
    missing = http.get("/users/nobody@nowhere.example")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "innerError"}


def test_unknown_route_is_a_graph_error(http: httpx.Client) -> None:
    reply = http.get("/users/x/somethingElse/more/segments/here")
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "BadRequest"


def test_transitive_members_flatten_nested_groups(http: httpx.Client, school: Tenant) -> None:
    all_staff = next(g for g in school.groups.values() if g["displayName"] == "All Staff")
    direct = http.get(f"/groups/{all_staff['id']}/members").json()["value"]
    assert {m["@odata.type"] for m in direct} == {"#microsoft.graph.group"}
    transitive = http.get(f"/groups/{all_staff['id']}/transitiveMembers").json()["value"]
    users = http.get(f"/groups/{all_staff['id']}/transitiveMembers/microsoft.graph.user", params={"$top": "999"})
    user_ids = {u["id"] for u in users.json()["value"]}
    assert len(user_ids) == 40 and user_ids == set(school.directory["staff"])
    assert len(transitive) == 40 + 2  # the two nested groups are listed too


def test_group_lookup_by_mail(http: httpx.Client, school: Tenant) -> None:
    team = school.directory["classTeams"][0]
    mail = school.groups[team["id"]]["mail"]
    found = http.get("/groups", params={"$filter": f"mail eq '{mail.upper()}'"}).json()["value"]
    assert [g["id"] for g in found] == [team["id"]]


def test_education_role_and_team_channels(http: httpx.Client, school: Tenant) -> None:
    assert http.get(f"/education/users/{school.directory['staff'][0]}").json()["primaryRole"] == "teacher"
    assert http.get(f"/education/users/{school.directory['pupils'][0]}").json()["primaryRole"] == "student"
    team = school.directory["classTeams"][0]
    channels = http.get(f"/teams/{team['id']}/channels").json()["value"]
    assert len(channels) == 3
    assert all(
        c["id"].startswith("19:")
        and c["id"].endswith("@thread.tacv2")
        and len(c["id"]) == len("19:") + 32 + len("@thread.tacv2")
        for c in channels
    )
    primary = http.get(f"/teams/{team['id']}/primaryChannel").json()
    assert primary["id"] == team["generalChannelId"] and primary["displayName"] == "General"


# ---------------------------------------------------------------- calendar


def test_events_list_masters_and_calendar_view_expands_series(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "recurring-group")
    mailbox = occ["mailbox"]
    events = http.get(f"/users/{mailbox}/events", params={"$top": "50"}).json()["value"]
    assert {e["type"] for e in events} == {"seriesMaster"}
    view = http.get(
        f"/users/{mailbox}/calendarView",
        params={"startDateTime": "2026-03-09T00:00:00Z", "endDateTime": "2026-03-14T00:00:00Z", "$top": "50"},
    ).json()["value"]
    assert [e["type"] for e in view] == ["occurrence"] * 5
    assert all(e["seriesMasterId"] == events[0]["id"] for e in view)
    assert view[0]["start"] == {"dateTime": view[0]["start"]["dateTime"], "timeZone": "UTC"}
    assert "Z" not in view[0]["start"]["dateTime"]
    assert http.get(f"/users/{mailbox}/calendarView").status_code == 400


def test_event_select_leaves_out_the_body(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "channel-lesson")
    got = http.get(f"/users/{occ['mailbox']}/events/{occ['eventId']}", params={"$select": "subject,attendees"}).json()
    assert "body" not in got and got["subject"] == occ["subject"] and "attendees" in got


def test_calendar_view_delta_pages_then_reports_changes(fresh_sim: GraphSimulator) -> None:
    sim = fresh_sim
    http = httpx.Client(base_url=sim.base_url)
    occ = occurrence(sim.tenant, "channel-lesson")
    mailbox = occ["mailbox"]
    params = {"startDateTime": "2026-03-09T00:00:00Z", "endDateTime": "2026-03-14T00:00:00Z"}
    reply = http.get(f"/users/{mailbox}/calendarView/delta", params=params, headers={"Prefer": "odata.maxpagesize=3"})
    seen, pages = [], 0
    body = reply.json()
    while True:
        pages += 1
        seen += body["value"]
        if "@odata.deltaLink" in body:
            break
        body = httpx.get(body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=3"}).json()
    assert pages > 1 and len(seen) == len(sim.tenant.events[mailbox])
    delta_link = body["@odata.deltaLink"]
    assert httpx.get(delta_link).json()["value"] == []
    event = copy.deepcopy(sim.tenant.event(mailbox, occ["eventId"]))
    event["subject"] = "Moved lesson"
    sim.tenant.upsert_event(mailbox, event)
    gone = seen[-1]["id"]
    sim.tenant.delete_event(mailbox, gone)
    changes = httpx.get(delta_link).json()["value"]
    assert {c["id"]: c.get("subject", c.get("@removed")) for c in changes} == {
        event["id"]: "Moved lesson",
        gone: {"reason": "deleted"},
    }


# ---------------------------------------------------------------- online meetings


def test_meeting_by_join_url_and_prefer_header(http: httpx.Client, school: Tenant, sim: GraphSimulator) -> None:
    occ = occurrence(school, planted="lobby-bypass-too-broad", kind="channel-lesson")
    path = f"/users/{occ['organizerId']}/onlineMeetings?{filter_query(join_url_of(school, occ))}"
    plain = http.get(path).json()["value"]
    assert len(plain) == 1 and plain[0]["lobbyBypassSettings"]["scope"] == "unknownFutureValue"
    told = http.get(path, headers={"Prefer": "include-unknown-enum-members"})
    assert told.json()["value"][0]["lobbyBypassSettings"]["scope"] == "organizationExcludingGuests"
    assert told.headers["Preference-Applied"] == "include-unknown-enum-members"
    assert sim.requests[-1].headers["prefer"] == "include-unknown-enum-members"


def test_coorganizer_role_hidden_without_prefer(http: httpx.Client, school: Tenant) -> None:
    meeting = next(
        m
        for ms in school.online_meetings.values()
        for m in ms
        if any(a["role"] == "coorganizer" for a in m["participants"]["attendees"])
    )
    organizer = meeting["participants"]["organizer"]["identity"]["user"]["id"]
    plain = http.get(f"/users/{organizer}/onlineMeetings/{quote(meeting['id'], safe='')}").json()
    assert [a["role"] for a in plain["participants"]["attendees"]] == ["unknownFutureValue"]
    told = http.get(
        f"/users/{organizer}/onlineMeetings/{quote(meeting['id'], safe='')}",
        headers={"Prefer": "include-unknown-enum-members"},
    ).json()
    assert [a["role"] for a in told["participants"]["attendees"]] == ["coorganizer"]


def test_meeting_lookup_needs_filter_and_the_organiser(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "private-meeting")
    assert http.get(f"/users/{occ['organizerId']}/onlineMeetings").status_code == 400
    meeting = school.meeting(occ["meetingId"])
    assert meeting is not None
    attendee = meeting[1]["participants"]["attendees"][0]["identity"]["user"]["id"]
    path = f"/users/{attendee}/onlineMeetings?{filter_query(meeting[1]['joinWebUrl'])}"
    assert http.get(path).status_code == 403
    # The decoded (not re-encoded) URL does not match: Graph compares the URL as sent.
    raw = f"/users/{occ['organizerId']}/onlineMeetings?$filter=JoinWebUrl eq '{meeting[1]['joinWebUrl']}'"
    assert http.get(raw).json()["value"] == []


def test_no_application_access_policy_is_403(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "no-access-policy")
    path = f"/users/{occ['organizerId']}/onlineMeetings?{filter_query(join_url_of(school, occ))}"
    reply = http.get(path)
    assert reply.status_code == 403
    assert reply.json()["error"]["message"] == "No Application Access Policy found for this app."
    report_path = f"/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}/attendanceReports"
    assert http.get(report_path).status_code == 403


def test_attendance_reports_records_only_when_asked(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "one-to-one")
    base = f"/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}/attendanceReports"
    reports = http.get(base).json()["value"]
    assert len(reports) == 1 and "attendanceRecords" not in reports[0]
    rid = reports[0]["id"]
    expanded = http.get(f"{base}/{rid}", params={"$expand": "attendanceRecords"}).json()
    assert len(expanded["attendanceRecords"]) == 2
    assert http.get(f"{base}/{rid}/attendanceRecords").json()["value"] == expanded["attendanceRecords"]


@pytest.mark.parametrize("channel_attendance", [False, True])
def test_switch_channel_attendance(school: Tenant, channel_attendance: bool) -> None:
    occ = occurrence(school, "channel-lesson")
    with GraphSimulator(school, channel_attendance=channel_attendance) as sim:
        meeting = f"{sim.base_url}/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}"
        reports = httpx.get(f"{meeting}/attendanceReports").json()["value"]
    assert len(reports) == (1 if channel_attendance else 0)


@pytest.mark.parametrize("channel_recordings", [False, True])
def test_switch_channel_recordings(school: Tenant, channel_recordings: bool) -> None:
    occ = occurrence(school, "channel-lesson", planted="session-recorded")
    with GraphSimulator(school, channel_recordings=channel_recordings) as sim:
        base = f"{sim.base_url}/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}"
        recordings = httpx.get(f"{base}/recordings")
        transcripts = httpx.get(f"{base}/transcripts")
    if channel_recordings:
        assert [r["id"] for r in recordings.json()["value"]] == occ["recordingIds"]
        assert transcripts.json()["value"] == []
    else:
        assert recordings.status_code == transcripts.status_code == 400
        assert "Channel based meetings" in recordings.json()["error"]["message"]


def test_private_meeting_recordings_and_transcripts(http: httpx.Client, school: Tenant) -> None:
    occ = occurrence(school, "private-meeting", planted="session-recorded")
    base = f"/users/{occ['organizerId']}/onlineMeetings/{quote(occ['meetingId'], safe='')}"
    recording = http.get(f"{base}/recordings").json()["value"][0]
    assert recording["meetingId"] == occ["meetingId"] and recording["callId"] == occ["callRecordIds"][0]
    transcript = http.get(f"{base}/transcripts").json()["value"][0]
    assert http.get(f"{base}/transcripts/{quote(transcript['id'], safe='')}/content").text.startswith("WEBVTT")


# ---------------------------------------------------------------- call records


def big_call(tenant: Tenant, sessions: int) -> str:
    """Clone a lesson's call record with ``sessions`` sessions."""
    occ = occurrence(tenant, "channel-lesson")
    record = copy.deepcopy(tenant.call_records[occ["callRecordIds"][0]])
    template = record["sessions"][1]
    record["id"] = "0f0e0d0c-0000-4000-8000-00000000big1"
    record["sessions"] = []
    for i in range(sessions):
        session = copy.deepcopy(template)
        session["id"] = f"00000000-0000-4000-8000-{i:012d}"
        record["sessions"].append(session)
    tenant.add_call_record(record)
    return record["id"]


def test_call_record_sessions_are_paged_by_60(fresh_sim: GraphSimulator) -> None:
    sim = fresh_sim
    http = httpx.Client(base_url=sim.base_url)
    rid = big_call(sim.tenant, 150)
    body = http.get(f"/communications/callRecords/{rid}", params={"$expand": "sessions($expand=segments)"}).json()
    assert len(body["sessions"]) == 60 and "segments" in body["sessions"][0]
    ids = [s["id"] for s in body["sessions"]]
    link, pages = body["sessions@odata.nextLink"], 1
    while link:
        page = httpx.get(link).json()
        pages += 1
        assert len(page["value"]) <= 60 and "segments" in page["value"][0]
        ids += [s["id"] for s in page["value"]]
        link = page.get("@odata.nextLink")
    assert pages == 3 and len(set(ids)) == 150
    plain = http.get(f"/communications/callRecords/{rid}").json()
    assert "sessions" not in plain and "organizer_v2" in plain and "participants_v2" not in plain
    listed = http.get(f"/communications/callRecords/{rid}/sessions", params={"$top": "100"}).json()
    assert len(listed["value"]) == 60 and "segments" not in listed["value"][0]


@pytest.mark.parametrize("lobby_sessions", [True, False])
def test_switch_lobby_sessions(school: Tenant, lobby_sessions: bool) -> None:
    rid, lobby = next(iter(school.lobby_sessions.items()))
    stored = len(school.call_records[rid]["sessions"])
    with GraphSimulator(school, lobby_sessions=lobby_sessions) as sim:
        body = httpx.get(f"{sim.base_url}/communications/callRecords/{rid}", params={"$expand": "sessions"}).json()
    served = {s["id"] for s in body["sessions"]}
    assert len(served) == (stored if lobby_sessions else stored - len(lobby))
    assert (set(lobby) <= served) is lobby_sessions


def test_call_records_filtered_by_start(http: httpx.Client, school: Tenant) -> None:
    since = "2026-03-13T00:00:00Z"
    got, link = [], f"/communications/callRecords?$filter=startDateTime ge {since}"
    while link:
        page = http.get(link).json()
        got += page["value"]
        link = page.get("@odata.nextLink")
    expected = [r for r in school.call_records.values() if parse_time(r["startDateTime"]) >= parse_time(since)]
    assert len(got) == len(expected) > 0
    assert all("sessions" not in r and "participants_v2" not in r for r in got)


def test_retention_makes_old_call_records_404(school: Tenant) -> None:
    rid = next(iter(school.call_records))
    end = parse_time(school.call_records[rid]["endDateTime"])
    with GraphSimulator(school, enforce_retention=True, clock=lambda: end + timedelta(days=31)) as sim:
        assert httpx.get(f"{sim.base_url}/communications/callRecords/{rid}").status_code == 404
    with GraphSimulator(school, enforce_retention=True, clock=lambda: end + timedelta(days=29)) as sim:
        assert httpx.get(f"{sim.base_url}/communications/callRecords/{rid}").status_code == 200


# ---------------------------------------------------------------- faults, batch, mail, log


def test_fault_429_first_three_then_ok(http: httpx.Client, sim: GraphSimulator) -> None:
    sim.faults.add("GET", r"^/users/[^/]+$", 429, retry_after=7, count=3)
    uid = next(iter(sim.tenant.users))
    replies = [http.get(f"/users/{uid}") for _ in range(4)]
    assert [r.status_code for r in replies] == [429, 429, 429, 200]
    assert replies[0].headers["Retry-After"] == "7"
    assert replies[0].json()["error"]["code"] == "TooManyRequests"
    assert http.get("/users").status_code == 200  # other routes untouched


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "serviceNotAvailable"), (504, "UnknownError"), (403, "Forbidden"), (404, "NotFound")],
)
def test_fault_statuses(http: httpx.Client, sim: GraphSimulator, status: int, code: str) -> None:
    rid = next(iter(sim.tenant.call_records))
    sim.faults.add("*", r"^/communications/callRecords/", status, count=None)
    for _ in range(2):
        reply = http.get(f"/communications/callRecords/{rid}")
        assert reply.status_code == status and reply.json()["error"]["code"] == code
    if status == 403:
        assert reply.json()["error"]["message"] == "No Application Access Policy found for this app."


def test_fault_slowness(http: httpx.Client, sim: GraphSimulator) -> None:
    sim.faults.add("GET", r"^/users$", None, delay=0.4)
    started = time.monotonic()
    assert http.get("/users").status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    http.get("/users")
    assert time.monotonic() - started < 0.4


def test_batch_limits_shuffling_and_dependencies(http: httpx.Client, sim: GraphSimulator) -> None:
    uids = list(sim.tenant.users)[:21]
    too_many = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{u}"} for i, u in enumerate(uids)]}
    assert http.post("/$batch", json=too_many).status_code == 400
    twenty = {"requests": too_many["requests"][:20]}
    sim.faults.add("GET", rf"^/users/{uids[4]}$", 429, retry_after=2)
    responses = http.post("/$batch", json=twenty).json()["responses"]
    assert sorted(int(r["id"]) for r in responses) == list(range(20))
    assert [r["id"] for r in responses] != [str(i) for i in range(20)]  # answered out of order
    by_id = {r["id"]: r for r in responses}
    assert by_id["4"]["status"] == 429 and by_id["4"]["headers"]["Retry-After"] == "2"
    assert by_id["0"]["body"]["id"] == uids[0]
    dependent = {
        "requests": [
            {"id": "a", "method": "GET", "url": "/users/missing-user"},
            {"id": "b", "method": "GET", "url": f"users/{uids[1]}", "dependsOn": ["a"]},
        ]
    }
    statuses = {r["id"]: r["status"] for r in http.post("/$batch", json=dependent).json()["responses"]}
    assert statuses == {"a": 404, "b": 424}
    inner = [r for r in sim.requests if r.in_batch]
    assert len(inner) == 21  # 20 + "a"; "b" never ran


def test_send_mail_is_kept(http: httpx.Client, sim: GraphSimulator) -> None:
    sender = sim.tenant.directory["staff"][0]
    message = {
        "subject": "Digest",
        "body": {"contentType": "HTML", "content": "<p>x</p>"},
        "toRecipients": [{"emailAddress": {"address": "dsl@school.example"}}],
    }
    reply = http.post(f"/users/{sender}/sendMail", json={"message": message, "saveToSentItems": False})
    assert reply.status_code == 202 and reply.content == b""
    assert sim.sent_mail[-1].message == message and sim.sent_mail[-1].save_to_sent_items is False
    assert http.post(f"/users/{sender}/sendMail", json={"message": {"subject": "x"}}).status_code == 400


def test_request_log(http: httpx.Client, sim: GraphSimulator) -> None:
    sim.clear_log()
    http.get("/users", params={"$select": "id"}, headers={"ConsistencyLevel": "eventual"})
    record = sim.requests[-1]
    assert (record.method, record.path, record.query, record.status) == ("GET", "/users", {"$select": "id"}, 200)
    assert record.headers["consistencylevel"] == "eventual" and not record.in_batch
    assert graph_time(parse_time("2026-03-10T09:00:00Z")) == "2026-03-10T09:00:00.0000000Z"
