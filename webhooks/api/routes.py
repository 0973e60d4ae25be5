"""Everything mounted at `/api/v1`: the operations of every route module, docs, OpenAPI.

To add operations, declare `OPERATIONS` beside the handlers in a module of this package and
list it in `OPERATIONS` below; its routes and its OpenAPI entries follow. Each request to an
operation is checked in this order: bearer token (503/401/403, `auth.py`), the path's
`{channel}` (400), then the handler runs; a Redis error in it answers 503
`{"error": "Redis unavailable"}`.

    Starlette(routes=[Mount(API_PREFIX, routes=api_routes(settings))],
              exception_handlers={**API_EXCEPTION_HANDLERS, ...})
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ExceptionHandler

from webhooks.api import channels, docs, notifications, recordings, status, tokens
from webhooks.api.auth import ApiAuth
from webhooks.api.errors import ApiError, api_error_response
from webhooks.api.openapi import openapi_document, openapi_operation
from webhooks.api.operation import ApiCall, Operation, json_reply
from webhooks.api.params import check_channel
from worker.settings import Settings

logger = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v1"

#: The documented operations of the API, module by module.
OPERATIONS: Final[tuple[Operation, ...]] = (
    *channels.OPERATIONS,
    *recordings.OPERATIONS,
    *notifications.OPERATIONS,
    *status.OPERATIONS,
    *tokens.OPERATIONS,
)

#: Exception handlers the app registers for the API.
API_EXCEPTION_HANDLERS: Final[Mapping[type[Exception], ExceptionHandler]] = {
    ApiError: api_error_response,
}

REDIS_UNAVAILABLE: Final = "Redis unavailable"


def _endpoint(
    operations: Mapping[str, Operation], settings: Settings, auth: ApiAuth
) -> Callable[[Request], Awaitable[Response]]:
    """One path's endpoint: pick the method's operation, check, run, answer."""

    async def endpoint(request: Request) -> Response:
        operation = operations[request.method if request.method != "HEAD" else "GET"]
        access = None if operation.public else auth.require(request, write=operation.is_write)
        if "channel" in operation.path_params:
            check_channel(request.path_params["channel"])
        try:
            result = await operation.handler(ApiCall(request, settings, access))
        except RedisError as exc:
            logger.warning(
                "API %s %s: Redis unavailable (%s)",
                operation.method,
                operation.path,
                type(exc).__name__,
            )
            raise ApiError(503, REDIS_UNAVAILABLE) from exc
        return result if isinstance(result, Response) else json_reply(result)

    return endpoint


def _by_path(operations: Sequence[Operation]) -> dict[str, dict[str, Operation]]:
    paths: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        methods = paths.setdefault(operation.path, {})
        if operation.method in methods:
            raise ValueError(f"two operations for {operation.method} {operation.path}")
        methods[operation.method] = operation
    return paths


def api_operations() -> tuple[Operation, ...]:
    """Every operation served under `/api/v1`, the undocumented ones (docs) included."""
    document = openapi_document(OPERATIONS)
    return (*OPERATIONS, openapi_operation(document), *docs.OPERATIONS)


def api_routes(settings: Settings) -> list[BaseRoute]:
    """The routes to mount at `/api/v1`, for the configured tokens."""
    auth = ApiAuth.from_settings(settings)
    routes: list[BaseRoute] = [
        Route(path, _endpoint(methods, settings, auth), methods=list(methods))
        for path, methods in _by_path(api_operations()).items()
    ]
    routes.append(docs.assets_mount())
    return routes
