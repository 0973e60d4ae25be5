"""The OpenAPI 3.1 document of `/api/v1`, generated from the operations and their models.

Schemas come from pydantic (`models_json_schema`, JSON Schema 2020-12, which OpenAPI 3.1
uses as is) under `#/components/schemas/`; paths, parameters and answers from each
`Operation`. The framework's own error answers (400, 401, 403, 413, 503) are added to every
operation they can happen on. The document holds no secret; it is served without a token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

import orjson
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.responses import Response

from webhooks.api.models import ErrorOut
from webhooks.api.operation import ApiCall, Operation
from webhooks.api.params import CHANNEL_MAX_BYTES, CHANNEL_PATTERN, NOTIFICATION_ID_PATTERN

OPENAPI_VERSION: Final = "3.1.0"
REF_TEMPLATE: Final = "#/components/schemas/{model}"
SECURITY_SCHEME: Final = "bearer"
TITLE: Final = "autorec API"
DESCRIPTION: Final = (
    "Manual control of automatic Agora Cloud Recording: overrides, recordings, tokens, "
    "status, outgoing notifications. Authenticate with `Authorization: Bearer <AUTOREC_API_TOKEN>` "
    '(`AUTOREC_API_READ_TOKEN` may only read). Errors are `{"error", "field"}`.'
)

_PATH_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "channel": {
        "description": "Channel name (URL-encoded).",
        "schema": {"type": "string", "maxLength": CHANNEL_MAX_BYTES, "pattern": CHANNEL_PATTERN},
    },
    "notification": {
        "description": "The notification's id (its `webhook-id`).",
        "schema": {"type": "string", "pattern": NOTIFICATION_ID_PATTERN},
    },
}
_ERRORS: Final = {
    400: "Bad input: `field` names it.",
    401: "Missing or wrong bearer token.",
    403: "The read-only token on a write.",
    413: "Body over 64 KiB.",
    503: "The API is not configured (AUTOREC_API_TOKEN), or Redis is unavailable.",
}


def _package_version() -> str:
    try:
        return version("autorec")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0"


def _error_statuses(operation: Operation) -> list[int]:
    statuses = []
    if operation.request is not None or operation.query or operation.path_params:
        statuses.append(400)
    if not operation.public:
        statuses.append(401)
        if operation.is_write:
            statuses.append(403)
    if operation.request is not None:
        statuses.append(413)
    if not operation.public:
        statuses.append(503)
    return statuses


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorOut, "serialization"): None}
    for operation in operations:
        if operation.request is not None:
            wanted[operation.request, "validation"] = None
        for model in operation.responses.values():
            if model is not None:
                wanted[model, "serialization"] = None
    return list(wanted)


def _json(ref: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": ref}}


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    parameters = []
    for name in operation.path_params:
        known = _PATH_PARAMETERS.get(name, {"schema": {"type": "string"}})
        parameters.append({"name": name, "in": "path", "required": True, **known})
    parameters.extend(param.openapi() for param in operation.query)
    return parameters


def _operation(
    operation: Operation, refs: Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]]
) -> dict[str, Any]:
    error_ref = refs[ErrorOut, "serialization"]
    responses: dict[str, Any] = {}
    for status in sorted({*operation.responses, *_error_statuses(operation)}):
        model = operation.responses.get(status)
        answer: dict[str, Any] = {"description": _ERRORS.get(status, HTTPStatus(status).phrase)}
        if status in operation.responses:
            answer["description"] = HTTPStatus(status).phrase
            if model is not None:
                answer["content"] = _json(refs[model, "serialization"])
        else:
            answer["content"] = _json(error_ref)
        responses[str(status)] = answer
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": responses,
    }
    if operation.text:
        document["description"] = operation.text
    if operation.tags:
        document["tags"] = list(operation.tags)
    parameters = _parameters(operation)
    if parameters:
        document["parameters"] = parameters
    if operation.request is not None:
        required = any(f.is_required() for f in operation.request.model_fields.values())
        document["requestBody"] = {
            "required": required,
            "content": _json(refs[operation.request, "validation"]),
        }
    if operation.public:
        document["security"] = []
    return document


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the operations listed in the schema."""
    listed = [operation for operation in operations if operation.in_schema]
    _check_unique(listed)
    refs, top = models_json_schema(_models(listed), ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for operation in listed:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": _package_version(), "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "AUTOREC_API_TOKEN, or AUTOREC_API_READ_TOKEN to read.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }


def _check_unique(operations: Sequence[Operation]) -> None:
    seen_ids: set[str] = set()
    seen_routes: set[tuple[str, str]] = set()
    for operation in operations:
        if operation.operation_id in seen_ids:
            raise ValueError(f"two operations share the handler name {operation.operation_id!r}")
        if (operation.method, operation.path) in seen_routes:
            raise ValueError(f"two operations for {operation.method} {operation.path}")
        seen_ids.add(operation.operation_id)
        seen_routes.add((operation.method, operation.path))


def openapi_operation(document: dict[str, Any]) -> Operation:
    """`GET /openapi.json`: the document (public: it holds no secret)."""
    body = orjson.dumps(document)

    async def openapi_json(call: ApiCall) -> Response:
        """The OpenAPI 3.1 document of this API."""
        return Response(body, media_type="application/json")

    return Operation(
        "GET",
        "/openapi.json",
        openapi_json,
        summary="OpenAPI document",
        responses={200: None},
        public=True,
        in_schema=False,
    )
