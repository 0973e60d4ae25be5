"""A client built from the process settings uses their App ID, credentials and URLs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.worker.agora.conftest import (
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
