"""The DSL's desk over HTTP: ``/api/desk`` and its pages (``shared/web``).

Anonymous at the Functions level (a browser cannot send a function key): App Service Authentication signs people
in with Entra ID and ``shared.web.roles`` reads their app role; with authentication off, every page is refused.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import azure.functions as func

from shared.runtime import Runtime, runtime
from shared.web.data import Desk, directory_pupils
from shared.web.pages import Request, handle
from shared.web.roles import in_azure

bp = func.Blueprint()

_lock = threading.Lock()
_desks: dict[int, tuple[Runtime, Desk]] = {}


def _desk(app: Runtime) -> Desk:
    with _lock:
        cached = _desks.get(id(app))
        if cached is None or cached[0] is not app:
            watching = in_azure(os.environ) or bool(app.settings.webhook_base_url)
            cached = (app, Desk(app.stores, app.settings, expect_subscriptions=watching,
                                queues=app.queues if watching else None, pupils=lambda: directory_pupils(app)))
            _desks[id(app)] = cached
        return cached[1]


def serve(req: func.HttpRequest) -> func.HttpResponse:
    page, item = req.route_params.get("page", ""), req.route_params.get("item", "")
    path = "/".join(p for p in (page, item) if p)
    request = Request(req.method.upper(), path, dict(req.params), {k.lower(): v for k, v in req.headers.items()},
                      req.get_body() or b"", secure=req.url.lower().startswith("https://"))
    app = runtime()
    clock = app.pipeline_options.get("clock")  # the local stack's and the tests' clock (epoch seconds)
    now = datetime.fromtimestamp(clock(), tz=UTC) if callable(clock) else datetime.now(tz=UTC)
    response = handle(request, _desk(app), os.environ, now)
    charset = "utf-8" if response.content_type.startswith("text/") else None
    return func.HttpResponse(response.body, status_code=response.status, headers=response.headers,
                             mimetype=response.content_type, charset=charset)


@bp.function_name("desk_home")
@bp.route(route="desk", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def desk_home(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req)


@bp.function_name("desk_page")
@bp.route(route="desk/{page}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def desk_page(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req)


@bp.function_name("desk_item")
@bp.route(route="desk/{page}/{item}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def desk_item(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req)
