"""The dashboard's login session: a signed cookie that holds the access level, never a token.

    sessions = Sessions(ApiAuth.from_settings(settings))
    access = sessions.check_token(b"...")          # Access.FULL / Access.READ / None
    cookie = sessions.issue(access)                  # the cookie's value
    session = sessions.read(request)                 # Session, or None (absent, forged, expired)

The signing key is an HMAC of both configured API tokens under a fixed label: every webhook
replica derives the same key, changing either token logs every session out, and the cookie
alone reveals nothing about a token. The cookie carries the access level and a random
session id (the CSRF tokens are tied to it); `itsdangerous` signs it with a timestamp, so it
expires server-side after `SESSION_MAX_AGE_S` whatever the browser keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from webhooks.api.auth import Access, ApiAuth

COOKIE: Final = "autorec_dashboard"
COOKIE_PATH: Final = "/dashboard"
SESSION_MAX_AGE_S: Final = 12 * 3600
_KEY_LABEL: Final = b"autorec dashboard session key v1"
_SALT: Final = "autorec.dashboard.session"


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser."""

    access: Access
    session_id: str
    """Random, per login: the CSRF tokens are bound to it."""

    @property
    def can_act(self) -> bool:
        """Whether the buttons work (the full token logged in)."""
        return self.access is Access.FULL


def derive_key(auth: ApiAuth) -> bytes:
    """The signing key: HMAC-SHA256 over both tokens, keyed by the full token."""
    assert auth.full_token is not None
    material = _KEY_LABEL + b"\0" + (auth.read_token or b"")
    return hmac.new(auth.full_token, material, hashlib.sha256).digest()


class Sessions:
    """Issues and reads session cookies for the configured tokens."""

    def __init__(self, auth: ApiAuth) -> None:
        self.auth = auth
        self.key = derive_key(auth) if auth.configured else None
        self._serializer = (
            URLSafeTimedSerializer(self.key, salt=_SALT) if self.key is not None else None
        )

    def __repr__(self) -> str:
        return f"Sessions(configured={self.configured})"

    @property
    def configured(self) -> bool:
        """Whether logging in is possible (`AUTOREC_API_TOKEN` is set)."""
        return self._serializer is not None

    def check_token(self, given: bytes) -> Access | None:
        """The access a typed token grants; None if it is neither token (constant time)."""
        full, read = self.auth.full_token, self.auth.read_token
        if full is None or not given:
            return None
        is_full = hmac.compare_digest(given, full)
        is_read = hmac.compare_digest(given, read if read is not None else given + b"\0")
        if is_full:
            return Access.FULL
        return Access.READ if is_read else None

    def issue(self, access: Access) -> str:
        """A fresh session's cookie value."""
        assert self._serializer is not None
        return str(self._serializer.dumps({"a": access.value, "s": secrets.token_urlsafe(16)}))

    def read(self, request: Request) -> Session | None:
        """The request's session; None without a valid, unexpired cookie."""
        value = request.cookies.get(COOKIE)
        if value is None or self._serializer is None:
            return None
        try:
            data = self._serializer.loads(value, max_age=SESSION_MAX_AGE_S)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        access, session_id = data.get("a"), data.get("s")
        if access not in (Access.FULL.value, Access.READ.value) or not isinstance(session_id, str):
            return None
        return Session(access=Access(access), session_id=session_id)


def set_cookie(response: Response, value: str, *, secure: bool) -> None:
    """Put the session cookie on `response` (HttpOnly, SameSite=Strict, /dashboard only)."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_MAX_AGE_S,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, *, secure: bool) -> None:
    """Remove the session cookie."""
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict"
    )
