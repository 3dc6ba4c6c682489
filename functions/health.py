"""Health: monitoring status as JSON, 200 when vcaudit is looking and 503 when it may be missing meetings."""

from __future__ import annotations

import json

import azure.functions as func

from functions.http import respond
from shared.health import snapshot
from shared.runtime import runtime

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = snapshot(runtime())
    return respond(json.dumps(report.to_json(), indent=1), status=report.status_code, mimetype="application/json")
