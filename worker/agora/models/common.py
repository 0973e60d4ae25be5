"""Shared pieces of the Agora wire models: base classes, secrets, uids, recording modes."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
)
from pydantic.alias_generators import to_camel

UID_MAX = 2**32 - 1
ALL_STREAMS = "#allstream#"
MASK = "**********"
WIRE_CONTEXT: dict[str, bool] = {"reveal_secrets": True}
"""Serialization context under which secrets are written in clear (request bodies only)."""

_CHANNEL_NAME = re.compile(r"[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+")
_CHANNEL_NAME_MAX_BYTES = 63
_WEB_CNAME_MAX_BYTES = 1024


class RecordingMode(StrEnum):
    """Cloud Recording mode, the `{mode}` of the REST paths."""

    INDIVIDUAL = "individual"
    MIX = "mix"
    WEB = "web"


class FieldRuleError(ValueError):
    """A cross-field rule broken inside one model; `field` is the wire name it concerns."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class WireModel(BaseModel):
    """A request object: camelCase on the wire, unknown fields refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )


class ResponseModel(BaseModel):
    """An answer object: camelCase on the wire, unknown fields ignored, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )


def _reveal(value: SecretStr, info: SerializationInfo) -> str:
    context: Any = info.context
    if isinstance(context, dict) and context.get("reveal_secrets") is True:
        return value.get_secret_value()
    return MASK


WireSecret = Annotated[SecretStr, PlainSerializer(_reveal, return_type=str)]
"""A secret field: masked in repr and ordinary dumps, in clear only under `WIRE_CONTEXT`."""


def check_uid(value: str | int) -> str:
    """A recorder or subscriber uid as Agora wants it: a decimal string in 1..2^32-1."""
    if isinstance(value, bool):
        raise ValueError("uid must be a decimal integer string")
    text = str(value)
    if not (text.isascii() and text.isdigit()) or str(int(text)) != text:
        raise ValueError("must be a decimal integer string without leading zeros")
    if not 1 <= int(text) <= UID_MAX:
        raise ValueError(f"must be in 1..{UID_MAX}")
    return text


def check_stream_uid(value: str) -> str:
    """A subscribe-list entry: a uid string or `#allstream#`."""
    return value if value == ALL_STREAMS else check_uid(value)


def channel_name_problem(cname: str, mode: RecordingMode | None) -> str | None:
    """Why `cname` is not valid for `mode` (None: valid); web mode only needs a short label."""
    size = len(cname.encode("utf-8"))
    if mode is RecordingMode.WEB:
        if not cname or size > _WEB_CNAME_MAX_BYTES:
            return f"must be 1..{_WEB_CNAME_MAX_BYTES} bytes"
        if not cname.isprintable():
            return "must not contain control characters"
        return None
    if not cname or size > _CHANNEL_NAME_MAX_BYTES:
        return f"must be 1..{_CHANNEL_NAME_MAX_BYTES} bytes (an RTC channel name)"
    if not _CHANNEL_NAME.fullmatch(cname):
        return "may hold only letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,"
    return None


def _int_to_str(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Uid = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(check_uid)]
"""A uid field: decimal string in 1..2^32-1."""
StreamUid = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(check_stream_uid)]
"""A subscribe-list entry: a uid or `#allstream#`."""


def secret_values(model: BaseModel) -> list[str]:
    """Every non-empty SecretStr value inside `model` (for redaction of server echoes)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(model)
    return found
