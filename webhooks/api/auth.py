"""Bearer-token auth of the API (design §4): the full token, the optional read token.

    auth = ApiAuth.from_settings(settings)
    access = auth.require(request)              # write = any method but GET and HEAD
    access = auth.require(request, write=True)  # a GET that changes something

Rules, checked in this order:
- `AUTOREC_API_TOKEN` unset (or empty) → 503 naming it: the API is off.
- no `Authorization: Bearer <token>`, or a token that is neither → 401 with
  `WWW-Authenticate: Bearer`.
- the read token (`AUTOREC_API_READ_TOKEN`) on a write → 403.

Tokens are compared in constant time (`hmac.compare_digest`), always against both, so the
answer time tells nothing about either. No token is ever logged or echoed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import SecretStr
from starlette.requests import Request

from webhooks.api.errors import ApiError
from worker.settings import Settings

#: Methods that only read; every other method is a write.
READ_METHODS: Final = frozenset({"GET", "HEAD"})
_REALM: Final = 'Bearer realm="autorec"'
NOT_CONFIGURED: Final = "the API is not configured: set AUTOREC_API_TOKEN"


class Access(StrEnum):
    """What a caller's token allows."""

    FULL = "full"
    """`AUTOREC_API_TOKEN`: everything."""
    READ = "read"
    """`AUTOREC_API_READ_TOKEN`: GET and HEAD only."""


def _token(secret: SecretStr | None) -> bytes | None:
    if secret is None or not secret.get_secret_value():
        return None
    return secret.get_secret_value().encode("utf-8")


def _matches(given: bytes, expected: bytes | None) -> bool:
    # Compare even when unset (against itself), so both comparisons always take place.
    return hmac.compare_digest(given, expected if expected is not None else given + b"\0")


@dataclass(frozen=True, slots=True)
class ApiAuth:
    """The configured tokens (None: unset) and the rules above."""

    full_token: bytes | None
    read_token: bytes | None

    def __repr__(self) -> str:
        return (
            f"ApiAuth(full_token={'set' if self.full_token else None}, "
            f"read_token={'set' if self.read_token else None})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiAuth:
        """The tokens of `AUTOREC_API_TOKEN` and `AUTOREC_API_READ_TOKEN`."""
        return cls(
            full_token=_token(settings.autorec_api_token),
            read_token=_token(settings.autorec_api_read_token),
        )

    @property
    def configured(self) -> bool:
        """Whether the API is on (`AUTOREC_API_TOKEN` is set)."""
        return self.full_token is not None

    def require(self, request: Request, *, write: bool | None = None) -> Access:
        """The caller's access, or ApiError 503/401/403 (see the module docstring).

        `write` defaults to "the method is not GET or HEAD".
        """
        if self.full_token is None:
            raise ApiError(503, NOT_CONFIGURED)
        if write is None:
            write = request.method not in READ_METHODS
        given = _bearer(request)
        if given is None:
            raise ApiError(
                401, "missing bearer token (Authorization: Bearer <token>)", headers=_challenge()
            )
        is_full = _matches(given, self.full_token)
        is_read = _matches(given, self.read_token)
        if is_full:
            return Access.FULL
        if not is_read:
            raise ApiError(401, "invalid bearer token", headers=_challenge("invalid_token"))
        if write:
            raise ApiError(
                403,
                "the read-only token may only read (GET); use AUTOREC_API_TOKEN",
                headers=_challenge("insufficient_scope"),
            )
        return Access.READ


def _bearer(request: Request) -> bytes | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("latin-1")  # the header's raw bytes (Starlette decodes latin-1)


def _challenge(error: str | None = None) -> dict[str, str]:
    value = _REALM if error is None else f'{_REALM}, error="{error}"'
    return {"WWW-Authenticate": value}
