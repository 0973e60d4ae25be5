"""Request validation: Agora answers 400 with code 2 and a reason naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.sandbox import Agora, individual_request, mix_request, web_request


def _storage(**changes: Any) -> dict[str, Any]:
    storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "ak", "secretKey": "sk"}
    storage.update(changes)
    return {k: v for k, v in storage.items() if v is not None}


def _recording(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"channelType": 0}
    config.update(changes)
    return config


BAD_STARTS: list[tuple[str, dict[str, Any], str]] = [
    ("individual", individual_request(recordingConfig=_recording()), "subscribeUidGroup"),
    ("mix", mix_request(recordingFileConfig={"avFileType": ["mp4"]}), "avFileType"),
    ("mix", mix_request(recordingConfig=_recording(maxIdleTime=4)), "maxIdleTime"),
    ("mix", mix_request(recordingConfig=_recording(maxIdleTime=2_592_001)), "maxIdleTime"),
    ("mix", mix_request(recordingConfig={}), "channelType"),
    ("mix", mix_request(storageConfig=_storage(fileNamePrefix=["a_b"])), "fileNamePrefix"),
    ("mix", mix_request(storageConfig=_storage(fileNamePrefix=["a" * 129])), "fileNamePrefix"),
    ("mix", mix_request(storageConfig=_storage(secretKey=None)), "secretKey"),
    ("mix", mix_request(storageConfig=_storage(vendor=4)), "vendor"),
    ("mix", mix_request(storageConfig=_storage(region=17)), "region"),
    ("mix", mix_request(storageConfig=_storage(vendor=11)), "extensionParams"),
    ("mix", mix_request(storageConfig=_storage(vendor=5, stsToken="t")), "stsToken"),
    ("mix", {k: v for k, v in mix_request().items() if k != "storageConfig"}, "storageConfig"),
    (
        "mix",
        {k: v for k, v in mix_request().items() if k != "recordingFileConfig"},
        "recordingFileConfig",
    ),
    ("mix", mix_request(recordingConfig=_recording(subscribeUidGroup=0)), "subscribeUidGroup"),
    ("mix", mix_request(recordingConfig=_recording(maxIdletime=30)), "maxIdletime"),
    (
        "mix",
        mix_request(
            recordingConfig=_recording(subscribeAudioUids=["1"], unsubscribeAudioUids=["2"])
        ),
        "unsubscribeAudioUids",
    ),
    (
        "mix",
        mix_request(recordingConfig=_recording(subscribeAudioUids=["01"])),
        "subscribeAudioUids",
    ),
    (
        "mix",
        mix_request(recordingConfig=_recording(streamTypes=1, subscribeAudioUids=["1"])),
        "subscribeAudioUids",
    ),
    (
        "mix",
        mix_request(recordingConfig=_recording(transcodingConfig={"width": 1920, "height": 1200})),
        "width",
    ),
    (
        "mix",
        mix_request(recordingConfig=_recording(transcodingConfig={"mixedVideoLayout": 3})),
        "layoutConfig",
    ),
    ("mix", mix_request(recordingConfig=_recording(decryptionMode=1)), "secret"),
    (
        "individual",
        individual_request(recordingConfig=_recording(subscribeUidGroup=0, transcodingConfig={})),
        "transcodingConfig",
    ),
    ("mix", mix_request(snapshotConfig={"fileType": ["jpg"]}), "snapshotConfig"),
    ("mix", mix_request(extensionServiceConfig={}), "extensionServiceConfig"),
    (
        "web",
        {k: v for k, v in web_request().items() if k != "extensionServiceConfig"},
        "extensionServiceConfig",
    ),
    ("web", web_request(recordingConfig=_recording()), "recordingConfig"),
    (
        "web",
        web_request(
            extensionServiceConfig={
                "extensionServices": [
                    {
                        "serviceName": "web_recorder_service",
                        "serviceParam": {
                            "url": "https://x",
                            "audioProfile": 0,
                            "videoWidth": 1280,
                            "videoHeight": 720,
                            "maxRecordingHour": 721,
                        },
                    }
                ]
            }
        ),
        "maxRecordingHour",
    ),
]


@pytest.mark.parametrize(("mode", "request_body", "field"), BAD_STARTS)
async def test_invalid_start_answers_code_2_naming_the_field(
    agora: Agora, mode: str, request_body: dict[str, Any], field: str
) -> None:
    acquired = await agora.acquire(scene=1 if mode == "web" else 0)
    response = await agora.start(acquired.json()["resourceId"], mode, request_body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 2
    assert field in response.json()["reason"]


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("0", "[1, 4294967295]"),
        ("4294967296", "[1, 4294967295]"),
        ("007", "decimal"),
        (42, "string"),
        ("abc", "decimal"),
    ],
)
async def test_acquire_refuses_a_uid_outside_agoras_rules(
    agora: Agora, uid: object, problem: str
) -> None:
    response = await agora.client.post(
        f"{agora.base}/acquire", json={"cname": "room1", "uid": uid, "clientRequest": {}}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 2
    assert "uid" in response.json()["reason"]
    assert problem in response.json()["reason"]


@pytest.mark.parametrize("cname", ["room/1", "a" * 64, "ümlaut", ""])
async def test_acquire_refuses_an_invalid_channel_name(agora: Agora, cname: str) -> None:
    response = await agora.acquire(cname=cname)
    assert response.status_code == 400
    assert response.json()["code"] in (2, 401)


async def test_acquire_names_invalid_channel_name_with_code_401(agora: Agora) -> None:
    response = await agora.acquire(cname="room/1")
    assert response.json() == {"code": 401, "reason": "invalid_channel_name"}


async def test_channel_name_with_agoras_symbols_is_accepted(agora: Agora) -> None:
    response = await agora.acquire(cname="Room 1!#$%&()+-:;<=.>?@[]^_{}|~,")
    assert response.status_code == 200


@pytest.mark.parametrize("hours", [0, 721])
async def test_acquire_refuses_resource_expired_hour_outside_1_to_720(
    agora: Agora, hours: int
) -> None:
    response = await agora.acquire(resourceExpiredHour=hours)
    assert response.status_code == 400
    assert "resourceExpiredHour" in response.json()["reason"]


async def test_web_cname_may_be_longer_than_an_rtc_channel_name(agora: Agora) -> None:
    response = await agora.acquire(cname="x" * 200, scene=1)
    assert response.status_code == 200


async def test_web_mode_needs_a_resource_acquired_with_scene_1(agora: Agora) -> None:
    acquired = await agora.acquire(scene=0)
    response = await agora.start(acquired.json()["resourceId"], "web", web_request())
    assert response.status_code == 400
    assert "scene" in response.json()["reason"]


async def test_start_must_repeat_the_start_parameter_given_at_acquire(agora: Agora) -> None:
    acquired = await agora.acquire(startParameter=mix_request())
    changed = mix_request(recordingConfig=_recording(maxIdleTime=60))
    response = await agora.start(acquired.json()["resourceId"], "mix", changed)
    assert response.status_code == 400
    assert "startParameter" in response.json()["reason"]


async def test_start_parameter_identical_to_start_is_accepted(agora: Agora) -> None:
    acquired = await agora.acquire(startParameter=mix_request())
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    assert response.status_code == 200


async def test_s3_compatible_storage_with_endpoint_is_accepted(agora: Agora) -> None:
    storage = _storage(vendor=11, extensionParams={"endpoint": "https://s3.example.com"})
    await agora.begin("mix", mix_request(storageConfig=storage))


async def test_update_layout_is_refused_outside_mix_mode(agora: Agora) -> None:
    rec = await agora.begin("individual")
    response = await agora.update(rec, "updateLayout", {"mixedVideoLayout": 1})
    assert response.status_code == 400
    assert "mix" in response.json()["reason"]


async def test_update_layout_checks_the_layout(agora: Agora) -> None:
    rec = await agora.begin("mix")
    response = await agora.update(rec, "updateLayout", {"backgroundColor": "red"})
    assert response.status_code == 400
    assert "backgroundColor" in response.json()["reason"]


async def test_update_refuses_web_settings_in_mix_mode(agora: Agora) -> None:
    rec = await agora.begin("mix")
    response = await agora.update(rec, "update", {"webRecordingConfig": {"onhold": True}})
    assert response.status_code == 400
    assert "webRecordingConfig" in response.json()["reason"]


async def test_stop_with_another_uid_than_the_recording_answers_code_2(agora: Agora) -> None:
    rec = await agora.begin("mix")
    rec.uid = "1"
    response = await agora.stop(rec)
    assert (response.status_code, response.json()["code"]) == (400, 2)
