"""JSON request bodies of the API: at most 64 KiB, one JSON object, validated into a model.

    body = await read_model(request, TokenRequest)

413 over the limit (a declared `Content-Length` is refused before reading), 400 for anything
that is not a JSON object, 400 naming the field for a value the model refuses or a key it does
not know. An empty body is the empty object, so `POST …/recording` works without one.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from webhooks.api.errors import ApiError, invalid_input
from webhooks.errors import BodyTooLarge
from webhooks.receive import ClientDisconnected, read_body

#: Largest accepted request body (design §4, as for the webhooks).
MAX_BODY_BYTES: Final = 64 * 1024

M = TypeVar("M", bound=BaseModel)


async def read_json_object(
    request: Request, *, limit_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """The body as a JSON object ({} when empty); ApiError 413 or 400 otherwise."""
    try:
        raw = await read_body(request.scope, request.receive, limit_bytes=limit_bytes)
    except BodyTooLarge:
        raise ApiError(413, f"request body is larger than {limit_bytes} bytes") from None
    except ClientDisconnected:
        raise ApiError(400, "the client went away before sending its body") from None
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


async def read_model(request: Request, model: type[M], *, limit_bytes: int = MAX_BODY_BYTES) -> M:
    """The body validated into `model`; ApiError 413 or 400 (naming the field) otherwise."""
    data = await read_json_object(request, limit_bytes=limit_bytes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None
