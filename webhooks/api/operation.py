"""One API operation: its handler and everything the OpenAPI document says about it.

A route module declares its operations beside their handlers, as a tuple `OPERATIONS`, and
`webhooks/api/routes.py` lists that tuple; the routes and the OpenAPI document are both built
from it, so a route cannot exist undocumented:

    async def create_token(call: ApiCall) -> TokenOut:
        body = await call.body(TokenRequest)
        ...

    OPERATIONS: Final = (
        Operation(
            "POST", "/tokens", create_token,
            summary="Generate an RTC token",
            request=TokenRequest,
            responses={200: TokenOut},
        ),
    )

A handler gets an `ApiCall` (request, settings, Redis, the caller's access) after the bearer
token and the path's `{channel}` were checked, and returns a model (answered 200) or any
Starlette `Response` (`json_reply(model, status=202)`). It raises `ApiError` to answer an
error; a Redis error becomes 503 `{"error": "Redis unavailable"}`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from webhooks.api.auth import READ_METHODS, Access
from webhooks.api.body import read_model
from webhooks.api.params import QueryParam
from worker.settings import Settings

M = TypeVar("M", bound=BaseModel)

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Handler = Callable[["ApiCall"], Awaitable[Response | BaseModel]]
"""An operation's code: the call in, a model (200) or a Response out."""

_PATH_PARAM: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One API request as its handler sees it (auth and path parameters already checked)."""

    request: Request
    settings: Settings
    access: Access | None
    """The caller's token (None on a public operation: the docs, the OpenAPI document)."""

    @property
    def redis(self) -> aioredis.Redis[bytes]:
        """The process's Redis client (lifespan state)."""
        redis: aioredis.Redis[bytes] = self.request.state.redis
        return redis

    def path(self, name: str) -> str:
        """A path parameter, e.g. `call.path("channel")` (already a valid channel name)."""
        value: str = self.request.path_params[name]
        return value

    async def body(self, model: type[M]) -> M:
        """The JSON body validated into `model` (ApiError 400/413 otherwise)."""
        return await read_model(self.request, model)


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path under `/api/v1`, and its OpenAPI description.

    `path` is relative to `/api/v1` with `{name}` parameters (plain names, no convertors);
    `responses` maps each success status to its model (None: no body). The error answers
    that the framework itself gives (400 bad input, 401, 403 read token on a write, 413,
    503) are documented automatically; declare others (404, 409) with `ErrorOut`.
    """

    method: Method
    path: str
    handler: Handler
    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    """The body model (the handler reads it with `call.body(model)`)."""
    query: tuple[QueryParam, ...] = ()
    tags: tuple[str, ...] = ()
    description: str | None = None
    """Longer text for the document; default: the handler's docstring."""
    write: bool | None = None
    """Whether the read token is refused; default: any method but GET."""
    public: bool = False
    """Served without a token (only for what holds no secret: the docs)."""
    in_schema: bool = True
    """Listed in the OpenAPI document."""

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"operation path must start with '/': {self.path!r}")
        if "{" in _PATH_PARAM.sub("", self.path) or "}" in _PATH_PARAM.sub("", self.path):
            raise ValueError(f"path parameters must be plain {{name}}: {self.path!r}")

    @property
    def operation_id(self) -> str:
        """The handler's name: unique across the API."""
        return self.handler.__name__

    @property
    def is_write(self) -> bool:
        """Whether the read-only token is refused."""
        return self.write if self.write is not None else self.method not in READ_METHODS

    @property
    def path_params(self) -> tuple[str, ...]:
        """Names of the path's `{parameters}`, in order."""
        return tuple(_PATH_PARAM.findall(self.path))

    @property
    def text(self) -> str | None:
        """The description: given, or the handler's docstring."""
        if self.description is not None:
            return self.description
        doc = self.handler.__doc__
        return " ".join(doc.split()) if doc else None


def json_reply(model: BaseModel, status: int = 200) -> Response:
    """A model as a JSON answer (RFC 3339 times, null for unknown values)."""
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")
