"""The OpenAPI 3.1 document: valid, generated from the models, listing every operation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pydantic import BaseModel
from starlette.responses import Response
from starlette.routing import Mount, Route

from webhooks.api import models
from webhooks.api.models import ErrorOut
from webhooks.api.openapi import openapi_document
from webhooks.api.operation import ApiCall, Operation
from webhooks.api.routes import API_PREFIX, OPERATIONS, api_operations
from webhooks.app import create_app
from worker.settings import Settings


async def fetch_document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    document: dict[str, Any] = answer.json()
    return document


def served_routes(settings: Settings) -> set[tuple[str, str]]:
    """(method, path under /api/v1) of every route the app serves under the API mount."""
    app = create_app(settings)
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == API_PREFIX)
    return {
        (method, route.path)
        for route in mount.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


async def test_the_document_is_valid_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = await fetch_document(client)

    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


async def test_the_document_lists_every_documented_operation_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    document = await fetch_document(client)

    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == {(op.method, op.path) for op in OPERATIONS}
    assert ("GET", "/status") in listed
    assert ("POST", "/tokens") in listed


def test_every_served_route_is_an_operation_and_every_undocumented_one_is_public(
    settings: Settings,
) -> None:
    operations = api_operations()

    assert served_routes(settings) == {(op.method, op.path) for op in operations}
    assert all(op.public for op in operations if not op.in_schema)
    assert all(op.in_schema for op in operations if not op.public)


async def test_the_api_is_secured_by_a_bearer_token_and_the_docs_are_not_listed(
    client: httpx.AsyncClient,
) -> None:
    document = await fetch_document(client)

    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "AUTOREC_API_TOKEN, or AUTOREC_API_READ_TOKEN to read.",
    }
    assert document["security"] == [{"bearer": []}]
    assert document["servers"] == [{"url": "/api/v1"}]
    assert "/docs" not in document["paths"]
    assert "/openapi.json" not in document["paths"]


async def test_schemas_come_from_the_models_and_errors_are_documented(
    client: httpx.AsyncClient,
) -> None:
    document = await fetch_document(client)
    schemas = document["components"]["schemas"]

    token = document["paths"]["/tokens"]["post"]
    assert token["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenRequest"
    }
    assert set(token["responses"]) == {"200", "400", "401", "403", "413", "503"}
    assert token["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    assert set(schemas["TokenRequest"]["properties"]) == {"channel", "uid", "role", "expire_s"}
    assert set(schemas["StatusOut"]["required"]) == set(models.StatusOut.model_fields)
    status = document["paths"]["/status"]["get"]
    assert set(status["responses"]) == {"200", "401", "503"}


async def noop(call: ApiCall) -> Response:
    return Response()


def test_the_document_of_every_route_has_every_model_of_the_design_and_is_valid() -> None:
    document = openapi_document(OPERATIONS)

    validate(document, cls=OpenAPIV31SpecValidator)
    expected: set[type[BaseModel]] = {
        models.RecordRequest, models.OverrideRequest, models.PatchRecordingRequest,
        models.TokenRequest, models.ChannelOut, models.ChannelPage, models.RecordingPage,
        models.RecordingOut, models.RecordingFile, models.AgoraErrorOut, models.OverrideOut,
        models.TokenOut, models.StatusOut, models.NotificationPage, models.NotificationOut,
        models.DeliveryOut, ErrorOut,
    }  # fmt: skip
    assert {m.__name__ for m in expected} <= set(document["components"]["schemas"])
    routes = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert routes == {
        ("GET", "/channels"), ("GET", "/channels/{channel}"),
        ("POST", "/channels/{channel}/recording"), ("DELETE", "/channels/{channel}/recording"),
        ("PATCH", "/channels/{channel}/recording"), ("PUT", "/channels/{channel}/override"),
        ("DELETE", "/channels/{channel}/override"), ("GET", "/recordings"),
        ("GET", "/recordings/{recording}"), ("GET", "/notifications"),
        ("POST", "/notifications/{notification}/retry"), ("POST", "/tokens"), ("GET", "/status"),
    }  # fmt: skip


def test_two_operations_with_one_handler_name_are_refused() -> None:
    with pytest.raises(ValueError, match="share the handler name 'noop'"):
        openapi_document(
            [
                Operation("GET", "/a", noop, summary="a", responses={200: None}),
                Operation("GET", "/b", noop, summary="b", responses={200: None}),
            ]
        )


def test_an_operation_path_with_a_convertor_is_refused() -> None:
    with pytest.raises(ValueError, match="plain"):
        Operation("GET", "/recordings/{id:int}", noop, summary="x", responses={200: None})
