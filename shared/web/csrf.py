"""Cross-site request forgery protection for every form of the desk: a signed double-submit token.

Each browser gets a random nonce in a cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS). Every
form carries ``HMAC(key, nonce | signed-in name)``; a POST is accepted only when the cookie's nonce, the viewer
and the form's token agree (OWASP's "signed double-submit cookie"). The key is the deployment's, kept in its
storage, never in the repository. A POST whose ``Origin`` names another site is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

COOKIE = "vcaudit-csrf"
FIELD = "csrf"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token(key: bytes, nonce: str, who: str) -> str:
    return hmac.new(key, f"{nonce}|{who}".encode(), hashlib.sha256).hexdigest()


def valid(key: bytes, nonce: str | None, who: str, submitted: str | None) -> bool:
    if not nonce or not submitted or len(submitted) > 128:
        return False
    return hmac.compare_digest(token(key, nonce, who).encode(), submitted.encode())


def same_origin(origin: str | None, host: str | None) -> bool:
    """A missing Origin is allowed (the token decides); a present one must name this host."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def cookie_header(nonce: str, *, secure: bool, path: str) -> str:
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={nonce}; Path={path}; HttpOnly; SameSite=Strict{flags}"
