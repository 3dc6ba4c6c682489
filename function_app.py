"""The Azure Functions entry point: creates the app and registers the blueprints of ``functions/``.

Nothing else lives here; the domain is in ``shared/``.
"""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
