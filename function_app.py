"""The Azure Functions entry point: creates the app and registers the blueprints of ``functions/``.

Nothing else lives here; the domain is in ``shared/``.
"""

from __future__ import annotations

import azure.functions as func

from functions.admin_api import bp as admin_api
from functions.graph_webhooks import bp as graph_webhooks
from functions.health import bp as health
from functions.mail import bp as mail
from functions.queue_workers import bp as queue_workers
from functions.timers import bp as timers
from functions.web import bp as web

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (graph_webhooks, queue_workers, timers, mail, admin_api, health, web):
    app.register_functions(blueprint)
