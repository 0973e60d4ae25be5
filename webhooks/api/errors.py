"""Errors of the app-facing API: one exception, its JSON answer, and bad input named by field.

    ApiError        status, error (one line), field (dotted path of the input at fault)

Every `/api/v1` failure is answered `{"error": "...", "field": "..."}`, `field` only when one
input is at fault (design §4). Messages never contain a secret or a pydantic URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """An API request answered with an error.

    `status` is the HTTP status, `error` the one-line message, `field` the dotted path of the
    input at fault (`transcoding.width`, `channel`, `wait_s`) or None; `headers` are added to
    the answer (e.g. `WWW-Authenticate`).
    """

    def __init__(
        self,
        status: int,
        error: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        """The JSON answer: `error`, and `field` when one is at fault."""
        if self.field is None:
            return {"error": self.error}
        return {"error": self.error, "field": self.field}


async def api_error_response(request: Request, exc: Exception) -> Response:
    """Starlette exception handler of ApiError."""
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def invalid_input(exc: ValidationError, *, status: int = 400) -> ApiError:
    """The first error of `exc` as an ApiError naming the field and the reason in one line.

    The field is a dotted path with list positions in brackets (`transcoding.width`,
    `layout.layout_config[0].uid`); an error of the whole body has none. A cross-field rule
    raised as a ValueError with `field` (and `problem` or `reason`) attributes, like
    `worker.state.changes`' and `worker.policies.overlay`'s, names that field. The input
    value is never echoed.
    """
    details = exc.errors(include_url=False, include_input=False, include_context=True)
    if not details:  # pragma: no cover - pydantic never raises an empty ValidationError
        return ApiError(status, "invalid input")
    detail = details[0]
    parts = _path(detail)
    reason = _reason(detail)
    cause = (detail.get("ctx") or {}).get("error")
    rule_field = getattr(cause, "field", None)
    rule_reason = getattr(cause, "problem", None) or getattr(cause, "reason", None)
    if isinstance(rule_field, str) and rule_field and isinstance(rule_reason, str):
        parts.append(rule_field)
        reason = rule_reason
    field = ".".join(parts) or None
    return ApiError(status, f"{field}: {reason}" if field else reason, field)


def _path(detail: ErrorDetails) -> list[str]:
    parts: list[str] = []
    for part in detail["loc"]:
        if isinstance(part, int) and parts:
            parts[-1] = f"{parts[-1]}[{part}]"
        else:
            parts.append(str(part))
    return parts


def _reason(detail: ErrorDetails) -> str:
    if detail["type"] == "extra_forbidden":
        return "unknown field"
    message = str(detail["msg"]).removeprefix("Value error, ")
    return " ".join(message.split())
