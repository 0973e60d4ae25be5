"""JSON bodies of the API: at most 64 KiB, one object, known keys only, bad fields named."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from pydantic import ValidationError

from tests.support.webhooks import bearer
from webhooks.api.body import MAX_BODY_BYTES
from webhooks.api.errors import invalid_input
from webhooks.api.models import PatchRecordingRequest, RecordRequest, TokenRequest


def padded(size: int) -> bytes:
    """A token request of exactly `size` bytes, padded by an unknown key."""
    head = b'{"channel":"room-1","uid":42,"pad":"'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_a_body_over_64_kib_answers_413(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/v1/tokens", content=padded(MAX_BODY_BYTES + 1), headers=bearer()
    )

    assert answer.status_code == 413
    assert answer.json() == {"error": f"request body is larger than {MAX_BODY_BYTES} bytes"}


async def test_a_streamed_body_over_64_kib_answers_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * (MAX_BODY_BYTES // 4)

    answer = await client.post("/api/v1/tokens", content=chunks(), headers=bearer())

    assert answer.status_code == 413


async def test_a_body_of_exactly_64_kib_is_read(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", content=padded(MAX_BODY_BYTES), headers=bearer())

    assert answer.status_code == 400  # read, then refused for its unknown key
    assert answer.json()["field"] == "pad"


@pytest.mark.parametrize("body", [b"[]", b'"room-1"', b"42", b"null"])
async def test_a_body_that_is_not_a_json_object_answers_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.post("/api/v1/tokens", content=body, headers=bearer())

    assert (answer.status_code, answer.json()) == (400, {"error": "body must be a JSON object"})


async def test_malformed_json_answers_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", content=b'{"channel": ', headers=bearer())

    assert (answer.status_code, answer.json()) == (400, {"error": "body is not valid JSON"})


async def test_an_unknown_key_answers_400_naming_it(client: httpx.AsyncClient) -> None:
    body = {"channel": "room-1", "uid": 42, "colour": "blue"}

    answer = await client.post("/api/v1/tokens", json=body, headers=bearer())

    assert answer.status_code == 400
    assert answer.json() == {"error": "colour: unknown field", "field": "colour"}


async def test_an_empty_body_is_the_empty_object(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", headers=bearer())

    assert answer.status_code == 400
    assert answer.json() == {"error": "channel: Field required", "field": "channel"}


def test_a_nested_field_is_named_by_its_dotted_path() -> None:
    with pytest.raises(ValidationError) as caught:
        RecordRequest.model_validate({"transcoding": {"width": "wide"}})

    error = invalid_input(caught.value)

    assert (error.status, error.field) == (400, "transcoding.width")
    assert error.error.startswith("transcoding.width: ")
    assert "\n" not in error.error
    assert "pydantic.dev" not in error.error


def test_a_list_position_is_named_in_brackets() -> None:
    with pytest.raises(ValidationError) as caught:
        RecordRequest.model_validate({"subscribe_audio_uids": [42, "not-a-uid"]})

    assert invalid_input(caught.value).field == "subscribe_audio_uids[1]"


def test_an_unknown_nested_key_is_named_by_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        RecordRequest.model_validate({"transcoding": {"widht": 640}})

    error = invalid_input(caught.value)

    assert error.body() == {
        "error": "transcoding.widht: unknown field",
        "field": "transcoding.widht",
    }


def test_the_refused_value_is_not_echoed() -> None:
    secret_looking = "s3cr3t-value-that-must-not-echo"
    with pytest.raises(ValidationError) as caught:
        TokenRequest.model_validate({"channel": "room-1", "uid": 42, "role": secret_looking})

    error = invalid_input(caught.value)

    assert error.field == "role"
    assert secret_looking not in orjson.dumps(error.body()).decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"layout": {"mixed_video_layout": 3, "layout_config": [{"x_axis": 2, "y_axis": 0,
                                                                    "width": 1, "height": 1}]}},
            "layout.layout_config[0].x_axis",
        ),
        ({"subscribe": {"audio_uids": [1], "unsubscribe_audio_uids": [2]}},
         "subscribe.unsubscribe_audio_uids"),
        ({"web": {"on_hold": True}, "subscribe": {"audio_uids": [1]}}, "web"),
    ],
)  # fmt: skip
def test_a_cross_field_rule_of_a_recording_change_names_its_field(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PatchRecordingRequest.model_validate(body)

    error = invalid_input(caught.value)

    assert error.field == field
    assert error.error.startswith(f"{field}: ")
