"""`POST /api/v1/tokens`: an AccessToken2 ("007") RTC token, the plugins' "Generate token".

Token building is pure (`worker.agora.token`, design §3): no Redis, no Agora call. The app
id and certificate stay on the server; 503 names the variable that is missing. The token is
the answer's purpose, so it is returned, but never logged.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final

from webhooks.api.errors import ApiError
from webhooks.api.models import TokenOut, TokenRequest
from webhooks.api.operation import ApiCall, Operation
from worker.agora.token import RtcRole, build_rtc_token
from worker.settings import Settings

_ROLES: Final = {"publisher": RtcRole.PUBLISHER, "subscriber": RtcRole.SUBSCRIBER}


def _credentials(settings: Settings) -> tuple[str, str]:
    """The app id and certificate, or 503 naming the one that is missing."""
    if not settings.agora_app_id:
        raise ApiError(503, "tokens are not configured: set AGORA_APP_ID")
    certificate = settings.agora_app_certificate
    if certificate is None or not certificate.get_secret_value():
        raise ApiError(503, "tokens are not configured: set AGORA_APP_CERTIFICATE")
    return settings.agora_app_id, certificate.get_secret_value()


async def create_token(call: ApiCall) -> TokenOut:
    """An RTC token for `uid` in `channel`, valid `expire_s` seconds from now (privileges too).

    A publisher may join and publish; a subscriber may join (the two differ only with co-host
    authentication). Its `expires_at` is when Agora stops accepting it.
    """
    app_id, certificate = _credentials(call.settings)
    body = await call.body(TokenRequest)
    issue_ts = int(time.time())
    try:
        token = build_rtc_token(
            app_id,
            certificate,
            body.channel,
            body.uid,
            _ROLES[body.role],
            body.expire_s,
            body.expire_s,
            issue_ts=issue_ts,
        )
    except ValueError as exc:
        raise _config_error(str(exc)) from None
    return TokenOut(token=token, expires_at=datetime.fromtimestamp(issue_ts + body.expire_s, UTC))


def _config_error(message: str) -> ApiError:
    """The builder refused a configured value (the body was validated): name the variable."""
    for argument, variable in (
        ("app_certificate", "AGORA_APP_CERTIFICATE"),
        ("app_id", "AGORA_APP_ID"),
    ):
        if message.startswith(argument):
            return ApiError(503, f"tokens are not configured: {variable}{message[len(argument) :]}")
    return ApiError(400, message)


OPERATIONS: Final = (
    Operation(
        "POST",
        "/tokens",
        create_token,
        summary="Generate an RTC token",
        request=TokenRequest,
        responses={200: TokenOut},
        tags=("tokens",),
    ),
)
