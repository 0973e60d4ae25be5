"""CSRF tokens of the dashboard's forms: an HMAC of the session id under the session key.

A token is valid only with the session cookie it was made for (a new login makes new
tokens), so a page of another site can neither read nor forge one; SameSite=Strict on the
cookie and the `Origin` check (`same_origin`) are further lines. Compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request

from webhooks.dashboard.session import Session

FIELD: Final = "csrf"
"""The form field that carries the token."""
_LABEL: Final = b"autorec dashboard csrf v1\0"


def csrf_token(key: bytes, session: Session) -> str:
    """The session's CSRF token."""
    digest = hmac.new(key, _LABEL + session.session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_valid(key: bytes, session: Session, given: str | None) -> bool:
    """Whether `given` is the session's CSRF token."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), csrf_token(key, session).encode())


def same_origin(request: Request) -> bool:
    """False if the browser says the request comes from another origin (`Origin` header)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")
