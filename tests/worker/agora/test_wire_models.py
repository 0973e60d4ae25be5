"""Request models write Agora's exact JSON; secrets stay masked outside the wire."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from tests.support.agora import builders
from worker.agora.classify import Endpoint
from worker.agora.models import (
    AcquireClientRequest,
    AudioUidList,
    ExtensionServiceConfig,
    LayoutRegion,
    RecordingConfig,
    RecordingFileConfig,
    SnapshotConfig,
    StorageConfig,
    StorageVendor,
    StreamSubscribe,
    StreamTypes,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    UserBackground,
    WebRecordingUpdate,
)
from worker.agora.models.requests import StartBody, StopBody, StopClientRequest, UpdateBody
from worker.agora.wire import encode_body, validation_error, wire_bytes


def wire(request: object, model: type = StartBody) -> dict[str, object]:
    body = encode_body(Endpoint.START, model, "room", 7, request)  # type: ignore[arg-type]
    parsed: dict[str, object] = orjson.loads(wire_bytes(body))
    return parsed


def test_the_envelope_carries_cname_uid_as_string_and_client_request() -> None:
    body = wire(builders.individual_start())
    assert (body["cname"], body["uid"], sorted(body)) == (
        "room",
        "7",
        ["clientRequest", "cname", "uid"],
    )


def test_storage_config_is_written_in_camel_case_with_keys_in_clear() -> None:
    storage = wire(builders.individual_start())["clientRequest"]["storageConfig"]  # type: ignore[index]
    assert storage == {
        "vendor": 1,
        "region": 0,
        "bucket": "recordings",
        "accessKey": builders.ACCESS_KEY,
        "secretKey": builders.SECRET_KEY,
        "fileNamePrefix": ["autorec", "room1"],
    }


def test_layout_regions_keep_agoras_snake_case_keys() -> None:
    config = wire(builders.mix_start())["clientRequest"]["recordingConfig"]  # type: ignore[index]
    region = config["transcodingConfig"]["layoutConfig"][1]
    assert region == {
        "uid": "42",
        "x_axis": 0.5,
        "y_axis": 0.0,
        "width": 0.5,
        "height": 1.0,
        "alpha": 0.9,
        "render_mode": 1,
    }


def test_background_config_keeps_image_url_in_snake_case() -> None:
    layout = UpdateLayoutClientRequest(
        background_config=[UserBackground(uid="9", image_url="https://cdn.example.com/bg.jpg")]
    )
    dumped = layout.model_dump(mode="json", exclude_none=True)
    assert dumped == {
        "backgroundConfig": [{"uid": "9", "image_url": "https://cdn.example.com/bg.jpg"}]
    }


def test_stop_writes_async_stop_in_snake_case() -> None:
    body = wire(StopClientRequest(async_stop=True), StopBody)
    assert body["clientRequest"] == {"async_stop": True}


def test_unset_optional_fields_are_left_out() -> None:
    client_request = wire(builders.web_start())["clientRequest"]
    assert set(client_request) == {  # type: ignore[arg-type]
        "storageConfig",
        "recordingFileConfig",
        "extensionServiceConfig",
    }


def test_web_services_are_written_with_their_service_names() -> None:
    config = wire(builders.web_start(rtmp_url="rtmps://live.example.com/app/key"))
    services = config["clientRequest"]["extensionServiceConfig"]["extensionServices"]  # type: ignore[index]
    assert [s["serviceName"] for s in services] == ["web_recorder_service", "rtmp_publish_service"]
    assert services[1]["serviceParam"] == {
        "outputs": [{"rtmpUrl": "rtmps://live.example.com/app/key"}]
    }


def test_mp4_is_always_written_after_hls() -> None:
    config = RecordingFileConfig.model_validate({"avFileType": ["mp4", "hls"]})
    assert config.model_dump(mode="json") == {"avFileType": ["hls", "mp4"]}


def test_update_writes_each_uid_list_under_its_own_object() -> None:
    update = UpdateClientRequest(
        stream_subscribe=StreamSubscribe(
            audio_uid_list=AudioUidList(subscribe_audio_uids=["1", "2"])
        )
    )
    body = wire(update, UpdateBody)
    assert body["clientRequest"] == {
        "streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["1", "2"]}}
    }


def test_integer_uids_are_written_as_decimal_strings() -> None:
    region = LayoutRegion.model_validate(
        {"uid": 42, "x_axis": 0, "y_axis": 0, "width": 1, "height": 1}
    )
    assert region.uid == "42"


def test_models_are_read_from_agoras_own_json_names() -> None:
    config = RecordingConfig.model_validate(
        {"channelType": 1, "maxIdleTime": 300, "streamTypes": 0}
    )
    assert (config.max_idle_time, config.stream_types) == (300, StreamTypes.AUDIO)


def test_request_models_are_immutable() -> None:
    request = builders.individual_start()
    with pytest.raises(ValidationError, match="frozen"):
        request.token = SecretStr("other")  # type: ignore[misc]


def test_unknown_request_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="maxIdleTme"):
        RecordingConfig.model_validate({"maxIdleTme": 30})


# --- secrets -------------------------------------------------------------------------------


def test_repr_of_a_request_hides_token_and_storage_keys() -> None:
    text = repr(builders.individual_start(token="007secret-token"))
    assert [
        s for s in (builders.ACCESS_KEY, builders.SECRET_KEY, "007secret-token") if s in text
    ] == []


def test_an_ordinary_json_dump_masks_every_secret() -> None:
    storage = builders.storage(sts_token=SecretStr(builders.STS_TOKEN), sts_expiration=1)
    dumped = storage.model_dump_json()
    assert [
        s for s in (builders.ACCESS_KEY, builders.SECRET_KEY, builders.STS_TOKEN) if s in dumped
    ] == []


def test_only_the_wire_encoding_reveals_secrets() -> None:
    encoded = wire_bytes(
        encode_body(Endpoint.START, StartBody, "r", 7, builders.individual_start())
    )
    assert builders.SECRET_KEY.encode() in encoded


# --- field rules -------------------------------------------------------------------------------

S3 = {
    "vendor": 1,
    "region": 0,
    "bucket": "recordings",
    "accessKey": builders.ACCESS_KEY,
    "secretKey": builders.SECRET_KEY,
}
CANVAS = {"width": 640, "height": 360, "fps": 15, "bitrate": 500}
REGION = {"x_axis": 0, "y_axis": 0, "width": 1, "height": 1}


def rejection(model: type[BaseModel], wire_fields: dict[str, object]) -> str:
    """The field path the client names when `model` refuses these wire fields."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(wire_fields)
    return validation_error(Endpoint.START, caught.value).field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"region": 17}, "region"),
        ({"vendor": 5, "region": 3}, "region"),
        ({"vendor": 4}, "vendor"),
        ({"fileNamePrefix": ["a_b"]}, "fileNamePrefix"),
        ({"fileNamePrefix": ["a/b"]}, "fileNamePrefix"),
        ({"fileNamePrefix": ["x" * 64, "y" * 64]}, "fileNamePrefix"),
        ({"fileNamePrefix": []}, "fileNamePrefix"),
        ({"vendor": 6, "stsToken": "t"}, "stsToken"),
        ({"vendor": 11}, "extensionParams.endpoint"),
        ({"vendor": 2, "extensionParams": {"sse": "kms"}}, "extensionParams.sse"),
        ({"vendor": 3, "extensionParams": {"tag": "x"}}, "extensionParams.tag"),
        ({"extensionParams": {"endpoint": "https://s3.example.com"}}, "extensionParams.endpoint"),
        ({"extensionParams": {"sse": "des"}}, "extensionParams.sse"),
        ({"accessKey": ""}, "accessKey"),
        ({"bucket": None}, "bucket"),
    ],
)
def test_storage_rules_name_the_offending_field(fields: dict[str, object], field: str) -> None:
    assert rejection(StorageConfig, {**S3, **fields}) == field


def test_a_missing_storage_key_is_named() -> None:
    fields = {key: value for key, value in S3.items() if key != "secretKey"}
    assert rejection(StorageConfig, fields) == "secretKey"


def test_a_prefix_of_exactly_128_characters_is_accepted() -> None:
    storage = builders.storage(file_name_prefix=["a" * 63, "b" * 64])
    assert len("/".join(storage.file_name_prefix or [])) == 128


@pytest.mark.parametrize(
    ("vendor", "region", "extra"),
    [
        (
            1,
            25,
            {"stsToken": "t", "stsExpiration": 1, "extensionParams": {"sse": "aes256", "tag": "a"}},
        ),
        (2, 27, {"stsToken": "t", "extensionParams": {"tag": "a"}}),
        (3, 19, {"stsToken": "t"}),
        (5, 0, {}),
        (6, 0, {}),
        (7, 15, {}),
        (8, 7, {}),
        (11, 0, {"extensionParams": {"endpoint": "https://s3.example.com"}}),
    ],
)
def test_every_listed_vendor_is_accepted_with_its_own_options(
    vendor: int, region: int, extra: dict[str, object]
) -> None:
    storage = StorageConfig.model_validate({**S3, "vendor": vendor, "region": region, **extra})
    assert (int(storage.vendor), storage.region) == (vendor, region)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"maxIdleTime": 4}, "maxIdleTime"),
        ({"maxIdleTime": 2_592_001}, "maxIdleTime"),
        ({"channelType": 2}, "channelType"),
        ({"subscribeAudioUids": ["1"], "unsubscribeAudioUids": ["2"]}, "unsubscribeAudioUids"),
        ({"streamTypes": 1, "subscribeAudioUids": ["1"]}, "subscribeAudioUids"),
        ({"streamTypes": 0, "unsubscribeVideoUids": ["1"]}, "unsubscribeVideoUids"),
        ({"unsubscribeVideoUids": ["#allstream#"]}, "unsubscribeVideoUids"),
        ({"subscribeVideoUids": [str(n) for n in range(1, 34)]}, "subscribeVideoUids"),
        ({"subscribeAudioUids": ["0"]}, "subscribeAudioUids[0]"),
        ({"subscribeAudioUids": ["1", "x"]}, "subscribeAudioUids[1]"),
        ({"subscribeUidGroup": 6}, "subscribeUidGroup"),
        ({"decryptionMode": 1}, "secret"),
        ({"decryptionMode": 7, "secret": "k"}, "salt"),
        ({"decryptionMode": 8, "secret": "k", "salt": "c2FsdA=="}, "salt"),
        ({"streamMode": "original"}, "streamMode"),
        (
            {"transcodingConfig": {**CANVAS, "width": 1920, "height": 1920}},
            "transcodingConfig.width",
        ),
        ({"transcodingConfig": {**CANVAS, "fps": 20}}, "transcodingConfig.fps"),
        ({"transcodingConfig": {**CANVAS, "bitrate": 6501}}, "transcodingConfig.bitrate"),
        (
            {"transcodingConfig": {"width": 640, "height": 360, "fps": 15}},
            "transcodingConfig.bitrate",
        ),
        (
            {"transcodingConfig": {**CANVAS, "mixedVideoLayout": 3}},
            "transcodingConfig.layoutConfig",
        ),
        (
            {"transcodingConfig": {**CANVAS, "mixedVideoLayout": 2}},
            "transcodingConfig.maxResolutionUid",
        ),
        (
            {"transcodingConfig": {**CANVAS, "layoutConfig": [REGION]}},
            "transcodingConfig.layoutConfig",
        ),
        (
            {"transcodingConfig": {**CANVAS, "mixedVideoLayout": 3, "layoutConfig": [REGION] * 18}},
            "transcodingConfig.layoutConfig",
        ),
        (
            {
                "transcodingConfig": {
                    **CANVAS,
                    "mixedVideoLayout": 3,
                    "layoutConfig": [{**REGION, "x_axis": 1.5}],
                }
            },
            "transcodingConfig.layoutConfig[0].x_axis",
        ),
        (
            {"transcodingConfig": {**CANVAS, "backgroundColor": "red"}},
            "transcodingConfig.backgroundColor",
        ),
        (
            {
                "transcodingConfig": {
                    **CANVAS,
                    "backgroundConfig": [
                        {"uid": "1", "image_url": "http://insecure.example.com/a.jpg"}
                    ],
                }
            },
            "transcodingConfig.backgroundConfig[0].image_url",
        ),
    ],
)
def test_recording_rules_name_the_offending_field(fields: dict[str, object], field: str) -> None:
    assert rejection(RecordingConfig, fields) == field


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        (RecordingFileConfig, {"avFileType": ["mp4"]}, "avFileType"),
        (RecordingFileConfig, {"avFileType": ["hls", "hls"]}, "avFileType"),
        (RecordingFileConfig, {"avFileType": ["flv"]}, "avFileType[0]"),
        (SnapshotConfig, {"captureInterval": 4}, "captureInterval"),
        (SnapshotConfig, {"fileType": ["png"]}, "fileType[0]"),
        (UpdateClientRequest, {}, "clientRequest"),
        (StreamSubscribe, {}, "audioUidList"),
        (AudioUidList, {}, "subscribeAudioUids"),
        (UpdateLayoutClientRequest, {"mixedVideoLayout": 4}, "mixedVideoLayout"),
        (AcquireClientRequest, {"resourceExpiredHour": 0}, "resourceExpiredHour"),
        (AcquireClientRequest, {"resourceExpiredHour": 721}, "resourceExpiredHour"),
        (AcquireClientRequest, {"region": "US"}, "region"),
        (StopClientRequest, {"asyncStop": True}, "asyncStop"),
    ],
)
def test_other_request_rules_name_the_offending_field(
    model: type[BaseModel], fields: dict[str, object], field: str
) -> None:
    assert rejection(model, fields) == field


WEB_PARAMS = {
    "url": "https://example.com",
    "audioProfile": 0,
    "videoWidth": 1280,
    "videoHeight": 720,
    "maxRecordingHour": 1,
}


@pytest.mark.parametrize(
    ("services", "field"),
    [
        ([], "extensionServices"),
        (
            [
                {
                    "serviceName": "rtmp_publish_service",
                    "serviceParam": {"outputs": [{"rtmpUrl": "rtmp://a/b"}]},
                }
            ],
            "extensionServices",
        ),
        (
            [
                {
                    "serviceName": "web_recorder_service",
                    "serviceParam": {**WEB_PARAMS, "maxRecordingHour": 721},
                }
            ],
            "extensionServices[0].serviceParam.maxRecordingHour",
        ),
        (
            [
                {
                    "serviceName": "web_recorder_service",
                    "serviceParam": {**WEB_PARAMS, "videoWidth": 1920, "videoHeight": 1920},
                }
            ],
            "extensionServices[0].serviceParam.videoWidth",
        ),
        (
            [
                {
                    "serviceName": "web_recorder_service",
                    "serviceParam": {**WEB_PARAMS, "url": "ftp://x"},
                }
            ],
            "extensionServices[0].serviceParam.url",
        ),
        (
            [
                {"serviceName": "web_recorder_service", "serviceParam": WEB_PARAMS},
                {
                    "serviceName": "rtmp_publish_service",
                    "serviceParam": {"outputs": [{"rtmpUrl": "http://a/b"}]},
                },
            ],
            "extensionServices[1].serviceParam.outputs[0].rtmpUrl",
        ),
        (
            [
                {"serviceName": "web_recorder_service", "serviceParam": WEB_PARAMS},
                {"serviceName": "web_recorder_service", "serviceParam": WEB_PARAMS},
            ],
            "extensionServices",
        ),
        ([{"serviceName": "cloud_transcoder", "serviceParam": {}}], "extensionServices[0]"),
    ],
)
def test_web_service_rules_name_the_offending_field(
    services: list[dict[str, object]], field: str
) -> None:
    assert rejection(ExtensionServiceConfig, {"extensionServices": services}) == field


def test_decryption_mode_seven_accepts_a_32_byte_base64_salt() -> None:
    salt = SecretStr("A" * 43 + "=")
    config = RecordingConfig(decryption_mode=7, secret=SecretStr("key"), salt=salt)
    assert config.salt == salt


def test_web_recording_update_is_written_as_onhold() -> None:
    update = UpdateClientRequest(web_recording_config=WebRecordingUpdate(onhold=True))
    assert update.model_dump(mode="json", exclude_none=True) == {
        "webRecordingConfig": {"onhold": True}
    }


def test_pydantic_errors_never_echo_a_secret_value() -> None:
    with pytest.raises(ValidationError) as caught:
        builders.storage(vendor=StorageVendor.GOOGLE_CLOUD, sts_token=SecretStr(builders.STS_TOKEN))
    assert builders.STS_TOKEN not in str(caught.value)
    assert builders.SECRET_KEY not in str(caught.value)
