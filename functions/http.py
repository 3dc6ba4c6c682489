"""Every HTTP answer of the app is built here, so each carries the same safety headers.

``X-Content-Type-Options: nosniff`` stops a browser from second-guessing the declared type: the handshake
echoes a caller-chosen token as ``text/plain`` and must never be rendered as HTML.
"""

from __future__ import annotations

import azure.functions as func

SAFETY_HEADERS = {"X-Content-Type-Options": "nosniff"}


def respond(body: str | bytes = "", *, status: int = 200, mimetype: str = "text/plain", charset: str = "utf-8",
            headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=status, mimetype=mimetype, charset=charset,
                             headers={**SAFETY_HEADERS, **(headers or {})})
