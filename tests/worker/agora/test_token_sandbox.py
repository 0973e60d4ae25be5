"""Recorder tokens from `build_rtc_token` pass the sandbox's independent verifier."""

from __future__ import annotations

import time

import pytest

from sandbox.config import SandboxConfig
from sandbox.models import Phase
from sandbox.tokens import build_rtc_token as sandbox_build_rtc_token
from tests.support.agora import builders
from tests.support.agora.harness import (
    APP_CERT,
    APP_ID,
    RECORDER,
    ROOM,
    Harness,
    sandbox_config_with,
    start_recording,
)
from worker.agora import AgoraClient, AgoraNotFound, RtcRole, build_rtc_token
from worker.agora.models import RecordingMode

MIX = RecordingMode.MIX
OTHER_CERT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """A sandbox that checks recorder tokens against the app certificate."""
    return sandbox_config_with(app_certificate=APP_CERT)


def recorder_token(
    *,
    certificate: str = APP_CERT,
    channel: str = ROOM,
    uid: int = RECORDER,
    issue_ts: int | None = None,
) -> str:
    return build_rtc_token(
        APP_ID, certificate, channel, uid, RtcRole.SUBSCRIBER, 86400, 86400, issue_ts=issue_ts
    )


async def query_status(agora: AgoraClient, token: str | None) -> int | None:
    started = await start_recording(agora, MIX, builders.mix_start(token=token))
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    return query.server_response.status


async def test_a_recorder_with_a_good_token_records(harness: Harness, agora: AgoraClient) -> None:
    assert await query_status(agora, recorder_token()) == 1
    assert [t.phase for t in harness.world.tasks.values()] == [Phase.RUNNING]


async def test_a_wildcard_uid_token_lets_any_recorder_uid_join(agora: AgoraClient) -> None:
    assert await query_status(agora, recorder_token(uid=0)) == 1


@pytest.mark.parametrize(
    "token",
    [
        recorder_token(certificate=OTHER_CERT),
        recorder_token(channel="another-room"),
        recorder_token(uid=RECORDER + 1),
        recorder_token(issue_ts=int(time.time()) - 2 * 86400),
        None,
    ],
    ids=["wrong-certificate", "other-channel", "other-uid", "expired", "missing"],
)
async def test_a_recorder_with_a_bad_token_dies_and_query_finds_nothing(
    agora: AgoraClient, token: str | None
) -> None:
    with pytest.raises(AgoraNotFound):
        await query_status(agora, token)


def test_the_sandbox_builds_the_same_token_independently() -> None:
    ours = build_rtc_token(
        APP_ID,
        APP_CERT,
        ROOM,
        RECORDER,
        RtcRole.SUBSCRIBER,
        3600,
        3600,
        issue_ts=1_700_000_000,
        salt=42,
    )
    theirs = sandbox_build_rtc_token(
        app_id=APP_ID,
        certificate=APP_CERT,
        channel=ROOM,
        uid=RECORDER,
        expire_s=3600,
        issue_ts=1_700_000_000,
        salt=42,
    )
    assert ours == theirs
