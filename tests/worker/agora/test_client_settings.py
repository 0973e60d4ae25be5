"""A client built from the process settings uses their App ID, credentials and URLs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.support.agora.harness import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    SANDBOX_URL,
    Harness,
    fast_retry,
)
from worker.agora import AgoraClient
from worker.settings import ConfigError, Settings


def settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "agora_app_id": APP_ID,
        "agora_customer_id": CUSTOMER_ID,
        "agora_customer_secret": SecretStr(CUSTOMER_SECRET),
        "agora_api_urls": f"http://unreachable.invalid,{SANDBOX_URL}",
        "autorec_agora_timeout_s": 3,
    }
    values.update(changes)
    return Settings.load(**values)


async def test_a_client_from_settings_talks_to_agora(harness: Harness) -> None:
    agora = AgoraClient.from_settings(
        harness.http, settings(agora_api_urls=SANDBOX_URL), retry=fast_retry(harness.pauses)
    )
    assert (await agora.channel_users("room-1")).channel_exist is False


def test_a_client_from_settings_tries_the_urls_in_their_order(harness: Harness) -> None:
    agora = AgoraClient.from_settings(harness.http, settings())
    assert agora.preferred_base_url == "http://unreachable.invalid"


def test_settings_without_agora_credentials_are_refused_by_name(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="AGORA_CUSTOMER_SECRET"):
        AgoraClient.from_settings(harness.http, settings(agora_customer_secret=None))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_id": "abc/def"}, "app_id"),
        ({"customer_id": ""}, "customer_id"),
        ({"customer_secret": SecretStr("")}, "customer_secret"),
        ({"base_urls": []}, "base_urls"),
        ({"base_urls": ["ftp://agora.example.com"]}, "http"),
        ({"timeout_s": 0}, "timeouts"),
    ],
)
def test_a_client_refuses_a_broken_configuration(
    harness: Harness, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        harness.make_client(**changes)


def test_a_refused_configuration_never_shows_the_secret(harness: Harness) -> None:
    with pytest.raises(ValueError, match="base URL") as caught:
        harness.make_client(base_urls=["agora.example.com"])
    assert CUSTOMER_SECRET not in str(caught.value)
