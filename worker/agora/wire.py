"""Request validation and encoding: everything is checked in its wire form before sending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from worker.agora.classify import Endpoint
from worker.agora.errors import AgoraValidationError
from worker.agora.models.common import (
    WIRE_CONTEXT,
    FieldRuleError,
    RecordingMode,
    channel_name_problem,
)

_Model = TypeVar("_Model", bound=BaseModel)
PATH_ID_MAX_CHARS = 1024
PATH_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+=")


def encode_body(
    endpoint: Endpoint,
    model: type[_Model],
    cname: str,
    uid: str | int,
    client_request: BaseModel,
) -> _Model:
    """The envelope, validated from its wire form so nothing unchecked is ever sent."""
    wire: dict[str, Any] = {
        "cname": cname,
        "uid": uid,
        "clientRequest": client_request.model_dump(
            mode="json", by_alias=True, exclude_none=True, context=WIRE_CONTEXT
        ),
    }
    try:
        return model.model_validate(wire)
    except ValidationError as exc:
        raise validation_error(endpoint, exc) from None


def wire_bytes(body: BaseModel) -> bytes:
    """The JSON bytes sent for `body` (camelCase aliases, no nulls, secrets revealed)."""
    return orjson.dumps(
        body.model_dump(mode="json", by_alias=True, exclude_none=True, context=WIRE_CONTEXT)
    )


def validation_error(endpoint: Endpoint, exc: ValidationError) -> AgoraValidationError:
    """The first problem of a pydantic error, named by its wire path (never its value)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif part not in ("web_recorder_service", "rtmp_publish_service"):
            parts.append(part)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldRuleError):
        return AgoraValidationError(
            ".".join([*parts, cause.field]), cause.problem, endpoint=endpoint
        )
    problem = str(error["msg"]).removeprefix("Value error, ")
    return AgoraValidationError(".".join(parts) or "body", problem, endpoint=endpoint)


def check_rule(endpoint: Endpoint, rule: Callable[[], None]) -> None:
    """Run a cross-field rule; its FieldRuleError becomes AgoraValidationError."""
    try:
        rule()
    except FieldRuleError as exc:
        raise AgoraValidationError(exc.field, exc.problem, endpoint=endpoint) from None


def check_cname(endpoint: Endpoint, cname: str, mode: RecordingMode) -> None:
    """Refuse a `cname` that is not valid for `mode`."""
    problem = channel_name_problem(cname, mode)
    if problem is not None:
        raise AgoraValidationError("cname", problem, endpoint=endpoint)


def check_path_id(endpoint: Endpoint, field: str, value: str) -> None:
    """Refuse an id that cannot appear in a REST path as it is."""
    if not value or len(value) > PATH_ID_MAX_CHARS or set(value) - PATH_ID_CHARS:
        raise AgoraValidationError(
            field, "must be 1..1024 characters of letters, digits and -_.~+=", endpoint=endpoint
        )
