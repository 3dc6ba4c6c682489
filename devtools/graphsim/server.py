"""``GraphSimulator``: Microsoft Graph v1.0 on loopback, served from a ``Tenant``.

Stdlib HTTP server (``ThreadingHTTPServer`` on 127.0.0.1, a free port); outgoing webhook calls (validation
handshake, change and lifecycle notifications) with httpx. Routes, switches, fault injection and the request
log are described in ``devtools/graphsim/README.md``; payload shapes follow ``docs/graph-facts.md``.
"""

from __future__ import annotations

import base64
import json
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlsplit

import httpx

from devtools.graphsim import calendar, timeline, views
from devtools.graphsim.tenant import JSON, Tenant, graph_time, parse_time
from devtools.graphsim.timeline import SimClock

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
HEADERS_OF_INTEREST = (
    "prefer",
    "consistencylevel",
    "content-type",
    "retry-attempt",
    "client-request-id",
    "authorization",
    "user-agent",
)
ODATA_OPTIONS = {"select", "expand", "filter", "top", "skip", "skiptoken", "deltatoken", "count", "orderby", "search"}
CALL_RECORD_RETENTION = timedelta(days=30)
MAX_BATCH = 20
MAX_BODY = 4 * 1024 * 1024
MAILBOX_SCOPE_MESSAGE = "Access is denied. Check credentials and try again."
ATTENDANCE_REPORT_CAP = 50  # meetingattendancereport-list: "only returns up to 50 of the most recent reports"
# What the gateway still relies on that Graph does not do (README, "Tenant facts"): $top on participants_v2 and the
# single-report GET for channel meetings. Test rigs pass these until the gateway reads as documented.
LEGACY_GATEWAY_SWITCHES: dict[str, Any] = {"participants_top": "honour", "channel_attendance": False}
APPLICATION_ID = "0d5a1c3e-7b2f-4c61-9e8a-3f1b2c4d5e6f"  # the simulated app's client id (creatorId / applicationId)


# ---------------------------------------------------------------------------------------------------- records


@dataclass
class RequestRecord:
    """One request the simulator received (``$batch`` inner requests too, with ``in_batch=True``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    in_batch: bool = False
    time: float = field(default_factory=time.monotonic)


@dataclass
class FaultRule:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    retry_after: float | None = None
    delay: float = 0.0
    remaining: int | None = 1
    message: str | None = None
    hits: int = 0


class Faults:
    """Per-route fault injection: ``add(method, path_regex, status, retry_after, delay, count)``."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        retry_after: float | None = None,
        delay: float = 0.0,
        count: int | None = 1,
        message: str | None = None,
    ) -> FaultRule:
        """Make the next ``count`` requests (``None``: all) matching ``method`` and ``path_regex`` fail with
        ``status`` (``None``: only slow, by ``delay`` seconds). ``path_regex`` is searched in the URL-decoded path
        after ``/v1.0``."""
        rule = FaultRule(method.upper(), re.compile(path_regex), status, retry_after, delay, count, message)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if rule.method not in ("*", method.upper()) or not rule.pattern.search(path):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule
        return None


@dataclass
class ChangeItem:
    """One change notification to deliver for a subscription."""

    subscription_id: str
    change_type: str
    resource: str
    resource_data: JSON


@dataclass
class Delivery:
    """One notification POST (with its redeliveries)."""

    url: str
    payload: JSON
    kind: str  # "change" | "lifecycle"
    attempts: int = 0
    statuses: list[int | None] = field(default_factory=list)
    delivered: bool = False


# The onlineMeeting properties Graph's update accepts (v1.0, "Request body" of onlinemeeting-update).
UPDATABLE_MEETING_PROPERTIES = frozenset({
    "allowAttendeeToEnableCamera", "allowAttendeeToEnableMic", "allowBreakoutRooms",
    "allowCopyingAndSharingMeetingContent", "allowedLobbyAdmitters", "allowedPresenters", "allowLiveShare",
    "allowMeetingChat", "allowPowerPointSharing", "allowRecording", "allowTeamworkReactions", "allowTranscription",
    "allowWhiteboard", "anonymizeIdentityForRoles", "endDateTime", "isEntryExitAnnounced", "lobbyBypassSettings",
    "participants", "recordAutomatically", "startDateTime", "subject", "watermarkProtection", "broadcastSettings",
})


@dataclass
class SentMail:
    sender: str
    message: JSON
    save_to_sent_items: bool


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, bytes, or None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


def _not_found(what: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.",
    )


def _b64(data: JSON) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(token: str) -> JSON:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise GraphError(400, "BadRequest", "Invalid skip or delta token.") from exc
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "Invalid skip or delta token.")
    return data


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split an OData option on ``sep`` outside parentheses: ``sessions($expand=segments),participants_v2``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def select(obj: JSON, query: dict[str, str]) -> JSON:
    """Apply ``$select``: listed properties, plus ``id`` and annotations, which Graph always returns."""
    wanted = query.get("$select")
    if not wanted:
        return obj
    names = {n.strip().lower() for n in wanted.split(",") if n.strip()}
    return {k: v for k, v in obj.items() if k.lower() in names or k == "id" or k.startswith("@odata.")}


# ---------------------------------------------------------------------------------------------------- simulator


class GraphSimulator:
    """Serve Graph v1.0 from ``tenant`` on ``http://127.0.0.1:<free port>/v1.0``.

    Use as a context manager or with ``start()`` (returns the base URL) and ``stop()``. Thread-safe: the server
    answers requests on threads; tests may call ``notify_*`` and mutate the tenant under ``sim.lock``.
    """

    def __init__(
        self,
        tenant: Tenant,
        *,
        lobby_sessions: bool = True,
        channel_recordings: bool = False,
        channel_attendance: bool | str = "channel",
        enforce_retention: bool = False,
        enforce_mailbox_scope: bool = True,
        access_policy_direct_members_only: bool = True,
        participants_top: str = "reject",
        lifetime_limits: dict[str, int] | None = None,
        granted_permissions: Iterable[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        validation_timeout: float = 10.0,
        notification_timeout: float = 3.0,
        redelivery_attempts: int = 4,
        redelivery_backoff: float = 0.05,
        require_https: bool = False,
        batch_size: int = 100,
        seed: int = 0,
    ) -> None:
        self.tenant = tenant
        self.lock = tenant.lock
        self.lobby_sessions = lobby_sessions
        self.channel_recordings = channel_recordings
        self.channel_attendance = views.attendance_mode(channel_attendance)
        self.enforce_mailbox_scope = enforce_mailbox_scope
        self.access_policy_direct_members_only = access_policy_direct_members_only
        if participants_top not in ("reject", "ignore", "honour"):
            raise ValueError("participants_top: 'reject', 'ignore' or 'honour'")
        self.participants_top = participants_top
        self.lifetime_limits = dict(lifetime_limits or {})
        unknown = set(self.lifetime_limits) - {rule.name for rule in RESOURCE_RULES}
        if unknown:
            raise ValueError(f"unknown lifetime_limits keys {sorted(unknown)}")
        self.granted_permissions: set[str] | None = (
            set(granted_permissions)
            if granted_permissions is not None
            else (set(tenant.granted_permissions) if tenant.granted_permissions is not None else None)
        )
        self._delta_snapshots: dict[str, dict[str, str]] = {}
        self._delta_pages: dict[str, list[JSON]] = {}
        self._pending: list[tuple[str, ...]] = []
        timeline.validate(tenant.timeline)
        self.enforce_retention = enforce_retention
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.validation_timeout = validation_timeout
        self.notification_timeout = notification_timeout
        self.redelivery_attempts = max(1, redelivery_attempts)
        self.redelivery_backoff = redelivery_backoff
        self.require_https = require_https
        self.batch_size = batch_size
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.sent_mail: list[SentMail] = []
        # PATCH on online meetings: every accepted change (meeting id, the body), and the meetings whose
        # update is refused with 403 (``refuse_meeting_updates``).
        self.meeting_updates: list[tuple[str, JSON]] = []
        self.refuse_meeting_updates: set[str] = set()
        self.subscriptions: dict[str, JSON] = {}
        self.deliveries: list[Delivery] = []
        self.handshakes: list[JSON] = []
        self._rng = random.Random(seed)
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        sim = self

        class Handler(_Handler):
            simulator = sim

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1.0"
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="graphsim", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GraphSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear_log(self) -> None:
        with self._log_lock:
            self.requests.clear()

    # ------------------------------------------------------------------ dispatch
    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        in_batch: bool = False,
    ) -> Response:
        """Answer one request. ``target`` is the path (with ``/v1.0``) and query; ``headers`` lower-cased keys."""
        raw_path, _, raw_query = target.partition("?")
        segments = [unquote(s) for s in raw_path.split("/") if s]
        query = self._parse_query(raw_query)
        if segments and segments[0] == "_graphsim" and method == "POST":
            return self._test_hook(segments[1:], body)
        if segments and segments[0].lower() == "v1.0":
            segments = segments[1:]
        elif not in_batch:
            record = RequestRecord(method, "/" + "/".join(segments), query, self._interesting(headers), 400, in_batch)
            self._log(record)
            return self._error_response(GraphError(400, "BadRequest", "Invalid version."), headers)
        path = "/" + "/".join(segments)
        record = RequestRecord(method, path, query, self._interesting(headers), 0, in_batch)
        self._log(record)
        try:
            rule = self.faults.take(method, path)
            if rule is not None:
                if rule.delay:
                    time.sleep(rule.delay)
                if rule.status is not None:
                    raise self._fault_error(rule, segments)
            response = self._route(method, segments, query, headers, body)
        except GraphError as err:
            response = self._error_response(err, headers)
        record.status = response.status
        response.headers.setdefault("request-id", str(uuid.uuid4()))
        if "client-request-id" in headers:
            response.headers["client-request-id"] = headers["client-request-id"]
        return response

    def _test_hook(self, segments: list[str], body: bytes) -> Response:
        """``POST /_graphsim/now {"now": "<ISO 8601>"}``: a test hook (not Graph) moving a SimClock, for a process
        that cannot call :meth:`set_now` itself. Answers the number of deliveries made."""
        if segments != ["now"]:
            return Response(404, {"error": {"code": "NotFound", "message": "Unknown test hook."}})
        try:
            now = parse_time(str(json.loads(body or b"{}")["now"]))
            deliveries = self.set_now(now)
        except (KeyError, ValueError, TypeError) as exc:
            return Response(400, {"error": {"code": "BadRequest", "message": str(exc)}})
        return Response(200, {"now": graph_time(self.clock()), "deliveries": len(deliveries)})

    def _interesting(self, headers: dict[str, str]) -> dict[str, str]:
        out = {k: v for k, v in headers.items() if k in HEADERS_OF_INTEREST}
        if "authorization" in out:
            out["authorization"] = "present"
        return out

    def _log(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.requests.append(record)

    @staticmethod
    def _parse_query(raw: str) -> dict[str, str]:
        query: dict[str, str] = {}
        for part in raw.split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            key = unquote_plus(key)
            if key.lower().lstrip("$") in ODATA_OPTIONS:
                key = "$" + key.lower().lstrip("$")
            query[key] = unquote_plus(value)
        return query

    def _fault_error(self, rule: FaultRule, segments: list[str]) -> GraphError:
        status = rule.status or 500
        if status == 429:
            retry = rule.retry_after if rule.retry_after is not None else 1
            return GraphError(
                429,
                "TooManyRequests",
                rule.message or "Too many requests, retry after some time.",
                {"Retry-After": str(int(retry)) if float(retry).is_integer() else str(retry)},
            )
        if status == 503:
            extra = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            return GraphError(
                503, "serviceNotAvailable", rule.message or "The service is temporarily unavailable.", extra
            )
        if status == 504:
            return GraphError(504, "UnknownError", rule.message or "Gateway timeout.")
        if status == 403:
            return GraphError(403, "Forbidden", rule.message or views.NO_ACCESS_POLICY_MESSAGE)
        if status == 404:
            what = segments[-1] if segments else ""
            return GraphError(404, "NotFound", rule.message or f"Call record '{what}' was not found.")
        return GraphError(status, "UnknownError", rule.message or f"Injected fault {status}.")

    def _error_response(self, err: GraphError, headers: dict[str, str]) -> Response:
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%S")
        request_id = str(uuid.uuid4())
        body = {
            "error": {
                "code": err.code,
                "message": err.message,
                "innerError": {
                    "date": now,
                    "request-id": request_id,
                    "client-request-id": headers.get("client-request-id", request_id),
                },
            }
        }
        return Response(err.status, body, {**err.headers, "request-id": request_id})

    # ------------------------------------------------------------------ routing
    def _build_routes(self) -> list[tuple[str, list[str], Callable[..., Response]]]:
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", "users", self._users),
            ("GET", "users/{u}", self._user),
            ("GET", "users/{u}/events", self._events),
            ("GET", "users/{u}/events/{e}", self._event),
            ("GET", "users/{u}/events/{e}/instances", self._event_instances),
            ("GET", "users/{u}/calendarView", self._calendar_view),
            ("GET", "users/{u}/calendarView/delta", self._calendar_view_delta),
            ("POST", "users/{u}/sendMail", self._send_mail),
            ("GET", "users/{u}/onlineMeetings", self._meetings_by_filter),
            ("GET", "users/{u}/onlineMeetings/{m}", self._meeting),
            ("PATCH", "users/{u}/onlineMeetings/{m}", self._update_meeting),
            ("GET", "users/{u}/onlineMeetings/{m}/attendanceReports", self._attendance_reports),
            ("GET", "users/{u}/onlineMeetings/{m}/attendanceReports/{r}", self._attendance_report),
            ("GET", "users/{u}/onlineMeetings/{m}/attendanceReports/{r}/attendanceRecords", self._attendance_records),
            ("GET", "users/{u}/onlineMeetings/{m}/recordings", self._artefacts),
            ("GET", "users/{u}/onlineMeetings/{m}/recordings/{r}", self._artefact),
            ("GET", "users/{u}/onlineMeetings/{m}/recordings/{r}/content", self._artefact_content),
            ("GET", "users/{u}/onlineMeetings/{m}/transcripts", self._artefacts),
            ("GET", "users/{u}/onlineMeetings/{m}/transcripts/{r}", self._artefact),
            ("GET", "users/{u}/onlineMeetings/{m}/transcripts/{r}/content", self._artefact_content),
            ("GET", "groups", self._groups),
            ("GET", "groups/{g}", self._group),
            ("GET", "groups/{g}/members", self._members),
            ("GET", "groups/{g}/members/microsoft.graph.user", self._members),
            ("GET", "groups/{g}/transitiveMembers", self._members),
            ("GET", "groups/{g}/transitiveMembers/microsoft.graph.user", self._members),
            ("GET", "education/users/{u}", self._education_user),
            ("GET", "teams/{t}", self._team),
            ("GET", "teams/{t}/channels", self._channels),
            ("GET", "teams/{t}/primaryChannel", self._primary_channel),
            ("GET", "communications/callRecords", self._call_records),
            ("GET", "communications/callRecords/{c}", self._call_record),
            ("GET", "communications/callRecords/{c}/sessions", self._sessions),
            ("GET", "communications/callRecords/{c}/participants_v2", self._participants),
            ("GET", "subscriptions", self._list_subscriptions),
            ("POST", "subscriptions", self._create_subscription),
            ("GET", "subscriptions/{s}", self._get_subscription),
            ("PATCH", "subscriptions/{s}", self._renew_subscription),
            ("DELETE", "subscriptions/{s}", self._delete_subscription),
            ("POST", "subscriptions/{s}/reauthorize", self._reauthorize_subscription),
            ("POST", "$batch", self._batch),
        ]
        return [(m, p.split("/"), h) for m, p, h in table]

    def _route(
        self, method: str, segments: list[str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        path_matched = False
        for route_method, pattern, handler in self._routes:
            if len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    params[want.strip("{}")] = got
                elif want.lower() != got.lower():
                    break
            else:
                path_matched = True
                if route_method != method:
                    continue
                # Route literals recorded so handlers can tell recordings from transcripts, members from transitive.
                params["_segments"] = "/".join(s.lower() for s in segments)
                return handler(params=params, query=query, headers=headers, body=body)
        if path_matched:
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        last = segments[-1] if segments else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")

    # ------------------------------------------------------------------ helpers
    def _json(self, body: Any, status: int = 200, context: str | None = None, **headers: str) -> Response:
        if context and isinstance(body, dict):
            body = {"@odata.context": f"{GRAPH_ROOT}/$metadata#{context}", **body}
        return Response(status, body, dict(headers))

    def _page(
        self,
        items: list[JSON],
        query: dict[str, str],
        headers: dict[str, str],
        path: str,
        default_size: int,
        max_size: int,
        context: str,
    ) -> Response:
        size = default_size
        if "$top" in query:
            try:
                size = max(1, int(query["$top"]))
            except ValueError as exc:
                raise GraphError(400, "BadRequest", f"Invalid value for $top: '{query['$top']}'.") from exc
        prefer = headers.get("prefer", "")
        match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer)
        if match:
            size = int(match.group(1))
        size = min(size, max_size)
        offset = int(_unb64(query["$skiptoken"]).get("o", 0)) if "$skiptoken" in query else 0
        page = [select(item, query) for item in items[offset : offset + size]]
        body: JSON = {"value": page}
        if offset + size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = _b64({"o": offset + size})
            body["@odata.nextLink"] = self._link(path, rest)
        return self._json(body, context=context)

    def _link(self, path: str, query: dict[str, str]) -> str:
        qs = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
        return f"{self.base_url}{path}" + (f"?{qs}" if qs else "")

    def _user_or_404(self, id_or_upn: str) -> JSON:
        user = self.tenant.user(id_or_upn)
        if user is None:
            raise _not_found(id_or_upn)
        return user

    # ------------------------------------------------------------------ users, groups, education, teams
    def _users(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        users = list(self.tenant.users.values())
        flt = query.get("$filter")
        if flt:
            users = [u for u in users if _simple_filter(u, flt)]
        return self._page(users, query, headers, "/users", 100, 999, "users")

    def _user(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        return self._json(select(dict(self._user_or_404(params["u"])), query), context="users/$entity")

    def _groups(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        groups = list(self.tenant.groups.values())
        flt = query.get("$filter")
        if flt:
            groups = [g for g in groups if _simple_filter(g, flt)]
        return self._page(groups, query, headers, "/groups", 100, 999, "groups")

    def _group(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        group = self.tenant.groups.get(params["g"])
        if group is None:
            raise _not_found(params["g"])
        return self._json(select(dict(group), query), context="groups/$entity")

    def _members(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        gid = params["g"]
        if gid not in self.tenant.groups:
            raise _not_found(gid)
        seg = params["_segments"]
        ids = (
            self.tenant.transitive_members(gid)
            if "transitivemembers" in seg
            else self.tenant.group_members.get(gid, [])
        )
        objects = [o for o in (self.tenant.directory_object(i) for i in ids) if o is not None]
        if seg.endswith("microsoft.graph.user"):
            objects = [o for o in objects if o["@odata.type"] == "#microsoft.graph.user"]
        path = "/groups/" + gid + ("/transitiveMembers" if "transitivemembers" in seg else "/members")
        if seg.endswith("microsoft.graph.user"):
            path += "/microsoft.graph.user"
        return self._page(objects, query, headers, path, 100, 999, "directoryObjects")

    def _education_user(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        user = self._user_or_404(params["u"])
        edu = {
            "id": user["id"],
            "displayName": user.get("displayName"),
            "userPrincipalName": user.get("userPrincipalName"),
            "mail": user.get("mail"),
            "accountEnabled": user.get("accountEnabled", True),
            "userType": user.get("userType"),
            "primaryRole": self.tenant.education_roles.get(user["id"], "none"),
        }
        return self._json(select(edu, query), context="education/users/$entity")

    def _team_or_404(self, team_id: str) -> JSON:
        team = self.tenant.teams.get(team_id)
        if team is None:
            raise GraphError(404, "NotFound", f"No team found with Group Id {team_id}")
        return team

    def _team(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        self._team_or_404(params["t"])
        group = self.tenant.groups.get(params["t"], {})
        team = {
            "id": params["t"],
            "displayName": group.get("displayName"),
            "description": group.get("description"),
            "isArchived": False,
            "tenantId": self.tenant.tenant_id,
        }
        return self._json(select(team, query), context="teams/$entity")

    def _channels(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        team = self._team_or_404(params["t"])
        channels = [select(dict(c), query) for c in team.get("channels", [])]
        return self._json(
            {"@odata.count": len(channels), "value": channels}, context=f"teams('{params['t']}')/channels"
        )

    def _primary_channel(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        team = self._team_or_404(params["t"])
        for channel in team.get("channels", []):
            if channel["id"] == team.get("primaryChannelId"):
                return self._json(
                    select(dict(channel), query), context=f"teams('{params['t']}')/primaryChannel/$entity"
                )
        raise GraphError(404, "NotFound", "Primary channel not found.")

    # ------------------------------------------------------------------ calendar
    def _mailbox(self, id_or_upn: str) -> JSON:
        """The user whose mailbox is read; 403 when the mailbox is outside the app's Exchange RBAC scope."""
        user = self._user_or_404(id_or_upn)
        scope = self.tenant.mailbox_scope
        if self.enforce_mailbox_scope and scope is not None and user["id"] not in scope:
            raise GraphError(403, "ErrorAccessDenied", MAILBOX_SCOPE_MESSAGE)
        return user

    @staticmethod
    def _prefer_zone(headers: dict[str, str]) -> str | None:
        match = re.search(r'outlook\.timezone\s*=\s*"([^"]+)"', headers.get("prefer", ""), re.I)
        if not match:
            return None
        try:
            calendar.zone(match.group(1))
        except calendar.CalendarError:
            return None
        return match.group(1)

    def _served(self, event: JSON, zone_name: str | None) -> JSON:
        """An event as read: ``start``/``end`` in UTC, or in the zone asked for with ``Prefer: outlook.timezone``."""
        out = dict(event)
        for key in ("start", "end"):
            if isinstance(event.get(key), dict):
                out[key] = calendar.in_zone(calendar.to_utc(event[key]), zone_name or "UTC")
        return out

    def _zone_applied(self, response: Response, zone_name: str | None) -> Response:
        if zone_name:
            response.headers["Preference-Applied"] = f'outlook.timezone="{zone_name}"'
        return response

    def _events(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        user = self._mailbox(params["u"])
        zone_name = self._prefer_zone(headers)
        with self.lock:
            self._apply_due()
            events = [
                self._served(e, zone_name)
                for e in self.tenant.events.get(user["id"], [])
                if e.get("type") in ("singleInstance", "seriesMaster")
            ]
        return self._zone_applied(
            self._page(
                events, query, headers, f"/users/{params['u']}/events", 10, 1000, f"users('{user['id']}')/events"
            ),
            zone_name,
        )

    def _event(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        user = self._mailbox(params["u"])
        zone_name = self._prefer_zone(headers)
        with self.lock:
            self._apply_due()
            event = self.tenant.resolve_event(user["id"], params["e"])
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return self._zone_applied(
            self._json(
                select(self._served(event, zone_name), query), context=f"users('{user['id']}')/events/$entity"
            ),
            zone_name,
        )

    def _window(self, query: dict[str, str]) -> tuple[datetime, datetime]:
        start = query.get("startDateTime") or query.get("startdatetime")
        end = query.get("endDateTime") or query.get("enddatetime")
        if not start or not end:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters StartDateTime and "
                "EndDateTime.",
            )
        try:
            return parse_time(start), parse_time(end)
        except ValueError as exc:
            raise GraphError(400, "ErrorInvalidParameter", "Invalid StartDateTime or EndDateTime.") from exc

    def _view(self, mailbox: str, start: datetime, end: datetime, zone_name: str | None) -> list[JSON]:
        try:
            return [self._served(e, zone_name) for e in self.tenant.instances(mailbox, start, end)]
        except calendar.CalendarError as exc:
            raise GraphError(400, "ErrorInvalidRequest", str(exc)) from exc

    def _calendar_view(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        user = self._mailbox(params["u"])
        start, end = self._window(query)
        zone_name = self._prefer_zone(headers)
        with self.lock:
            self._apply_due()
            items = self._view(user["id"], start, end, zone_name)
        return self._zone_applied(
            self._page(
                items,
                query,
                headers,
                f"/users/{params['u']}/calendarView",
                10,
                1000,
                f"users('{user['id']}')/calendarView",
            ),
            zone_name,
        )

    def _event_instances(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        """``GET /users/{id}/events/{id}/instances``: a series master's occurrences and exceptions in the window."""
        user = self._mailbox(params["u"])
        start, end = self._window(query)
        zone_name = self._prefer_zone(headers)
        with self.lock:
            self._apply_due()
            master = self.tenant.resolve_event(user["id"], params["e"])
            if master is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if master.get("type") != "seriesMaster":
                items = [self._served(master, zone_name)] if master.get("type") == "singleInstance" else []
            else:
                items = [
                    self._served(e, zone_name) for e in self.tenant.instances(user["id"], start, end, master["id"])
                ]
        path = f"/users/{params['u']}/events/{params['e']}/instances"
        return self._zone_applied(
            self._page(items, query, headers, path, 10, 1000, f"users('{user['id']}')/events"), zone_name
        )

    def _calendar_view_delta(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        """Delta over the expanded view: a round reports every instance added or changed since the previous
        round's view, and ``@removed`` for every instance that left it (deleted, cancelled in the organiser's
        copy, moved out of the window, dropped by a pattern change)."""
        user = self._mailbox(params["u"])
        mailbox = user["id"]
        path = f"/users/{params['u']}/calendarView/delta"
        zone_name = self._prefer_zone(headers)
        if "$skiptoken" in query:
            state = _unb64(query["$skiptoken"])
            pages = self._delta_pages.get(str(state.get("p")))
            if pages is None:
                raise GraphError(410, "SyncStateNotFound", "The sync state was not found or has expired.")
            entries = pages
        else:
            if "$deltatoken" in query:
                state = _unb64(query["$deltatoken"])
                previous = self._delta_snapshots.get(str(state.get("k")))
                if previous is None:
                    raise GraphError(410, "SyncStateNotFound", "The sync state was not found or has expired.")
            else:
                start, end = self._window(query)
                state = {"s": graph_time(start), "e": graph_time(end), "v": -1}
                previous = None
            start, end = parse_time(state["s"]), parse_time(state["e"])
            with self.lock:
                self._apply_due()
                view = self._view(mailbox, start, end, zone_name)
                version = self.tenant.mailbox_version(mailbox)
                touched = (
                    {e["id"] for e in self.tenant.changed_since(mailbox, int(state["v"]))[0]}
                    if previous is not None
                    else set()
                )
            snapshot = {e["id"]: json.dumps(e, sort_keys=True) for e in view}
            if previous is None:
                entries = [dict(e) for e in view]
            else:
                entries = [
                    dict(e)
                    for e in view
                    if previous.get(e["id"]) != snapshot[e["id"]]
                    or e["id"] in touched
                    or e.get("seriesMasterId") in touched
                ]
                entries += [
                    {"@odata.type": "#microsoft.graph.event", "id": eid, "@removed": {"reason": "deleted"}}
                    for eid in previous
                    if eid not in snapshot
                ]
            key = uuid.UUID(int=self._rng.getrandbits(128), version=4).hex
            self._delta_snapshots[key] = snapshot
            self._delta_pages[key] = entries
            state = {"s": state["s"], "e": state["e"], "v": version, "k": key, "p": key, "o": 0}
        size = 10
        match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", headers.get("prefer", ""))
        if match:
            size = max(1, min(int(match.group(1)), 1000))
        offset = int(state.get("o", 0))
        page = [select(e, query) for e in entries[offset : offset + size]]
        out: JSON = {"value": page}
        if offset + size < len(entries):
            out["@odata.nextLink"] = self._link(path, {"$skiptoken": _b64({**state, "o": offset + size})})
        else:
            token = {"s": state["s"], "e": state["e"], "v": state["v"], "k": state["k"]}
            out["@odata.deltaLink"] = self._link(path, {"$deltatoken": _b64(token)})
        return self._zone_applied(self._json(out, context="Collection(event)"), zone_name)

    def _send_mail(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        user = self._mailbox(params["u"])
        if len(body) > MAX_BODY:
            raise GraphError(413, "RequestEntityTooLarge", "The request body is too large.")
        try:
            data = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise GraphError(400, "ErrorInvalidRequest", "Cannot read the request body.") from exc
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise GraphError(400, "ErrorInvalidRequest", "The message is missing.")
        if not message.get("toRecipients") and not message.get("ccRecipients") and not message.get("bccRecipients"):
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        with self._log_lock:
            self.sent_mail.append(SentMail(user["id"], message, bool(data.get("saveToSentItems", True))))
        return Response(202)

    # ------------------------------------------------------------------ online meetings and artefacts
    def has_access_policy(self, user_id: str) -> bool:
        """Whether the Teams application access policy reaches ``user_id``. Granted to a group, it reaches the
        group's direct members only (New-CsGroupPolicyAssignment: "not propagated to members of nested groups")."""
        if user_id in self.tenant.no_access_policy:
            return False
        policy = self.tenant.access_policy
        if policy is None or policy.get("global"):
            return True
        if user_id in (policy.get("users") or []):
            return True
        for group_id in policy.get("groups") or []:
            members = (
                self.tenant.group_members.get(group_id, [])
                if self.access_policy_direct_members_only
                else self.tenant.transitive_members(group_id)
            )
            if user_id in members:
                return True
        return False

    def _check_policy(self, user_id: str) -> None:
        if not self.has_access_policy(user_id):
            raise GraphError(403, "Forbidden", views.NO_ACCESS_POLICY_MESSAGE)

    def _own_meeting(self, params: dict[str, str]) -> tuple[str, JSON]:
        with self.lock:
            self._apply_due()
        user = self._user_or_404(params["u"])
        self._check_policy(user["id"])
        found = self.tenant.meeting(params["m"])
        if found is None:
            raise GraphError(404, "NotFound", "The requested online meeting was not found.")
        organizer_id, meeting = found
        if organizer_id != user["id"]:
            raise GraphError(
                403,
                "Forbidden",
                f"Application is not allowed to perform operations on the user '{user['id']}', neither is allowed "
                "access through RSC permission evaluation.",
            )
        return organizer_id, meeting

    @staticmethod
    def _include_unknown(headers: dict[str, str]) -> bool:
        return "include-unknown-enum-members" in headers.get("prefer", "").lower()

    def _meeting_response(self, meeting: JSON, headers: dict[str, str], body: JSON | None, context: str) -> Response:
        response = self._json(body if body is not None else meeting, context=context)
        if self._include_unknown(headers):
            response.headers["Preference-Applied"] = "include-unknown-enum-members"
        return response

    def _meetings_by_filter(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with self.lock:
            self._apply_due()
        user = self._user_or_404(params["u"])
        self._check_policy(user["id"])
        flt = query.get("$filter")
        if not flt:
            raise GraphError(
                400, "BadRequest", "This API requires a $filter on JoinWebUrl or joinMeetingIdSettings/joinMeetingId."
            )
        match = re.fullmatch(r"\s*(joinWebUrl|joinMeetingIdSettings/joinMeetingId)\s+eq\s+'(.*)'\s*", flt, re.I | re.S)
        if not match:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {flt}")
        prop, value = match.group(1).lower(), match.group(2).replace("''", "'")
        include = self._include_unknown(headers)
        found: list[JSON] = []
        with self.lock:
            for organizer_id, meetings in self.tenant.online_meetings.items():
                for meeting in meetings:
                    key = (
                        meeting.get("joinWebUrl")
                        if prop == "joinweburl"
                        else (meeting.get("joinMeetingIdSettings") or {}).get("joinMeetingId")
                    )
                    if key != value:
                        continue
                    if organizer_id != user["id"]:
                        # An attendee's id in the path: Graph answers 403 (docs-contrib#436).
                        raise GraphError(
                            403,
                            "Forbidden",
                            f"Application is not allowed to perform operations on the user '{user['id']}', neither is "
                            "allowed access through RSC permission evaluation.",
                        )
                    found.append(views.online_meeting_view(meeting, include))
        return self._meeting_response({}, headers, {"value": found}, f"users('{user['id']}')/onlineMeetings")

    def _meeting(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        organizer_id, meeting = self._own_meeting(params)
        view = select(views.online_meeting_view(meeting, self._include_unknown(headers)), query)
        return self._meeting_response(view, headers, None, f"users('{organizer_id}')/onlineMeetings/$entity")

    def _update_meeting(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        """PATCH /users/{userId}/onlineMeetings/{meetingId}: only the properties Graph documents as updatable
        (https://learn.microsoft.com/en-us/graph/api/onlinemeeting-update?view=graph-rest-1.0); any other is a
        400. Answers 200 with the updated meeting."""
        organizer_id, meeting = self._own_meeting(params)
        if meeting["id"] in self.refuse_meeting_updates:
            raise GraphError(403, "Forbidden", "Application is not allowed to perform operations on this meeting.")
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc
        if not isinstance(data, dict) or not data:
            raise GraphError(400, "BadRequest", "Empty request body.")
        unknown = sorted(k for k in data if k not in UPDATABLE_MEETING_PROPERTIES)
        if unknown:
            raise GraphError(400, "BadRequest", f"Property '{unknown[0]}' cannot be updated.")
        with self.lock:
            for key, value in data.items():
                if key == "lobbyBypassSettings" and isinstance(value, dict):
                    merged = dict(meeting.get("lobbyBypassSettings") or {})
                    merged.update(value)
                    meeting[key] = merged
                else:
                    meeting[key] = value
            self.meeting_updates.append((meeting["id"], data))
        view = views.online_meeting_view(meeting, self._include_unknown(headers))
        return self._meeting_response(view, headers, None, f"users('{organizer_id}')/onlineMeetings/$entity")

    def _reports_for(self, params: dict[str, str]) -> list[JSON]:
        _, meeting = self._own_meeting(params)
        with self.lock:
            return views.reports_listed(self.tenant, meeting, self.channel_attendance)

    def _attendance_reports(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with_records = "attendancerecords" in query.get("$expand", "").lower()
        reports = [views.attendance_report_view(r, with_records) for r in self._reports_for(params)]
        return self._json({"value": [select(r, query) for r in reports]}, context="attendanceReports")

    def _report(self, params: dict[str, str]) -> JSON:
        for report in self._reports_for(params):
            if report["id"] == params["r"]:
                return report
        raise GraphError(404, "NotFound", "The attendance report was not found.")

    def _attendance_report(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        _, meeting = self._own_meeting(params)
        if self.channel_attendance == "channel" and self.tenant.is_channel_meeting(meeting):
            # meetingattendancereport-get: "This method doesn't support channel meetings." (wording unconfirmed)
            raise GraphError(400, "BadRequest", views.CHANNEL_REPORT_ERROR)
        with_records = "attendancerecords" in query.get("$expand", "").lower()
        view = views.attendance_report_view(self._report(params), with_records)
        return self._json(select(view, query), context="attendanceReports/$entity")

    def _attendance_records(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        records = list(self._report(params).get("attendanceRecords", []))
        path = f"/users/{params['u']}/onlineMeetings/{params['m']}/attendanceReports/{params['r']}/attendanceRecords"
        return self._page(records, query, headers, path, 100, 100, "attendanceRecords")

    def _artefact_list(self, params: dict[str, str]) -> tuple[str, list[JSON]]:
        kind = "transcripts" if "/transcripts" in params["_segments"] else "recordings"
        _, meeting = self._own_meeting(params)
        if self.tenant.is_channel_meeting(meeting) and not self.channel_recordings:
            raise GraphError(400, "BadRequest", views.CHANNEL_RECORDINGS_ERROR)
        store = self.tenant.transcripts if kind == "transcripts" else self.tenant.recordings
        return kind, store.get(meeting["id"], [])

    def _artefacts(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        kind, items = self._artefact_list(params)
        return self._json({"value": [select(dict(x), query) for x in items]}, context=kind)

    def _artefact_item(self, params: dict[str, str]) -> tuple[str, JSON]:
        kind, items = self._artefact_list(params)
        for item in items:
            if item["id"] == params["r"]:
                return kind, item
        raise GraphError(404, "NotFound", f"The {kind[:-1]} was not found.")

    def _artefact(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        kind, item = self._artefact_item(params)
        return self._json(select(dict(item), query), context=f"{kind}/$entity")

    def _artefact_content(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        kind, item = self._artefact_item(params)
        if kind == "transcripts":
            text = f"WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n<v Speaker>Simulated transcript {item['id']}</v>\n"
            return Response(200, text.encode(), {}, "text/vtt")
        return Response(200, b"\x00\x00\x00\x18ftypmp42simulated", {}, "video/mp4")

    # ------------------------------------------------------------------ call records
    def _record_or_404(self, record_id: str) -> JSON:
        self._apply_due()
        record = self.tenant.call_records.get(record_id)
        if record is not None and self.enforce_retention:
            end = parse_time(record.get("endDateTime") or record["startDateTime"])
            if self.clock() - end > CALL_RECORD_RETENTION:
                record = None
        if record is None:
            raise GraphError(404, "NotFound", f"Call record '{record_id}' was not found.")
        return record

    def _call_record(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with self.lock:
            record = self._record_or_404(params["c"])
            out = views.call_record_view(self.tenant, record)
            expands = split_top_level(query.get("$expand", ""))
            for expand in expands:
                name = expand.split("(", 1)[0].strip().lower()
                if name == "sessions":
                    with_segments = "segments" in expand.lower()
                    sessions = views.sessions_view(
                        self.tenant, record, lobby_sessions=self.lobby_sessions, segments=with_segments
                    )
                    out["sessions"] = sessions[:60]
                    if len(sessions) > 60:
                        q = {"$expand": "segments"} if with_segments else {}
                        q["$skiptoken"] = _b64({"o": 60})
                        out["sessions@odata.nextLink"] = self._link(
                            f"/communications/callRecords/{record['id']}/sessions", q
                        )
                elif name == "participants_v2":
                    parts = views.participants_view(self.tenant, record, lobby_sessions=self.lobby_sessions)
                    out["participants_v2"] = parts[:130]
                    if len(parts) > 130:
                        out["participants_v2@odata.nextLink"] = self._link(
                            f"/communications/callRecords/{record['id']}/participants_v2",
                            {"$skiptoken": _b64({"o": 130})},
                        )
                elif name:
                    raise GraphError(
                        400,
                        "BadRequest",
                        f"Could not find a property named '{name}' on type 'microsoft.graph.callRecords.callRecord'.",
                    )
        return self._json(
            select(out, query) if "$select" in query else out, context="communications/callRecords/$entity"
        )

    def _sessions(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with self.lock:
            record = self._record_or_404(params["c"])
            with_segments = "segments" in query.get("$expand", "").lower()
            sessions = views.sessions_view(
                self.tenant, record, lobby_sessions=self.lobby_sessions, segments=with_segments
            )
        path = f"/communications/callRecords/{params['c']}/sessions"
        return self._page(
            sessions, query, headers, path, 60, 60, f"communications/callRecords('{params['c']}')/sessions"
        )

    def _participants(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with self.lock:
            record = self._record_or_404(params["c"])
            parts = views.participants_view(self.tenant, record, lobby_sessions=self.lobby_sessions)
        path = f"/communications/callRecords/{params['c']}/participants_v2"
        if "$top" in query and self.participants_top != "honour":
            if self.participants_top == "reject":
                # callrecords-callrecord-list-participants_v2 documents $select only (wording unconfirmed).
                raise GraphError(400, "BadRequest", "Query option '$top' is not allowed for participants_v2.")
            query = {k: v for k, v in query.items() if k != "$top"}
        return self._page(
            parts, query, headers, path, 130, 130, f"communications/callRecords('{params['c']}')/participants_v2"
        )

    def _call_records(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        flt = query.get("$filter", "")
        conditions: list[tuple[str, str, datetime | str]] = []
        for clause in re.split(r"\s+and\s+", flt.strip(), flags=re.I) if flt.strip() else []:
            m = re.fullmatch(r"\s*startDateTime\s+(ge|gt|le|lt)\s+'?([0-9T:.\-+Z]+)'?\s*", clause, re.I)
            p = re.fullmatch(r"\s*participants_v2/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'([^']+)'\s*\)\s*", clause, re.I)
            if m:
                conditions.append(("time", m.group(1).lower(), parse_time(m.group(2))))
            elif p:
                conditions.append(("participant", "eq", p.group(2)))
            else:
                raise GraphError(400, "BadRequest", f"Unsupported filter clause: {clause}")
        ops: dict[str, Callable[[datetime, datetime], bool]] = {
            "ge": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "le": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
        }
        with self.lock:
            self._apply_due()
            records = []
            for record in self.tenant.call_records.values():
                if self.enforce_retention:
                    try:
                        self._record_or_404(record["id"])
                    except GraphError:
                        continue
                ok = True
                for _kind, op, value in conditions:
                    if isinstance(value, datetime):
                        ok = ok and ops[op](parse_time(record["startDateTime"]), value)
                    else:
                        ids = {
                            ((p.get("identity") or {}).get("user") or {}).get("id")
                            for p in record.get("participants_v2", [])
                        }
                        ok = ok and value in ids
                if ok:
                    records.append(views.call_record_view(self.tenant, record))
        records.sort(key=lambda r: r["startDateTime"])
        return self._page(records, query, headers, "/communications/callRecords", 60, 60, "communications/callRecords")

    # ------------------------------------------------------------------ subscriptions
    def _live(self) -> dict[str, JSON]:
        now = self.clock()
        with self.lock:
            for sid in [s for s, sub in self.subscriptions.items() if parse_time(sub["expirationDateTime"]) <= now]:
                del self.subscriptions[sid]
            return dict(self.subscriptions)

    def _list_subscriptions(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        subs = sorted(self._live().values(), key=lambda s: s["id"])
        return self._json({"value": [dict(s) for s in subs]}, context="subscriptions")

    def _get_subscription(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        sub = self._live().get(params["s"])
        if sub is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return self._json(dict(sub), context="subscriptions/$entity")

    def _read_body(self, body: bytes) -> JSON:
        try:
            data = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise GraphError(400, "BadRequest", "Invalid request body.") from exc
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "Invalid request body.")
        return data

    def _expiry(self, resource_rule: ResourceRule, value: Any, include_data: bool) -> datetime:
        if not isinstance(value, str) or not value:
            raise GraphError(400, "InvalidRequest", "expirationDateTime must be provided.")
        try:
            expiry = parse_time(value)
        except ValueError as exc:
            raise GraphError(400, "InvalidRequest", "expirationDateTime is not a valid date time.") from exc
        now = self.clock()
        if expiry <= now:
            raise GraphError(400, "InvalidRequest", "Subscription expiration date time must be in the future.")
        limit = self.lifetime_limits.get(
            resource_rule.name,
            resource_rule.max_minutes_rich
            if include_data and resource_rule.max_minutes_rich
            else resource_rule.max_minutes,
        )
        # A little slack for the time the request took to arrive; Graph rounds similarly.
        if expiry - now > timedelta(minutes=limit, seconds=30):
            raise GraphError(
                400, "ExtensionError", f"Subscription expiration can only be {limit} minutes in the future."
            )
        return max(expiry, now + timedelta(minutes=45))

    def _create_subscription(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        data = self._read_body(body)
        for required in ("changeType", "notificationUrl", "resource"):
            if not data.get(required):
                raise GraphError(400, "InvalidRequest", f"{required} must be provided.")
        rule = resource_rule(str(data["resource"]))
        if rule is None:
            raise GraphError(400, "InvalidRequest", f"Resource '{data['resource']}' is not supported.")
        change_types = {c.strip() for c in str(data["changeType"]).split(",") if c.strip()}
        if not change_types or not change_types <= rule.change_types:
            raise GraphError(
                400,
                "InvalidRequest",
                f"Invalid changeType '{data['changeType']}' for resource '{data['resource']}'; allowed: "
                + ",".join(sorted(rule.change_types)),
            )
        client_state = data.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise GraphError(400, "InvalidRequest", "clientState must be at most 128 characters.")
        include_data = bool(data.get("includeResourceData"))
        if include_data and not data.get("encryptionCertificate"):
            raise GraphError(
                400, "InvalidRequest", "encryptionCertificate must be provided when includeResourceData is true."
            )
        granted = self.granted_permissions
        if rule.permissions and granted is not None and not granted & set(rule.permissions):
            raise GraphError(
                403,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: Forbidden; Reason: The application does not have the "
                f"permission required for resource '{data['resource']}' ({' or '.join(rule.permissions)}).]",
            )
        mailbox = re.match(r"^/?users/([^/?]+)/(events|messages|contacts)", str(data["resource"]), re.I)
        if mailbox and self.enforce_mailbox_scope and self.tenant.mailbox_scope is not None:
            user = self.tenant.user(mailbox.group(1))
            if user is None or user["id"] not in self.tenant.mailbox_scope:
                raise GraphError(
                    403,
                    "ExtensionError",
                    f"Operation: Create; Exception: [Status Code: Forbidden; Reason: {MAILBOX_SCOPE_MESSAGE}]",
                )
        expiry = self._expiry(rule, data.get("expirationDateTime"), include_data)
        lifecycle = data.get("lifecycleNotificationUrl")
        if rule.lifecycle_over_hour and not lifecycle and expiry - self.clock() > timedelta(hours=1):
            raise GraphError(
                400,
                "InvalidRequest",
                "lifecycleNotificationUrl is required for subscription creation on this resource when the "
                "expirationDateTime value exceeds 1 hour.",
            )
        for url in filter(None, (data["notificationUrl"], lifecycle)):
            self._check_url(str(url))
        if rule.quota is not None:
            same = [s for s in self._live().values() if resource_rule(s["resource"]) is rule]
            if len(same) >= rule.quota:
                raise GraphError(
                    403, "ExtensionError", f"Subscription quota of {rule.quota} for this resource reached."
                )
        self._handshake(str(data["notificationUrl"]))
        if lifecycle:
            self._handshake(str(lifecycle))
        sub = {
            "id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "resource": data["resource"],
            "applicationId": APPLICATION_ID,
            "changeType": ",".join(c for c in ("created", "updated", "deleted") if c in change_types),
            "clientState": client_state,
            "notificationUrl": data["notificationUrl"],
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": lifecycle,
            "expirationDateTime": graph_time(expiry),
            "creatorId": APPLICATION_ID,
            "includeResourceData": include_data,
            "latestSupportedTlsVersion": data.get("latestSupportedTlsVersion") or "v1_2",
            "encryptionCertificate": data.get("encryptionCertificate"),
            "encryptionCertificateId": data.get("encryptionCertificateId"),
            "notificationUrlAppId": None,
        }
        with self.lock:
            self.subscriptions[sub["id"]] = sub
        return self._json(dict(sub), 201, context="subscriptions/$entity")

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme == "https":
            return
        if parts.scheme == "http" and not self.require_https and parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return
        raise GraphError(400, "InvalidRequest", "The Notification Url must be an https url.")

    def _handshake(self, url: str) -> None:
        token = "Validation: Testing client application reachability for subscription Request-Id: " + str(
            uuid.UUID(int=self._rng.getrandbits(128), version=4)
        )
        target = url + ("&" if "?" in url else "?") + "validationToken=" + quote(token, safe="")
        entry: JSON = {"url": url, "token": token, "ok": False}
        started = time.monotonic()
        try:
            with httpx.Client(timeout=self.validation_timeout) as client:
                reply = client.post(target, content=b"", headers={"Content-Type": "text/plain; charset=utf-8"})
        except httpx.TimeoutException as exc:
            entry["error"] = "timeout"
            self.handshakes.append(entry)
            raise GraphError(400, "InvalidRequest", "Subscription validation request timed out.") from exc
        except httpx.HTTPError as exc:
            entry["error"] = repr(exc)
            self.handshakes.append(entry)
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                "validation request.",
            ) from exc
        elapsed = time.monotonic() - started
        entry.update(status=reply.status_code, echo=reply.text, elapsed=elapsed)
        self.handshakes.append(entry)
        if elapsed > self.validation_timeout:
            raise GraphError(400, "InvalidRequest", "Subscription validation request timed out.")
        content_type = reply.headers.get("content-type", "").split(";")[0].strip().lower()
        if reply.status_code != 200 or content_type != "text/plain" or reply.text != token:
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                "validation request.",
            )
        entry["ok"] = True

    def _renew_subscription(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        sub = self._live().get(params["s"])
        if sub is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        data = self._read_body(body)
        rule = resource_rule(sub["resource"])
        assert rule is not None
        expiry = self._expiry(rule, data.get("expirationDateTime"), bool(sub.get("includeResourceData")))
        with self.lock:
            sub = self.subscriptions[params["s"]]
            sub["expirationDateTime"] = graph_time(expiry)
            for key in ("clientState", "encryptionCertificate", "encryptionCertificateId"):
                if key in data:
                    sub[key] = data[key]
            return self._json(dict(sub), context="subscriptions/$entity")

    def _delete_subscription(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        with self.lock:
            if self._live().get(params["s"]) is None:
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
            del self.subscriptions[params["s"]]
        return Response(204)

    def _reauthorize_subscription(
        self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        if self._live().get(params["s"]) is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return Response(204)

    def remove_subscription(self, subscription_id: str) -> None:
        """Drop a subscription silently, as Graph does when it removes one."""
        with self.lock:
            self.subscriptions.pop(subscription_id, None)

    # ------------------------------------------------------------------ $batch
    def _batch(self, params: dict[str, str], query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        data = self._read_body(body)
        requests = data.get("requests")
        if not isinstance(requests, list) or not requests:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Number of batch requests exceeds the maximum of {MAX_BATCH}.")
        ids = [str(r.get("id")) for r in requests if isinstance(r, dict)]
        if len(ids) != len(requests) or len(set(ids)) != len(ids) or any(i in ("", "None") for i in ids):
            raise GraphError(400, "BadRequest", "Batch request ids must be present and unique.")
        statuses: dict[str, int] = {}
        responses: list[JSON] = []
        for item in requests:
            rid = str(item["id"])
            depends = [str(d) for d in item.get("dependsOn") or []]
            if any(d not in statuses for d in depends):
                raise GraphError(400, "BadRequest", f"Request '{rid}' depends on a request that does not precede it.")
            if any(not 200 <= statuses[d] < 300 for d in depends):
                statuses[rid] = 424
                responses.append(
                    {
                        "id": rid,
                        "status": 424,
                        "headers": {"Content-Type": "application/json"},
                        "body": {"error": {"code": "FailedDependency", "message": "Failed dependency."}},
                    }
                )
                continue
            method = str(item.get("method", "GET")).upper()
            url = str(item.get("url", ""))
            if url.lower().startswith(("http://", "https://")):
                split = urlsplit(url)
                url = split.path + (f"?{split.query}" if split.query else "")
            url = "/" + url.lstrip("/")
            if not url.lower().startswith("/v1.0/"):
                url = "/v1.0" + url
            inner_headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            inner_body = item.get("body")
            if inner_body is not None and "content-type" not in inner_headers:
                statuses[rid] = 400
                responses.append(
                    {
                        "id": rid,
                        "status": 400,
                        "headers": {"Content-Type": "application/json"},
                        "body": {
                            "error": {
                                "code": "BadRequest",
                                "message": "Content-Type header must be specified when a body is present.",
                            }
                        },
                    }
                )
                continue
            raw = (
                b""
                if inner_body is None
                else (inner_body.encode() if isinstance(inner_body, str) else json.dumps(inner_body).encode())
            )
            result = self.handle(method, url, inner_headers, raw, in_batch=True)
            statuses[rid] = result.status
            entry: JSON = {"id": rid, "status": result.status, "headers": dict(result.headers)}
            if result.body is not None:
                if isinstance(result.body, bytes):
                    entry["body"] = base64.b64encode(result.body).decode()
                    entry["headers"]["Content-Type"] = result.content_type or "application/octet-stream"
                else:
                    entry["body"] = result.body
                    entry["headers"].setdefault("Content-Type", "application/json")
            responses.append(entry)
        self._rng.shuffle(responses)
        return self._json({"responses": responses})

    # ------------------------------------------------------------------ time
    def set_now(self, now: datetime) -> list[Delivery]:
        """Move a :class:`SimClock` to ``now`` (never backwards), apply what the timeline says happened by then,
        and deliver the notifications Graph would have sent. Returns the deliveries."""
        if not isinstance(self.clock, SimClock):
            raise TypeError("set_now needs the simulator built with clock=SimClock(...)")
        self.clock.set(now)
        return self.tick()

    def advance(self, **delta: float) -> list[Delivery]:
        """``sim.advance(minutes=35)``: :meth:`set_now` relative to the clock."""
        return self.set_now(self.clock() + timedelta(**delta))

    def tick(self) -> list[Delivery]:
        """Apply the timeline steps due by ``clock()`` and deliver the pending notifications."""
        with self.lock:
            self._apply_due()
            pending, self._pending = self._pending, []
        deliveries: list[Delivery] = []
        for kind, *args in pending:
            if kind == "event":
                deliveries += self.notify_event(args[0], args[1], args[2])
            elif kind == "callRecord":
                deliveries += self.notify_call_record(args[0], args[1])
            elif kind == "recording":
                deliveries += self.notify_recording(args[0], args[1])
            elif kind == "transcript":
                deliveries += self.notify_transcript(args[0], args[1])
        return deliveries

    def timeline_steps(self) -> list[tuple[datetime, int, JSON]]:
        """(due time, index, step) for every step of the tenant's timeline, in the order they happen."""
        steps = []
        for index, step in enumerate(self.tenant.timeline):
            due = parse_time(str(step["at"])) + timedelta(minutes=float(step.get("delayMinutes") or 0))
            steps.append((due, index, step))
        return sorted(steps, key=lambda s: (s[0], s[1]))

    def _apply_due(self) -> None:
        """Apply (once) every timeline step due by now. Called under the lock by every calendar/meeting read, so
        what Graph serves always matches the clock; notifications wait in ``_pending`` for :meth:`tick`."""
        if not self.tenant.timeline:
            return
        now = self.clock()
        for due, index, step in self.timeline_steps():
            if due > now:
                break
            if index in self.tenant.applied_steps:
                continue
            self.tenant.applied_steps.add(index)
            self._pending += timeline.apply_step(self.tenant, step, due)

    # ------------------------------------------------------------------ notifications
    def _subscriptions_for(self, predicate: Callable[[str], bool]) -> list[JSON]:
        return [s for s in self._live().values() if predicate(_norm_resource(s["resource"]))]

    def notify_changes(self, items: Iterable[ChangeItem | JSON]) -> list[Delivery]:
        """Deliver change notifications: all items for one notificationUrl go in one POST (``batch_size`` items
        at most), across subscriptions. A dict item is sent as is (routed by its ``subscriptionId``)."""
        live = self._live()
        by_url: dict[str, list[JSON]] = {}
        for item in items:
            if isinstance(item, ChangeItem):
                sub = live.get(item.subscription_id)
                if sub is None:
                    continue
                payload = {
                    "subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": _notification_time(sub["expirationDateTime"]),
                    "changeType": item.change_type,
                    "resource": item.resource,
                    "resourceData": item.resource_data,
                    "clientState": sub.get("clientState"),
                    "tenantId": self.tenant.tenant_id,
                }
            else:
                payload = dict(item)
                sub = live.get(str(payload.get("subscriptionId")))
                if sub is None:
                    continue
            by_url.setdefault(sub["notificationUrl"], []).append(payload)
        deliveries = []
        for url, payloads in by_url.items():
            for i in range(0, len(payloads), self.batch_size):
                deliveries.append(self._deliver(url, {"value": payloads[i : i + self.batch_size]}, "change"))
        return deliveries

    def notify_event(self, user_id: str, event_id: str, change_type: str = "updated") -> list[Delivery]:
        user = self.tenant.user(user_id)
        uid = user["id"] if user else user_id
        keys = {f"users/{uid}/events".lower()}
        if user and user.get("userPrincipalName"):
            keys.add(f"users/{user['userPrincipalName']}/events".lower())
        subs = self._subscriptions_for(lambda r: r.split("?")[0] in keys)
        event = self.tenant.event(uid, event_id) if change_type != "deleted" else None
        resource = f"Users/{uid}/Events/{event_id}"
        data: JSON = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource}
        if event is not None and event.get("@odata.etag"):
            data["@odata.etag"] = event["@odata.etag"]
        data["id"] = event_id
        return self.notify_changes(ChangeItem(s["id"], change_type, resource, dict(data)) for s in subs)

    def notify_call_record(self, call_record_id: str, change_type: str = "created") -> list[Delivery]:
        subs = self._subscriptions_for(lambda r: r.split("?")[0] == "communications/callrecords")
        resource = f"communications/callRecords/{call_record_id}"
        data = {
            "@odata.type": "#microsoft.graph.callrecord",
            "@odata.id": f"communications/callrecords/{call_record_id}",
            "id": call_record_id,
        }
        return self.notify_changes(ChangeItem(s["id"], change_type, resource, dict(data)) for s in subs)

    def _notify_artefact(self, kind: str, meeting_id: str, item_id: str) -> list[Delivery]:
        found = self.tenant.meeting(meeting_id)
        organizer_id = found[0] if found else ""
        if found and self.tenant.is_channel_meeting(found[1]) and not self.channel_recordings:
            return []  # the getAll… resources do not cover channel meetings (docs/graph-facts.md §5)
        wanted = {
            f"communications/onlinemeetings/getall{kind}",
            f"users/{organizer_id}/onlinemeetings/getall{kind}".lower(),
            f"communications/onlinemeetings/{meeting_id}/{kind}".lower(),
        }
        subs = self._subscriptions_for(lambda r: r.split("(")[0] in wanted or r in wanted)
        resource = f"communications/onlineMeetings('{meeting_id}')/{kind}('{item_id}')"
        odata_type = "#Microsoft.Graph.callTranscript" if kind == "transcripts" else "#Microsoft.Graph.callRecording"
        data = {"id": item_id, "@odata.type": odata_type, "@odata.id": resource}
        return self.notify_changes(ChangeItem(s["id"], "created", resource, dict(data)) for s in subs)

    def notify_recording(self, meeting_id: str, recording_id: str) -> list[Delivery]:
        return self._notify_artefact("recordings", meeting_id, recording_id)

    def notify_transcript(self, meeting_id: str, transcript_id: str) -> list[Delivery]:
        return self._notify_artefact("transcripts", meeting_id, transcript_id)

    def send_lifecycle(self, subscription_id: str, event: str) -> list[Delivery]:
        """Send one lifecycle event (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``)."""
        return self.send_lifecycle_many([(subscription_id, event)])

    def send_lifecycle_many(self, events: Iterable[tuple[str, str]]) -> list[Delivery]:
        by_url: dict[str, list[JSON]] = {}
        for subscription_id, event in events:
            if event not in ("reauthorizationRequired", "subscriptionRemoved", "missed"):
                raise ValueError(f"unknown lifecycle event {event!r}")
            with self.lock:
                sub = self.subscriptions.get(subscription_id)
                if sub is None or not sub.get("lifecycleNotificationUrl"):
                    continue
                if event == "subscriptionRemoved":
                    del self.subscriptions[subscription_id]
            by_url.setdefault(sub["lifecycleNotificationUrl"], []).append(
                {
                    "subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": _notification_time(sub["expirationDateTime"]),
                    "tenantId": self.tenant.tenant_id,
                    "clientState": sub.get("clientState"),
                    "lifecycleEvent": event,
                }
            )
        return [self._deliver(url, {"value": items}, "lifecycle") for url, items in by_url.items()]

    def _deliver(self, url: str, payload: JSON, kind: str) -> Delivery:
        delivery = Delivery(url, payload, kind)
        backoff = self.redelivery_backoff
        with httpx.Client(timeout=self.notification_timeout) as client:
            for attempt in range(self.redelivery_attempts):
                if attempt:
                    time.sleep(backoff)
                    backoff *= 2
                delivery.attempts += 1
                try:
                    reply = client.post(url, json=payload)
                    status: int | None = reply.status_code
                except httpx.HTTPError:
                    status = None
                delivery.statuses.append(status)
                if status is not None and 200 <= status < 300:
                    delivery.delivered = True
                    break
        with self._log_lock:
            self.deliveries.append(delivery)
        return delivery


# ---------------------------------------------------------------------------------------------------- resources


@dataclass(frozen=True)
class ResourceRule:
    name: str  # key of ``lifetime_limits``
    pattern: re.Pattern[str]
    max_minutes: int
    change_types: frozenset[str]
    lifecycle_over_hour: bool = False
    max_minutes_rich: int | None = None
    quota: int | None = None
    permissions: tuple[str, ...] = ()  # any one of them is enough; () = not checked


_CUD = frozenset({"created", "updated", "deleted"})
RESOURCE_RULES = (
    ResourceRule(
        "callRecords",
        re.compile(r"^communications/callrecords(\?.*)?$"),
        4230,
        frozenset({"created", "updated"}),
        quota=100,
        permissions=("CallRecords.Read.All",),
    ),
    ResourceRule(
        "onlineMeetingRecordings",
        re.compile(r"^(communications|users/[^/]+)/onlinemeetings/getallrecordings(\(.*\))?$"),
        4320,
        frozenset({"created"}),
        True,
        permissions=("OnlineMeetingRecording.Read.All",),
    ),
    ResourceRule(
        "onlineMeetingTranscripts",
        re.compile(r"^(communications|users/[^/]+)/onlinemeetings/getalltranscripts(\(.*\))?$"),
        4320,
        frozenset({"created"}),
        True,
        permissions=("OnlineMeetingTranscript.Read.All",),
    ),
    ResourceRule(
        "adhocCallRecordings",
        re.compile(r"^(communications|users/[^/]+)/adhoccalls/getallrecordings(\(.*\))?$"),
        4320,
        frozenset({"created"}),
        True,
        permissions=("CallRecordings.Read.All",),
    ),
    ResourceRule(
        "adhocCallTranscripts",
        re.compile(r"^(communications|users/[^/]+)/adhoccalls/getalltranscripts(\(.*\))?$"),
        4320,
        frozenset({"created"}),
        True,
        permissions=("CallTranscripts.Read.All",),
    ),
    ResourceRule(
        "meetingArtefacts",
        re.compile(r"^communications/onlinemeetings/[^/]+/(recordings|transcripts)$"),
        4320,
        frozenset({"created"}),
        True,
    ),
    ResourceRule(
        "mailbox",
        re.compile(r"^(users/[^/]+|me)/(events|messages|contacts)(\?.*)?$"),
        10080,
        _CUD,
        max_minutes_rich=1440,
        permissions=("Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite", "Mail.Read", "Contacts.Read"),
    ),
    ResourceRule(
        "directory",
        re.compile(r"^(users|groups)(/[^/]+/members)?(\?.*)?$"),
        41760,
        frozenset({"created", "updated", "deleted"}),
    ),
    ResourceRule("teams", re.compile(r"^(teams|chats)(/.*)?$"), 4320, _CUD, True),
)


def _norm_resource(resource: str) -> str:
    return resource.strip().lstrip("/").lower()


def resource_rule(resource: str) -> ResourceRule | None:
    norm = _norm_resource(resource)
    for rule in RESOURCE_RULES:
        if rule.pattern.match(norm):
            return rule
    return None


def max_expiry_minutes(resource: str, include_resource_data: bool = False) -> int | None:
    """The longest expiry the simulator accepts for ``resource`` (docs/graph-facts.md §7.8)."""
    rule = resource_rule(resource)
    if rule is None:
        return None
    return rule.max_minutes_rich if include_resource_data and rule.max_minutes_rich else rule.max_minutes


def _notification_time(value: str) -> str:
    return graph_time(parse_time(value))


def _simple_filter(obj: JSON, flt: str) -> bool:
    """`prop eq 'v'` (value case-insensitive), `startswith(prop,'v')`, `proxyAddresses/any(x:x eq 'v')`."""
    m = re.fullmatch(r"\s*(\w+)\s+eq\s+'(.*)'\s*", flt, re.S)
    if m:
        value = obj.get(m.group(1))
        return isinstance(value, str) and value.lower() == m.group(2).replace("''", "'").lower()
    m = re.fullmatch(r"\s*startswith\(\s*(\w+)\s*,\s*'(.*)'\s*\)\s*", flt, re.S | re.I)
    if m:
        value = obj.get(m.group(1))
        return isinstance(value, str) and value.lower().startswith(m.group(2).lower())
    m = re.fullmatch(r"\s*proxyAddresses/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'(.*)'\s*\)\s*", flt, re.S | re.I)
    if m:
        return any(p.lower() == m.group(2).lower() for p in obj.get("proxyAddresses", []))
    raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported query: {flt}")


# ---------------------------------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    simulator: GraphSimulator
    protocol_version = "HTTP/1.1"
    server_version = "graphsim/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.simulator.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a simulator bug must still answer, in Graph's shape
            response = Response(500, {"error": {"code": "InternalServerError", "message": repr(exc)}})
        if response.body is None:
            payload = b""
            content_type = None
        elif isinstance(response.body, bytes):
            payload = response.body
            content_type = response.content_type or "application/octet-stream"
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
            content_type = (
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
            )
        self.send_response(response.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_PUT = _serve


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a scenario tenant as Microsoft Graph v1.0 on loopback.")
    parser.add_argument("tenant", help="tenant JSON file (see devtools/graphsim/README.md)")
    args = parser.parse_args(argv)
    with GraphSimulator(Tenant.load(args.tenant)) as sim:
        print(sim.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
