"""Bad input is refused before any request leaves: a clear error naming the field, no call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from tests.support.agora import builders
from tests.support.agora.harness import RECORDER, ROOM, Harness
from worker.agora import AgoraClient, AgoraValidationError, Endpoint
from worker.agora.models import (
    AcquireClientRequest,
    AudioUidList,
    RecordingConfig,
    RecordingMode,
    Scene,
    SnapshotConfig,
    StorageConfig,
    StreamSubscribe,
    UpdateClientRequest,
)

IND, MIX, WEB = RecordingMode.INDIVIDUAL, RecordingMode.MIX, RecordingMode.WEB
RID = "resource-id-0123456789"
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"

Call = Callable[[AgoraClient], Awaitable[object]]


def unchecked_storage(**changes: object) -> StorageConfig:
    """A storage config built without validation, as a careless caller might."""
    return StorageConfig.model_construct(**{**dict(builders.storage()), **changes})


def start(mode: RecordingMode, request: object, **changes: object) -> Call:
    arguments: dict[str, object] = {
        "resource_id": RID,
        "cname": ROOM,
        "uid": RECORDER,
        "mode": mode,
        "client_request": request,
        **changes,
    }
    return lambda agora: agora.start(**arguments)  # type: ignore[arg-type]


CASES: list[tuple[str, Call, str]] = [
    ("uid-zero", lambda a: a.acquire(cname=ROOM, uid=0, mode=MIX), "uid"),
    ("uid-leading-zero", lambda a: a.acquire(cname=ROOM, uid="042", mode=MIX), "uid"),
    ("uid-too-big", lambda a: a.acquire(cname=ROOM, uid=2**32, mode=MIX), "uid"),
    ("uid-text", lambda a: a.acquire(cname=ROOM, uid="alice", mode=MIX), "uid"),
    ("cname-slash", lambda a: a.acquire(cname="room/1", uid=RECORDER, mode=MIX), "cname"),
    ("cname-64-bytes", lambda a: a.acquire(cname="r" * 64, uid=RECORDER, mode=IND), "cname"),
    ("cname-empty", lambda a: a.acquire(cname="", uid=RECORDER, mode=WEB), "cname"),
    (
        "expired-hour",
        lambda a: a.acquire(
            cname=ROOM,
            uid=RECORDER,
            mode=MIX,
            client_request=AcquireClientRequest.model_construct(resource_expired_hour=721),
        ),
        "clientRequest.resourceExpiredHour",
    ),
    (
        "web-scene",
        lambda a: a.acquire(
            cname=ROOM,
            uid=RECORDER,
            mode=WEB,
            client_request=AcquireClientRequest(scene=Scene.REAL_TIME),
        ),
        "clientRequest.scene",
    ),
    (
        "start-parameter-mode",
        lambda a: a.acquire(
            cname=ROOM,
            uid=RECORDER,
            mode=IND,
            client_request=AcquireClientRequest(start_parameter=builders.mix_start()),
        ),
        "clientRequest.startParameter.recordingConfig.subscribeUidGroup",
    ),
    (
        "prefix-element",
        start(MIX, builders.mix_start(storage_config=unchecked_storage(file_name_prefix=["a-b"]))),
        "clientRequest.storageConfig.fileNamePrefix",
    ),
    (
        "prefix-length",
        start(
            MIX,
            builders.mix_start(storage_config=unchecked_storage(file_name_prefix=["a" * 129])),
        ),
        "clientRequest.storageConfig.fileNamePrefix",
    ),
    (
        "storage-region",
        start(MIX, builders.mix_start(storage_config=unchecked_storage(region=99))),
        "clientRequest.storageConfig.region",
    ),
    (
        "max-idle-time",
        start(
            MIX,
            builders.mix_start(recording_config=RecordingConfig.model_construct(max_idle_time=4)),
        ),
        "clientRequest.recordingConfig.maxIdleTime",
    ),
    (
        "individual-uid-group",
        start(
            IND,
            builders.individual_start().model_copy(update={"recording_config": RecordingConfig()}),
        ),
        "clientRequest.recordingConfig.subscribeUidGroup",
    ),
    (
        "web-token",
        start(WEB, builders.web_start().model_copy(update={"token": SecretStr("007x")})),
        "clientRequest.token",
    ),
    (
        "mix-snapshot",
        start(MIX, builders.mix_start(snapshot_config=SnapshotConfig())),
        "clientRequest.snapshotConfig",
    ),
    ("resource-id-empty", start(MIX, builders.mix_start(), resource_id=""), "resourceId"),
    ("resource-id-slash", start(MIX, builders.mix_start(), resource_id="a/b"), "resourceId"),
    (
        "query-sid",
        lambda a: a.query(resource_id=RID, sid="../admin", mode=MIX),
        "sid",
    ),
    (
        "update-web-subscribe",
        lambda a: a.update(
            resource_id=RID,
            sid=SID,
            cname=ROOM,
            uid=RECORDER,
            mode=WEB,
            client_request=UpdateClientRequest(
                stream_subscribe=StreamSubscribe(
                    audio_uid_list=AudioUidList(subscribe_audio_uids=["1"])
                )
            ),
        ),
        "clientRequest.streamSubscribe",
    ),
    (
        "stop-cname",
        lambda a: a.stop(resource_id=RID, sid=SID, cname="a\nb", uid=RECORDER, mode=MIX),
        "cname",
    ),
    ("user-list-name", lambda a: a.channel_users("x" * 70), "channelName"),
]


@pytest.mark.parametrize(("call", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_names_its_field_and_sends_nothing(
    harness: Harness, agora: AgoraClient, call: Call, field: str
) -> None:
    with pytest.raises(AgoraValidationError) as caught:
        await call(agora)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert await harness.calls() == []


async def test_validation_errors_are_value_errors_of_their_endpoint(agora: AgoraClient) -> None:
    with pytest.raises(ValueError, match="uid") as caught:
        await agora.acquire(cname=ROOM, uid=0, mode=MIX)
    assert isinstance(caught.value, AgoraValidationError)
    assert caught.value.endpoint is Endpoint.ACQUIRE


async def test_a_refused_storage_config_never_shows_its_keys(agora: AgoraClient) -> None:
    call = start(MIX, builders.mix_start(storage_config=unchecked_storage(bucket="")))
    with pytest.raises(AgoraValidationError) as caught:
        await call(agora)
    text = f"{caught.value} {caught.value!r} {caught.value.problem}"
    assert [s for s in (builders.ACCESS_KEY, builders.SECRET_KEY) if s in text] == []
