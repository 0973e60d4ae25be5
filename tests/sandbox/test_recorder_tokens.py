"""With an app certificate configured, a recorder with a bad or expired token dies (404)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sandbox.config import ManualClock, SandboxConfig
from sandbox.tokens import build_rtc_token
from tests.support.sandbox import CERTIFICATE, RECORDER_UID, Agora, mix_request


@pytest.fixture
def config(make_config: Callable[..., SandboxConfig]) -> SandboxConfig:
    """Tokens are checked."""
    return make_config(app_certificate=CERTIFICATE)


def _token(
    config: SandboxConfig,
    clock: ManualClock,
    *,
    certificate: str = CERTIFICATE,
    channel: str = "room1",
    uid: str = RECORDER_UID,
    expire_s: int = 3600,
    issued_ago_s: int = 0,
) -> str:
    return build_rtc_token(
        app_id=config.app_id,
        certificate=certificate,
        channel=channel,
        uid=uid,
        expire_s=expire_s,
        issue_ts=int(clock.time()) - issued_ago_s,
        salt=12345,
    )


async def _begin_with(agora: Agora, token: str | None) -> int:
    request = mix_request() if token is None else mix_request(token=token)
    rec = await agora.begin("mix", request)
    return (await agora.query(rec)).status_code


async def test_recorder_with_a_valid_token_runs(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    assert await _begin_with(agora, _token(config, clock)) == 200


async def test_recorder_with_a_token_from_another_certificate_dies(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    assert await _begin_with(agora, _token(config, clock, certificate="f" * 32)) == 404


async def test_recorder_with_an_expired_token_dies(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    assert await _begin_with(agora, _token(config, clock, expire_s=60, issued_ago_s=61)) == 404


async def test_recorder_with_a_token_for_another_channel_dies(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    assert await _begin_with(agora, _token(config, clock, channel="room2")) == 404


async def test_recorder_without_a_token_dies(agora: Agora) -> None:
    assert await _begin_with(agora, None) == 404


async def test_start_still_answers_200_with_a_sid_for_a_bad_token(agora: Agora) -> None:
    acquired = await agora.acquire()
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request(token="007x"))
    assert response.status_code == 200
    assert len(response.json()["sid"]) == 32


async def test_recorder_is_dropped_when_its_token_expires(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    rec = await agora.begin("mix", mix_request(token=_token(config, clock, expire_s=100)))
    clock.advance(100)
    assert (await agora.query(rec)).status_code == 404


async def test_dead_recorder_never_joins_the_channel(
    agora: Agora, config: SandboxConfig, clock: ManualClock
) -> None:
    await _begin_with(agora, _token(config, clock, certificate="f" * 32))
    url = f"/dev/v1/channel/user/{config.app_id}/room1"
    assert (await agora.client.get(url)).json()["data"] == {"channel_exist": False}
