"""The admin API: ``GET /api/findings``, ``GET /api/meetings``, ``PATCH /api/findings/{id}`` (annotations),
``POST /api/consent`` (the consent-form CSV).

Two locks: a function key (auth level FUNCTION) and an Entra ID sign-in through App Service Authentication
whose principal must hold an app role: ``vcaudit.reader`` to read, ``vcaudit.admin`` to write. A leaked
function key alone therefore cannot annotate a finding (silence ``consent-missing``) or replace the consent
register. Every parameter is validated; unknown ones are refused; table filters are parameterised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from functions.http import respond
from shared.admin import query as q
from shared.admin.annotate import NotFound, annotate
from shared.admin.auth import ADMIN, READER, Principal, authorise
from shared.admin.context import Admin, open_admin
from shared.admin.directory import Pupil, graph_pupils
from shared.admin.validate import InvalidInput, choice, day, limit
from shared.records.consent import Columns, ImportRefused, RemovalsRefused, plan_import
from shared.runtime import Runtime, runtime

bp = func.Blueprint()
log = logging.getLogger("vcaudit.admin")

FINDING_PARAMS = frozenset({"week", "from", "to", "rule", "severity", "status", "organiser", "team", "subject",
                            "limit", "continuation"})
MEETING_PARAMS = FINDING_PARAMS | {"title", "inScope"}
CONSENT_PARAMS = frozenset({"timestampColumn", "pupilColumn", "parentColumn", "answerColumn", "dateOrder",
                            "skipUnmatched", "confirmRemovals"})
PATCH_KEYS = frozenset({"status", "comment", "until"})
MAX_PATCH = 16_384
MAX_CSV = 5_000_000
DEFAULT_PAGE = 100

_lock = threading.Lock()
_admins: dict[int, tuple[Runtime, Admin]] = {}


def _admin(app: Runtime) -> Admin:
    with _lock:
        cached = _admins.get(id(app))
        if cached is None or cached[0] is not app:
            cached = (app, open_admin(app.stores, app.settings.zone))
            _admins[id(app)] = cached
        return cached[1]


def _json(value: Any, status: int = 200) -> func.HttpResponse:
    return respond(json.dumps(value, ensure_ascii=False, default=str), status=status, mimetype="application/json")


def _error(status: int, message: str) -> func.HttpResponse:
    return _json({"error": message}, status)


def _guarded(role: str, body: Callable[[func.HttpRequest, Principal], func.HttpResponse],
             req: func.HttpRequest) -> func.HttpResponse:
    verdict = authorise(dict(req.headers), role, os.environ)
    if not isinstance(verdict, Principal):
        log.warning("admin route %s refused: %s", req.url.split("?", 1)[0], verdict.reason)
        return _error(verdict.status, verdict.reason)
    from azure.core.exceptions import AzureError

    from shared.graph.errors import GraphThrottled

    try:
        return body(req, verdict)
    except InvalidInput as exc:
        return _error(400, " ".join(str(exc).split()))
    except NotFound as exc:
        return _error(404, " ".join(str(exc).split()))
    except GraphThrottled as exc:
        wait = max(1, math.ceil(exc.retry_after_seconds))
        return respond(json.dumps({"error": f"Graph is throttling ({exc.status}); try again in {wait} s"}),
                       status=503, mimetype="application/json", headers={"Retry-After": str(wait)})
    except AzureError as exc:
        log.warning("admin route %s: storage unreachable (%s)", req.url.split("?", 1)[0], type(exc).__name__)
        return respond(json.dumps({"error": "storage could not be reached; try again shortly"}), status=503,
                       mimetype="application/json", headers={"Retry-After": "30"})


def _params(req: func.HttpRequest, allowed: frozenset[str]) -> dict[str, str]:
    params = dict(req.params)
    params.pop("code", None)  # the function key, checked by the host before the handler runs
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown parameter '{unknown[0][:40]}'; expected {', '.join(sorted(allowed))}")
    return params


def _raw_filters(params: dict[str, str]) -> dict[str, str | None]:
    return {"week": params.get("week"), "from": params.get("from"), "to": params.get("to"),
            "rule": params.get("rule"), "severity": params.get("severity"), "status": params.get("status"),
            "organiser": params.get("organiser"), "team": params.get("team"), "subject": params.get("subject"),
            "title": params.get("title"), "in_scope": params.get("inScope")}


def _list_findings(req: func.HttpRequest, who: Principal) -> func.HttpResponse:
    params = _params(req, FINDING_PARAMS)
    size = limit("limit", params.get("limit"), default=DEFAULT_PAGE, maximum=q.MAX_PAGE)
    admin = _admin(runtime())
    now = datetime.now(tz=UTC)
    query = q.FindingFilter.parse(_raw_filters(params)).query(admin.zone, now)
    result = q.page(admin.stores.findings.table, query, limit=size, continuation=params.get("continuation"))
    return _json({"items": [q.finding_view(e, now) for e in result.items], "continuation": result.continuation})


def _list_meetings(req: func.HttpRequest, who: Principal) -> func.HttpResponse:
    params = _params(req, MEETING_PARAMS)
    size = limit("limit", params.get("limit"), default=DEFAULT_PAGE, maximum=q.MAX_PAGE)
    admin = _admin(runtime())
    now = datetime.now(tz=UTC)
    chosen = q.MeetingFilter.parse(_raw_filters(params))
    occurrences = None
    if chosen.findings.about_findings:
        fq = chosen.findings.query(admin.zone, now)
        occurrences = {(str(e["PartitionKey"]), str(e.get("OccurrenceId", "")))
                       for e in q.every(admin.stores.findings.table, fq)}
    query = chosen.query(admin.zone, now, None, occurrences)
    result = q.page(admin.stores.meetings.table, query, limit=size, continuation=params.get("continuation"))
    return _json({"items": [q.meeting_view(e) for e in result.items], "continuation": result.continuation})


def _annotate(req: func.HttpRequest, who: Principal) -> func.HttpResponse:
    _params(req, frozenset())
    body = req.get_body()
    if len(body) > MAX_PATCH:
        raise InvalidInput(f"body: larger than {MAX_PATCH} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body: not JSON; expected {\"status\": ..., \"comment\": ..., \"until\": ...}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body: expected a JSON object {\"status\": ..., \"comment\": ..., \"until\": ...}")
    unknown = sorted(set(data) - PATCH_KEYS)
    if unknown:
        raise InvalidInput(f"body: unknown key '{str(unknown[0])[:40]}'; expected status, comment, until")
    for key in PATCH_KEYS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise InvalidInput(f"body: {key}: expected text")
    admin = _admin(runtime())
    now = datetime.now(tz=UTC)
    entity = annotate(admin.stores.findings.table, admin.audit, req.route_params.get("id", ""),
                      status=data.get("status") or "", comment=data.get("comment") or "", by=who.name, now=now,
                      zone=admin.zone, until=day("until", data.get("until")))
    return _json(q.finding_view(entity, now))


GRAPH_BUDGET_SECONDS = 3.0  # an admin request waits this long for a throttled Graph, then answers 503


def _directory(app: Runtime) -> list[Pupil]:
    """The pupils from Graph, waiting at most ``GRAPH_BUDGET_SECONDS`` for throttling (then ``GraphThrottled``:
    503 with Retry-After), never the worker's longer budget."""
    from shared.graph.client import GraphTransport

    groups = app.settings.pupil_group_ids
    if not groups:
        raise InvalidInput("VCAUDIT_PUPIL_GROUP_IDS is not set: no pupils to match consent rows to")
    if app.graph_transport is not None:
        shared = app.graph_transport
        transport = GraphTransport(shared.sender, shared.base_url, retry_budget_seconds=GRAPH_BUDGET_SECONDS)
        return asyncio.run(graph_pupils(transport, groups))

    async def read() -> list[Pupil]:
        from shared.graph.session import graph_transport

        async with graph_transport(app.settings.graph_base_url,
                                   retry_budget_seconds=GRAPH_BUDGET_SECONDS) as transport:
            return await graph_pupils(transport, groups)

    return asyncio.run(read())


def _import_consent(req: func.HttpRequest, who: Principal) -> func.HttpResponse:
    params = _params(req, CONSENT_PARAMS)
    body = req.get_body()
    if not body:
        raise InvalidInput("body: empty; expected the consent form's CSV export")
    if len(body) > MAX_CSV:
        raise InvalidInput(f"body: larger than {MAX_CSV // 1_000_000} MB")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("body: not UTF-8 text") from None
    defaults = Columns()
    columns = Columns(*(params.get(f"{name}Column") or getattr(defaults, name)
                        for name in ("timestamp", "pupil", "parent", "answer")))
    for name, value in zip(("timestamp", "pupil", "parent", "answer"), (columns.timestamp, columns.pupil,
                                                                         columns.parent, columns.answer), strict=True):
        if len(value) > 200:
            raise InvalidInput(f"{name}Column: longer than 200 characters")
    order = choice("dateOrder", params.get("dateOrder"), ("dmy", "mdy")) or "dmy"
    skip = choice("skipUnmatched", params.get("skipUnmatched"), ("true", "false")) == "true"
    confirm = choice("confirmRemovals", params.get("confirmRemovals"), ("true", "false")) == "true"
    app = runtime()
    admin = _admin(app)
    plan = plan_import(text, _directory(app), admin.zone, columns=columns, date_order=order)
    try:
        result = admin.consent.import_plan(plan, source="POST /api/consent", by=who.name,
                                           now=datetime.now(tz=UTC), skip_unmatched=skip, confirm_removals=confirm,
                                           confirm_option="confirmRemovals=true")
    except RemovalsRefused as refused:
        return _json({"error": " ".join(str(refused).split()), "removed": refused.removed,
                      "current": refused.current}, 409)
    except ImportRefused as refused:
        return _json({"error": str(refused), "problems": [{"line": p.line, "kind": p.kind, "message": p.message}
                                                         for p in refused.problems]}, 422)
    return _json({"version": result.version, "rows": result.rows, "consented": result.consented,
                  "refused": result.refused, "duplicates": result.duplicates, "skipped": result.skipped,
                  "notes": result.notes,
                  "skippedRows": [{"line": p.line, "kind": p.kind, "message": p.message} for p in plan.problems]})


@bp.function_name("admin_findings")
@bp.route(route="findings", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def admin_findings(req: func.HttpRequest) -> func.HttpResponse:
    return _guarded(READER, _list_findings, req)


@bp.function_name("admin_meetings")
@bp.route(route="meetings", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def admin_meetings(req: func.HttpRequest) -> func.HttpResponse:
    return _guarded(READER, _list_meetings, req)


@bp.function_name("admin_annotate")
@bp.route(route="findings/{id}", methods=["PATCH"], auth_level=func.AuthLevel.FUNCTION)
def admin_annotate(req: func.HttpRequest) -> func.HttpResponse:
    return _guarded(ADMIN, _annotate, req)


@bp.function_name("admin_consent")
@bp.route(route="consent", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def admin_consent(req: func.HttpRequest) -> func.HttpResponse:
    return _guarded(ADMIN, _import_consent, req)
