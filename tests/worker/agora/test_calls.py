"""Calls are built without I/O: percent-quoted paths, the wire body and the secrets inside it."""

from __future__ import annotations

import orjson
import pytest

from tests.support.agora import builders
from tests.support.agora.harness import APP_ID, RECORDER, ROOM
from worker.agora import AgoraValidationError, Endpoint
from worker.agora.calls import RecordingPaths, query_call, start_call, user_list_call
from worker.agora.models import RecordingMode

PATHS = RecordingPaths(APP_ID)
ROOT = f"/v1/apps/{APP_ID}/cloud_recording"


def test_every_id_in_a_path_is_percent_quoted() -> None:
    assert PATHS.session("r/1", "s 1") == f"{ROOT}/resourceid/r%2F1/sid/s%201"
    assert PATHS.user_list("a b") == f"/dev/v1/channel/user/{APP_ID}/a%20b"


@pytest.mark.parametrize("app_id", ["", "abc/def"])
def test_an_app_id_that_cannot_stand_in_a_path_is_refused(app_id: str) -> None:
    with pytest.raises(ValueError, match="app_id"):
        RecordingPaths(app_id)


def test_a_start_call_carries_its_wire_body_and_the_secrets_in_it() -> None:
    call = start_call(
        PATHS,
        resource_id="rid",
        cname=ROOM,
        uid=RECORDER,
        mode=RecordingMode.MIX,
        client_request=builders.mix_start(token="token-0123456789"),
    )
    assert call.body is not None
    body = orjson.loads(call.body)
    assert (call.endpoint, call.method, call.path) == (
        Endpoint.START,
        "POST",
        f"{ROOT}/resourceid/rid/mode/mix/start",
    )
    assert (body["cname"], body["uid"]) == (ROOM, str(RECORDER))
    assert body["clientRequest"]["storageConfig"]["secretKey"] == builders.SECRET_KEY
    assert {builders.SECRET_KEY, "token-0123456789"} <= set(call.secrets)


def test_a_bad_field_is_refused_by_its_wire_name() -> None:
    with pytest.raises(AgoraValidationError) as caught:
        query_call(PATHS, resource_id="", sid="sid", mode=RecordingMode.MIX)
    assert (caught.value.field, caught.value.endpoint) == ("resourceId", Endpoint.QUERY)


def test_a_user_list_call_asks_for_hosts_only_when_told() -> None:
    assert user_list_call(PATHS, ROOM, hosts_only=True).params == {"hosts_only": "true"}
    assert user_list_call(PATHS, ROOM, hosts_only=False).params is None
